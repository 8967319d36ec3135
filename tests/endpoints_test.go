package tests

// Endpoint mode (pm: kernel, `mptcp-pm daemon --endpoints`): the daemon
// keeps the in-kernel path manager's endpoints in line with the interfaces
// while the kernel's own path manager (pm_type=0) runs the connections.
// TestEndpointsKeeperFakeKernel drives the keeper against a fake kernel and
// needs no privilege; the TestIntegrationEndpoints* tests run the daemon on
// the testbed.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/keeper"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// fakeKernel is an in-memory in-kernel path manager for the keeper.
type fakeKernel struct {
	mu       sync.Mutex
	eps      []genl.Endpoint
	nextID   uint8
	commands []string // every mutating call, in order
	refuse   map[netip.Addr]error
}

var _ keeper.Client = (*fakeKernel)(nil)

func (f *fakeKernel) Endpoints() ([]genl.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.eps), nil
}

func (f *fakeKernel) AddEndpoint(ep genl.Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, "add "+ep.Addr.String())
	if err := f.refuse[ep.Addr]; err != nil {
		return err
	}
	f.nextID++
	ep.ID = f.nextID
	f.eps = append(f.eps, ep)
	return nil
}

func (f *fakeKernel) DeleteEndpoint(id uint8, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, fmt.Sprintf("del %d %s", id, addr))
	f.eps = slices.DeleteFunc(f.eps, func(e genl.Endpoint) bool { return e.ID == id })
	return nil
}

func (f *fakeKernel) ChangeEndpoint(id uint8, ch genl.EndpointChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, fmt.Sprintf("change %d", id))
	for i := range f.eps {
		if f.eps[i].ID != id {
			continue
		}
		if ch.Backup != nil {
			f.eps[i].Flags &^= genl.FlagBackup
			if *ch.Backup {
				f.eps[i].Flags |= genl.FlagBackup
			}
		}
		if ch.Fullmesh != nil {
			f.eps[i].Flags &^= genl.FlagFullmesh
			if *ch.Fullmesh {
				f.eps[i].Flags |= genl.FlagFullmesh
			}
		}
	}
	return nil
}

func (f *fakeKernel) SetLimits(u genl.LimitsUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, fmt.Sprintf("limits %d %d", *u.Subflows, *u.AddAddrAccepted))
	return nil
}

// took returns the commands sent since the last call.
func (f *fakeKernel) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.commands
	f.commands = nil
	return c
}

func TestEndpointsKeeperFakeKernel(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	snap := ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 1, Name: "lo", Class: ifmon.ClassLoopback, Up: true, Addrs: []netip.Addr{a("127.0.0.1")}},
		{Index: 2, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{a("10.0.1.2"), a("fd00:1::2")}},
		{Index: 3, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{a("10.0.2.2")}},
		{Index: 4, Name: "veth9", Class: ifmon.ClassVirtual, Up: true, Addrs: []netip.Addr{a("10.9.0.1")}},
	}}
	two := uint32(2)
	cfg := &policy.EndpointConfig{Interfaces: []string{"wlan*", "wwan*"}, Flags: genl.FlagSubflow,
		Backup: []ifmon.Class{ifmon.ClassCellular}, Limits: genl.LimitsUpdate{Subflows: &two, AddAddrAccepted: &two}}
	foreign := genl.Endpoint{ID: 100, Addr: a("10.9.0.1"), Flags: genl.FlagSignal, IfIndex: 4}
	stale := genl.Endpoint{ID: 101, Addr: a("10.0.2.99"), Flags: genl.FlagSubflow, IfIndex: 3}
	f := &fakeKernel{eps: []genl.Endpoint{foreign, stale}, refuse: map[netip.Addr]error{}}
	logs := &lockedLog{}
	changes := make(chan ifmon.Delta, 1)
	k := keeper.NewWith(f, cfg, changes, slog.New(slog.NewTextHandler(logs, nil)))

	// Reconcile alone: the stale endpoint goes, the addresses come, and a
	// second reconcile of the same snapshot sends nothing.
	if err := k.Reconcile(snap); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	want := []string{"del 101 10.0.2.99", "add 10.0.1.2", "add fd00:1::2", "add 10.0.2.2"}
	if got := f.took(); !slices.Equal(got, want) {
		t.Fatalf("first reconcile sent %q, want %q", got, want)
	}
	if err := k.Reconcile(snap); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if got := f.took(); len(got) != 0 {
		t.Fatalf("second reconcile of the same snapshot sent %q, want nothing", got)
	}
	if !slices.Contains(f.eps, foreign) {
		t.Fatalf("foreign endpoint touched: %+v", f.eps)
	}

	// Run: limits once, then one reconcile per Delta; a refusal is logged
	// with the kernel's message and tried again at the next change only.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	waitCommands := func(want ...string) {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			got = append(got, f.took()...)
			if len(got) >= len(want) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond) // nothing more may follow
		got = append(got, f.took()...)
		if !slices.Equal(got, want) {
			t.Fatalf("commands %q, want %q\nlog:\n%s", got, want, logs.String())
		}
	}
	waitCommands("limits 2 2")
	next := snap
	next.Links = slices.Clone(snap.Links)
	next.Links[2].Addrs = []netip.Addr{a("10.0.2.2"), a("10.0.5.2")}
	f.mu.Lock()
	f.refuse[a("10.0.5.2")] = &genl.Error{Op: "add endpoint 10.0.5.2", Message: "test refusal", Err: unix.EINVAL}
	f.mu.Unlock()
	changes <- ifmon.Delta{Old: snap, New: next}
	waitCommands("add 10.0.5.2")
	if !strings.Contains(logs.String(), "kernel=\"test refusal\"") {
		t.Errorf("refusal not logged with the kernel's message:\n%s", logs.String())
	}
	f.mu.Lock()
	delete(f.refuse, a("10.0.5.2"))
	f.mu.Unlock()
	// The next change (wwan0 becomes wifi: no backup) retries the add and
	// changes the flags in place.
	third := next
	third.Links = slices.Clone(next.Links)
	third.Links[2].Class = ifmon.ClassWifi
	changes <- ifmon.Delta{Old: next, New: third}
	waitCommands("change 3", "add 10.0.5.2")
	changes <- ifmon.Delta{Old: third, New: third}
	waitCommands()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := f.took(); len(got) != 0 {
		t.Errorf("stopping sent %q; the endpoints must stay", got)
	}
}

// epJSON is one endpoint of `mptcp-pm -j endpoint show` (as ip -j mptcp
// prints it: one boolean key per flag).
type epJSON struct {
	Address  string `json:"address"`
	ID       int    `json:"id"`
	Signal   bool   `json:"signal"`
	Subflow  bool   `json:"subflow"`
	Backup   bool   `json:"backup"`
	Fullmesh bool   `json:"fullmesh"`
	Dev      string `json:"dev"`
}

// String is "ADDR FLAGS dev DEV".
func (e epJSON) String() string {
	f := []string{e.Address}
	for _, x := range []struct {
		on   bool
		name string
	}{{e.Signal, "signal"}, {e.Subflow, "subflow"}, {e.Backup, "backup"}, {e.Fullmesh, "fullmesh"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, " ") + " dev " + e.Dev
}

// endpointsOf returns the endpoints of ns by address.
func endpointsOf(t *testing.T, ns string) map[string]epJSON {
	t.Helper()
	var eps []epJSON
	out := mustCLI(t, ns, "-j", "endpoint", "show")
	if err := json.Unmarshal([]byte(out), &eps); err != nil {
		t.Fatalf("endpoint show -j in %s: %v: %q", ns, err, out)
	}
	m := make(map[string]epJSON)
	for _, e := range eps {
		m[e.Address] = e
	}
	return m
}

// waitEndpoints waits up to 2 s for the endpoints of ns, without their
// ids, to be exactly want ("ADDR FLAGS dev DEV").
func waitEndpoints(t *testing.T, d *daemonProc, ns, desc string, want ...string) map[string]epJSON {
	t.Helper()
	slices.Sort(want)
	var got []string
	var eps map[string]epJSON
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		eps = endpointsOf(t, ns)
		got = got[:0]
		for _, e := range eps {
			got = append(got, e.String())
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return eps
		}
	}
	t.Fatalf("%s: endpoints of %s within 2 s:\n got %q\nwant %q\ndaemon log:\n%s", desc, ns, got, want, d.log.String())
	return nil
}

// startKeeper runs `mptcp-pm -n ns daemon` in endpoint mode on the
// configuration in dir, with the arguments of startDaemonWith
// (--set-pm-type, --control, --log-level debug) plus args, and returns once
// it logs that it started. startDaemonWith cannot be used: it waits for
// the control socket, which endpoint mode does not serve. The daemon is
// stopped with SIGTERM at cleanup, which must end it cleanly.
func startKeeper(t *testing.T, ns, dir string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, ns: ns, dir: dir, control: filepath.Join(dir, "control.sock"), log: &lockedLog{}, args: args}
	d.cmd = exec.Command(binary, append([]string{"-n", ns, "daemon", "-c", filepath.Join(dir, "config.yaml"),
		"--set-pm-type", "--control", d.control, "--log-level", "debug"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log (%s):\n%s", ns, d.log.String())
		}
	})
	if !d.waitLog("endpoint keeper started", 10*time.Second) {
		t.Fatalf("daemon in %s did not start endpoint mode within 10 s; log:\n%s", ns, d.log.String())
	}
	return d
}

// pmType reads net.mptcp.pm_type of ns.
func pmType(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-n", "net.mptcp.pm_type").CombinedOutput()
	if err != nil {
		t.Fatalf("sysctl net.mptcp.pm_type in %s: %v: %s", ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

const endpointsTestConfig = `pm: kernel
endpoints:
  interfaces: ["wlan*", "wwan*"]
  flags: [subflow]
  backup: [cellular]
  limits: {subflows: 2, add_addr_accepted: 2}
`

// commandLines counts the endpoint commands in the daemon's log.
func commandLines(d *daemonProc) int {
	n := 0
	for _, l := range strings.Split(d.log.String(), "\n") {
		if strings.Contains(l, `msg="endpoint added"`) || strings.Contains(l, `msg="endpoint deleted"`) ||
			strings.Contains(l, `msg="endpoint changed"`) || strings.Contains(l, "refused") {
			n++
		}
	}
	return n
}

func TestIntegrationEndpointsKeeper(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	ns := tb.Client
	if v := pmType(t, ns); v != "0" {
		t.Fatalf("testbed client starts with pm_type %s, want 0", v)
	}
	// A foreign endpoint on an interface outside the allow-list, and a
	// stale one left by an earlier run (its address is gone, its dev is
	// wwan0).
	ip(t, ns, "link", "add", "veth9", "type", "veth", "peer", "name", "veth9p")
	ip(t, ns, "addr", "add", "10.9.0.1/24", "dev", "veth9")
	ip(t, ns, "link", "set", "veth9", "up")
	ip(t, ns, "link", "set", "veth9p", "up")
	ip(t, ns, "mptcp", "endpoint", "add", "10.9.0.1", "dev", "veth9", "signal")
	ip(t, ns, "mptcp", "endpoint", "add", "10.0.2.99", "dev", "wwan0", "subflow")
	foreignID := endpointsOf(t, ns)["10.9.0.1"].ID

	d := startKeeper(t, ns, writeConfig(t, endpointsTestConfig, nil))
	const foreign = "10.9.0.1 signal dev veth9"
	all := []string{"10.0.1.2 subflow dev wlan0", "fd00:1::2 subflow dev wlan0",
		"10.0.2.2 subflow backup dev wwan0", "fd00:2::2 subflow backup dev wwan0", foreign}
	waitEndpoints(t, d, ns, "at start", all...)
	wantLimits(t, ns, 2, 2)
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type is %s after start with --set-pm-type in endpoint mode, want 0", v)
	}
	if !strings.Contains(d.log.String(), "10.0.2.99") || !strings.Contains(d.log.String(), "address gone") {
		t.Errorf("the stale endpoint's deletion is not logged:\n%s", d.log.String())
	}

	// It never fights: with nothing changing, no more commands.
	n := commandLines(d)
	time.Sleep(500 * time.Millisecond)
	if m := commandLines(d); m != n {
		t.Errorf("%d endpoint commands while nothing changed; log:\n%s", m-n, d.log.String())
	}

	// An address goes away: its endpoint goes too.
	ip(t, ns, "addr", "del", "10.0.2.2/24", "dev", "wwan0")
	waitEndpoints(t, d, ns, "10.0.2.2 removed", "10.0.1.2 subflow dev wlan0", "fd00:1::2 subflow dev wlan0",
		"fd00:2::2 subflow backup dev wwan0", foreign)
	// A new address comes: a new endpoint, backup as wwan0 is cellular.
	ip(t, ns, "addr", "add", "10.0.5.2/24", "dev", "wwan0")
	withNew := []string{"10.0.1.2 subflow dev wlan0", "fd00:1::2 subflow dev wlan0",
		"10.0.5.2 subflow backup dev wwan0", "fd00:2::2 subflow backup dev wwan0", foreign}
	waitEndpoints(t, d, ns, "10.0.5.2 added", withNew...)
	// The link goes down: its endpoints go, and come back when it is up.
	ip(t, ns, "link", "set", "wwan0", "down")
	waitEndpoints(t, d, ns, "wwan0 down", "10.0.1.2 subflow dev wlan0", "fd00:1::2 subflow dev wlan0", foreign)
	ip(t, ns, "link", "set", "wwan0", "up")
	eps := waitEndpoints(t, d, ns, "wwan0 up again", withNew...)
	if eps["10.9.0.1"].ID != foreignID {
		t.Errorf("foreign endpoint's id changed from %d to %d: it was replaced", foreignID, eps["10.9.0.1"].ID)
	}

	// SIGTERM: a clean exit that leaves the endpoints.
	d.stop()
	if t.Failed() {
		return
	}
	if !strings.Contains(d.log.String(), "the endpoints stay") {
		t.Errorf("no clean stop in the log:\n%s", d.log.String())
	}
	got := endpointsOf(t, ns)
	if len(got) != len(withNew) {
		t.Errorf("after stop, endpoints %v, want them left as they were (%q)", got, withNew)
	}
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type is %s at the end, want 0", v)
	}
}

// With pm_type=1 and no --set-pm-type, endpoint mode refuses to start and
// says why; --endpoints selects it without pm: kernel in the file, and
// --set-pm-type sets pm_type to 0.
func TestIntegrationEndpointsPMType(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	sysctl(t, ns, "net.mptcp.pm_type", "1")
	dir := writeConfig(t, "endpoints: {limits: {subflows: 1}}\n", nil)
	r := cli(t, ns, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--endpoints")
	if r.code == 0 || !strings.Contains(r.stderr, "net.mptcp.pm_type is 1") || !strings.Contains(r.stderr, "needs the in-kernel path manager (pm_type=0)") {
		t.Fatalf("daemon --endpoints with pm_type=1: exit %d, stderr %q; want a refusal naming pm_type=0", r.code, r.stderr)
	}
	d := startKeeper(t, ns, dir, "--endpoints")
	if v := pmType(t, ns); v != "0" {
		t.Errorf("--set-pm-type in endpoint mode left pm_type %s, want 0", v)
	}
	if !d.waitLog("limits set", 2*time.Second) {
		t.Errorf("limits not set; log:\n%s", d.log.String())
	}
	if _, err := os.Stat(d.control); err == nil {
		t.Errorf("endpoint mode serves a control socket at %s", d.control)
	}
}

// A connection from wlan0 gets a second subflow from wwan0's address, and
// the kernel flags it backup, as its endpoint says.
func TestIntegrationEndpointsBackupSubflow(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	mustCLI(t, tb.Server, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
	remote := netip.AddrPortFrom(testbed.Server4, 5201)
	echoServer(t, tb.Server, remote)
	d := startKeeper(t, tb.Client, writeConfig(t, endpointsTestConfig, nil))
	waitEndpoints(t, d, tb.Client, "at start", "10.0.1.2 subflow dev wlan0", "fd00:1::2 subflow dev wlan0",
		"10.0.2.2 subflow backup dev wwan0", "fd00:2::2 subflow backup dev wwan0")

	c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, remote)
	echo(t, c, "hello")
	conn := connectionOf(t, tb.Client, c.LocalAddr(), 2)
	i := subflowOn(conn, testbed.ClientCell4, false)
	if i < 0 {
		t.Fatalf("no subflow from %s: %+v", testbed.ClientCell4, conn)
	}
	if sf := conn.Subflows[i]; !sf.Backup || sf.Dev != testbed.CellDev {
		t.Errorf("subflow from %s: backup %v dev %s, want backup on %s", testbed.ClientCell4, sf.Backup, sf.Dev, testbed.CellDev)
	}
	if j := subflowOn(conn, testbed.ClientWifi4, false); j < 0 || conn.Subflows[j].Backup {
		t.Errorf("initial subflow missing or backup: %+v", conn)
	}
	echo(t, c, "still there")
}
