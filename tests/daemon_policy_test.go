package tests

// End-to-end tests of the daemon's application policies: matching a
// connection on its remote port, remote prefix, owner uid and cgroup;
// peer announcements (accept_announcements); reloads with a bad policy
// file; refusals at start (bad configuration, the in-kernel path manager
// in charge); `policy check`; and the control socket's permissions.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// dpConfig is a daemon configuration with the testbed's interfaces named
// as what they stand for and a default policy in mode defaultMode; extra
// is appended under default: (indented by the caller).
func dpConfig(defaultMode, extra string) string {
	return `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: ` + defaultMode + "\n" + extra
}

// dpPolicy is a policy file: name, the match mapping in flow style, the
// mode, and extra lines.
func dpPolicy(name, match, mode, extra string) string {
	return fmt.Sprintf("name: %s\nmatch: %s\nmode: %s\n%s", name, match, mode, extra)
}

// dpIfaces returns the interfaces of c's subflows, sorted.
func dpIfaces(c control.ConnStatus) []string {
	var out []string
	for _, sf := range c.Subflows {
		out = append(out, sf.Interface)
	}
	slices.Sort(out)
	return out
}

// dpIs is a condition for daemonProc.conn: the connection is matched to
// application app in mode, is established, and has exactly the subflows
// on ifaces (in any order), none of them backup unless mode is handover.
func dpIs(app, mode string, ifaces ...string) func(control.ConnStatus) bool {
	want := slices.Clone(ifaces)
	slices.Sort(want)
	return func(c control.ConnStatus) bool {
		if c.Application != app || c.Mode != mode || !c.Established || c.ServerSide {
			return false
		}
		if !slices.Equal(dpIfaces(c), want) {
			return false
		}
		active := slices.Clone(c.Active)
		slices.Sort(active)
		if mode == "handover" {
			return len(active) == 1 && active[0] == want[0]
		}
		return slices.Equal(active, want)
	}
}

// dpKernelSubflows returns the established subflows (local -> remote) of
// the client connection whose local address is local, from the kernel
// (connection show), and whether that connection exists.
func dpKernelSubflows(t testing.TB, ns, local string) ([]string, bool) {
	t.Helper()
	for _, c := range connections(t, ns) {
		if c.Local != local {
			continue
		}
		var out []string
		for _, sf := range c.Subflows {
			if sf.State == "ESTAB" {
				out = append(out, sf.Local+" -> "+sf.Remote)
			}
		}
		slices.Sort(out)
		return out, true
	}
	return nil, false
}

// dpKernelSubflowCount waits up to 5 s until the kernel's view of the
// connection from local has exactly n established subflows, and then
// checks that it keeps them for hold.
func dpKernelSubflowCount(t testing.TB, ns, local string, n int, hold time.Duration) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		sfs, ok := dpKernelSubflows(t, ns, local)
		last = sfs
		if ok && len(sfs) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernel: connection from %s never had %d established subflows; last: %q", local, n, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if sfs, _ := dpKernelSubflows(t, ns, local); len(sfs) != n {
			t.Fatalf("kernel: connection from %s went from %d to %d subflows: %q", local, n, len(sfs), sfs)
		}
	}
}

// dpGoTB lets a helper that takes a testing.TB run on a goroutine other
// than the test's: Fatal becomes Error and ends only that goroutine.
type dpGoTB struct{ testing.TB }

func (g dpGoTB) Helper() {}

func (g dpGoTB) Fatal(args ...any) {
	g.TB.Error(args...)
	runtime.Goexit()
}

func (g dpGoTB) Fatalf(format string, args ...any) {
	g.TB.Errorf(format, args...)
	runtime.Goexit()
}

func (g dpGoTB) FailNow() {
	g.TB.Fail()
	runtime.Goexit()
}

// dpStreamAs runs runStreamAs in the background. The channel yields its
// result, or is closed without one when it failed (the failure is
// reported on t). The test waits for it at cleanup in any case.
func dpStreamAs(t *testing.T, ns string, uid int, cgroupDir string, local netip.Addr, remote netip.AddrPort, d time.Duration) <-chan map[string]any {
	t.Helper()
	out := make(chan map[string]any, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		out <- runStreamAs(dpGoTB{t}, ns, uid, cgroupDir, local, remote, d)
	}()
	t.Cleanup(func() { <-done })
	return out
}

// dpStreamResult waits for a dpStreamAs result and checks that the
// stream was MPTCP, saw no error and echoed records; it returns the
// client's local address.
func dpStreamResult(t *testing.T, ch <-chan map[string]any) string {
	t.Helper()
	r, ok := <-ch
	if !ok {
		t.FailNow() // already reported
	}
	if r["mptcp"] != true {
		t.Errorf("stream client: not MPTCP: %v", r)
	}
	if e, ok := r["error"]; ok {
		t.Errorf("stream client: error %v", e)
	}
	if n, _ := r["received"].(float64); n < 100 {
		t.Errorf("stream client: only %v records echoed: %v", r["received"], r)
	}
	local, _ := r["local"].(string)
	ap, err := netip.ParseAddrPort(local)
	if err != nil {
		t.Fatalf("stream client: local address %q: %v", local, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// dpOtherConn waits up to 5 s for a client connection in the daemon's
// view whose local address is not one of skip and that meets pred; it
// fails the test with the daemon's view otherwise.
func dpOtherConn(t *testing.T, d *daemonProc, skip []string, pred func(control.ConnStatus) bool) control.ConnStatus {
	t.Helper()
	var last []control.ConnStatus // the last non-empty view, for the failure message
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var cur []control.ConnStatus
		for _, c := range d.status().Connections {
			if c.ServerSide || slices.Contains(skip, c.Local) {
				continue
			}
			cur = append(cur, c)
			if pred(c) {
				return c
			}
		}
		if len(cur) > 0 {
			last = cur
		}
	}
	t.Fatalf("no other connection than %v met the condition within 5 s; the daemon had %+v", skip, last)
	return control.ConnStatus{}
}

// dpStillSingle checks that the connection from local stays matched to
// the default policy in single mode with its one subflow, in the daemon's
// view and the kernel's.
func dpStillSingle(t *testing.T, tb *testbed.Testbed, d *daemonProc, local net.Addr) {
	t.Helper()
	d.conn(local, dpIs("default", "single", testbed.WifiDev))
	dpKernelSubflowCount(t, tb.Client, testutil.AddrPort(t, local).String(), 1, 500*time.Millisecond)
	c := d.conn(local, func(control.ConnStatus) bool { return true })
	if !dpIs("default", "single", testbed.WifiDev)(c) {
		t.Fatalf("connection from %s changed: %+v", testutil.AddrPort(t, local).String(), c)
	}
}

// TestIntegrationDaemonPolicyByPort: two applications told apart by the
// remote port, voice (5201, handover) and bulk (5202, aggregate); each
// connection gets its application's mode, in the daemon's view and in
// the kernel's, and `connection show` merges the daemon's view.
func TestIntegrationDaemonPolicyByPort(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"a-voice.yaml": dpPolicy("voice", "{ ports: [5201] }", "handover", "handover: { hold_down: 1s }\n"),
		"b-bulk.yaml":  dpPolicy("bulk", "{ ports: [5202] }", "aggregate", ""),
	})
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5202))

	voice := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	bulk := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5202))
	vl, bl := testutil.AddrPort(t, voice.conn.LocalAddr()).String(), testutil.AddrPort(t, bulk.conn.LocalAddr()).String()

	b := d.conn(bulk.conn.LocalAddr(), dpIs("bulk", "aggregate", testbed.WifiDev, testbed.CellDev))
	v := d.conn(voice.conn.LocalAddr(), dpIs("voice", "handover", testbed.WifiDev))
	t.Logf("voice %s: %+v", v.Token, v.Subflows)
	t.Logf("bulk %s: %+v", b.Token, b.Subflows)

	// The kernel agrees: bulk has its two subflows, one per interface,
	// voice keeps its one.
	dpKernelSubflowCount(t, tb.Client, bl, 2, 0)
	sfs, _ := dpKernelSubflows(t, tb.Client, bl)
	initial := bl + " -> 10.0.3.2:5202"
	if !slices.ContainsFunc(sfs, func(s string) bool { return strings.HasPrefix(s, testbed.ClientCell4.String()+":") }) ||
		!slices.Contains(sfs, initial) {
		t.Errorf("kernel: bulk subflows %q, want the initial one %s and one from %s", sfs, initial, testbed.ClientCell4)
	}
	dpKernelSubflowCount(t, tb.Client, vl, 1, 500*time.Millisecond)
	if c := d.conn(voice.conn.LocalAddr(), func(control.ConnStatus) bool { return true }); !dpIs("voice", "handover", testbed.WifiDev)(c) {
		t.Errorf("voice changed: %+v", c)
	}

	// `connection show` names each connection's application and mode
	// when the daemon answers on MPTCP_PM_CONTROL.
	cmd := exec.Command(binary, "-n", tb.Client, "connection", "show")
	cmd.Env = append(os.Environ(), "MPTCP_PM_CONTROL="+d.control)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("connection show: %v, stderr %q", err, stderr.String())
	}
	lines := map[string]string{}
	for _, l := range strings.Split(stdout.String(), "\n") {
		for _, local := range []string{vl, bl} {
			if strings.HasPrefix(l, "token ") && strings.Contains(l, " "+local+" -> ") {
				lines[local] = l
			}
		}
	}
	for local, want := range map[string]string{vl: "app voice mode handover active wlan0", bl: "app bulk mode aggregate"} {
		if !strings.Contains(lines[local], want) {
			t.Errorf("connection show: line of %s is %q, want it to contain %q; output:\n%s", local, lines[local], want, stdout.String())
		}
	}

	for _, s := range []*streamer{voice, bulk} {
		if r := s.wait(t); r.Received < 10 {
			t.Errorf("stream too short: %v", r)
		}
	}
}

// TestIntegrationDaemonPolicyByUID: a policy for the connections of uid
// 65534 (aggregate); root's connection gets the default (single).
func TestIntegrationDaemonPolicyByUID(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"nobody.yaml": dpPolicy("nobody", "{ uids: [65534] }", "aggregate", ""),
	})
	remote := netip.AddrPortFrom(testbed.Server4, 5201)
	root := startStream(t, tb, testbed.ClientWifi4, remote)
	rl := testutil.AddrPort(t, root.conn.LocalAddr()).String()
	d.conn(root.conn.LocalAddr(), dpIs("default", "single", testbed.WifiDev))

	res := dpStreamAs(t, tb.Client, 65534, "", testbed.ClientWifi4, remote, 3*time.Second)
	other := dpOtherConn(t, d, []string{rl}, dpIs("nobody", "aggregate", testbed.WifiDev, testbed.CellDev))
	t.Logf("uid 65534: %s %+v", other.Local, other.Subflows)
	dpKernelSubflowCount(t, tb.Client, other.Local, 2, 0)
	dpStillSingle(t, tb, d, root.conn.LocalAddr())

	if got := dpStreamResult(t, res); got != other.Local {
		t.Errorf("the stream of uid 65534 ran from %s, but the connection matched to nobody is from %s", got, other.Local)
	}
	if r := root.wait(t); r.Received < 10 {
		t.Errorf("root's stream too short: %v", r)
	}
}

// TestIntegrationDaemonPolicyReloadRematchesOwner: a reload matches the
// connections that exist again (daemon.Daemon.Reload), also on their
// owner when the policies before the reload did not look at owners: a
// connection of uid 65534 must not take a policy for uid 0, and must take
// one for uid 65534.
func TestIntegrationDaemonPolicyReloadRematchesOwner(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"a-other.yaml": dpPolicy("other", "{ ports: [9999] }", "aggregate", ""),
	})
	second := filepath.Join(d.dir, "policies.d", "b-owner.yaml")
	reload := func(policy string) {
		t.Helper()
		if err := os.WriteFile(second, []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
		// Synchronous: the connections are matched again when it returns.
		if r := cli(t, "", "reload", "--control", d.control); r.code != 0 {
			t.Fatalf("reload: exit %d, stderr %q", r.code, r.stderr)
		}
	}
	res := dpStreamAs(t, tb.Client, 65534, "", testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201), 3*time.Second)
	c := dpOtherConn(t, d, nil, dpIs("default", "single", testbed.WifiDev))

	reload(dpPolicy("root", "{ uids: [0] }", "aggregate", ""))
	for _, x := range d.status().Connections {
		if x.Local == c.Local && x.Application != "default" {
			t.Errorf("after a reload with a policy for uid 0, the connection of uid 65534 is matched to %s/%s, want default/single", x.Application, x.Mode)
		}
	}
	reload(dpPolicy("nobody", "{ uids: [65534] }", "aggregate", ""))
	if x := d.conn(dpAddr(c.Local), func(control.ConnStatus) bool { return true }); x.Application != "nobody" || x.Mode != "aggregate" {
		t.Errorf("after a reload with a policy for uid 65534, the connection of uid 65534 is matched to %s/%s, want nobody/aggregate", x.Application, x.Mode)
	} else {
		d.conn(dpAddr(c.Local), dpIs("nobody", "aggregate", testbed.WifiDev, testbed.CellDev))
	}
	dpStreamResult(t, res)
}

// dpAddr is a net.Addr for daemonProc.conn from "ip:port".
func dpAddr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// TestIntegrationDaemonPolicyByCgroup: a policy for a cgroup (aggregate)
// matches a process in a cgroup below it; a process in the root cgroup
// gets the default (single).
func TestIntegrationDaemonPolicyByCgroup(t *testing.T) {
	t.Parallel()
	testbed.RequirePrivileged(t)
	mount, err := cgroup.Mount()
	if err != nil {
		t.Skipf("no cgroup v2 hierarchy: %v", err)
	}
	parent := "/mptcp-pm-test-" + strings.ToLower(rand.Text()[:10])
	leaf := parent + "/app.service"
	if err := os.MkdirAll(filepath.Join(mount, leaf), 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	// Registered before the stream starts, so it runs after the stream
	// client has exited (cleanups run last-in, first-out).
	t.Cleanup(func() {
		for _, dir := range []string{leaf, parent} {
			var err error
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if err = os.Remove(filepath.Join(mount, dir)); err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
					break
				}
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove cgroup %s: %v", dir, err)
			}
		}
	})

	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"app.yaml": dpPolicy("app", "{ cgroup: "+parent+" }", "aggregate", ""),
	})
	remote := netip.AddrPortFrom(testbed.Server4, 5201)
	root := startStream(t, tb, testbed.ClientWifi4, remote)
	rl := testutil.AddrPort(t, root.conn.LocalAddr()).String()
	d.conn(root.conn.LocalAddr(), dpIs("default", "single", testbed.WifiDev))

	// `ip netns exec` mounts a fresh sysfs on /sys in its own mount
	// namespace, which hides the cgroup2 mount below /sys/fs/cgroup; this
	// process's view of it stays reachable through /proc/PID/root.
	cgroupDir := fmt.Sprintf("/proc/%d/root%s", os.Getpid(), filepath.Join(mount, leaf))
	res := dpStreamAs(t, tb.Client, -1, cgroupDir, testbed.ClientWifi4, remote, 3*time.Second)
	other := dpOtherConn(t, d, []string{rl}, dpIs("app", "aggregate", testbed.WifiDev, testbed.CellDev))
	t.Logf("in %s: %s %+v", leaf, other.Local, other.Subflows)
	dpKernelSubflowCount(t, tb.Client, other.Local, 2, 0)
	dpStillSingle(t, tb, d, root.conn.LocalAddr())

	if got := dpStreamResult(t, res); got != other.Local {
		t.Errorf("the stream in %s ran from %s, but the connection matched to app is from %s", leaf, got, other.Local)
	}
	if r := root.wait(t); r.Received < 10 {
		t.Errorf("root's stream too short: %v", r)
	}
}

// TestIntegrationDaemonPolicyByPrefix: a policy for the server's second
// network (aggregate); a connection to its first address gets the
// default (single).
func TestIntegrationDaemonPolicyByPrefix(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"far.yaml": dpPolicy("far", "{ prefixes: [10.0.4.0/24] }", "aggregate", ""),
	})
	far := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4b, 5201))
	near := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))

	c := d.conn(far.conn.LocalAddr(), dpIs("far", "aggregate", testbed.WifiDev, testbed.CellDev))
	for _, sf := range c.Subflows {
		if sf.Remote != "10.0.4.2:5201" {
			t.Errorf("far: subflow to %s, want every subflow to 10.0.4.2:5201: %+v", sf.Remote, c.Subflows)
		}
	}
	dpKernelSubflowCount(t, tb.Client, testutil.AddrPort(t, far.conn.LocalAddr()).String(), 2, 0)
	dpStillSingle(t, tb, d, near.conn.LocalAddr())

	for _, s := range []*streamer{far, near} {
		if r := s.wait(t); r.Received < 10 {
			t.Errorf("stream too short: %v", r)
		}
	}
}

// dpServerToken returns the server's token of the connection whose client
// port is port, from the server monitor's ESTABLISHED event (server_side).
func dpServerToken(t *testing.T, m *monitor, port uint16) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m.mu.Lock()
		for _, e := range m.seen {
			if p, _ := e.num("dport"); e.str("type") == "ESTABLISHED" && e["server_side"] == true && p == int(port) {
				m.mu.Unlock()
				return e.str("token")
			}
		}
		m.mu.Unlock()
	}
	t.Fatalf("server monitor: no ESTABLISHED (server_side) event with dport %d", port)
	return ""
}

// dpRemotes returns the subflows of a daemon connection as "iface ->
// remote".
func dpRemotes(c control.ConnStatus) []string {
	var out []string
	for _, sf := range c.Subflows {
		out = append(out, sf.Interface+" -> "+sf.Remote)
	}
	slices.Sort(out)
	return out
}

// TestIntegrationDaemonAnnouncements: the server announces its second
// address (10.0.4.2, id 5) on two connections. The default policy
// (aggregate, accept_announcements off) ignores it; the policy with
// accept_announcements opens a subflow to it from each interface, and
// closes none of the others; when the server removes the address, those
// subflows go.
func TestIntegrationDaemonAnnouncements(t *testing.T) {
	t.Parallel()
	tb, d, ms := newDaemonBed(t, dpConfig("aggregate", ""), map[string]string{
		"accept.yaml": dpPolicy("accept", "{ ports: [5202] }", "aggregate", "accept_announcements: true\n"),
	})
	// Only m.seen is read here: drain the channel so the reader never
	// blocks.
	go func() {
		for range ms.events {
		}
	}()
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5202))
	both := []string{testbed.WifiDev, testbed.CellDev}

	ignoring := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	il := testutil.AddrPort(t, ignoring.conn.LocalAddr()).String()
	ic := d.conn(ignoring.conn.LocalAddr(), dpIs("default", "aggregate", both...))
	itok := dpServerToken(t, ms, uint16(ignoring.conn.LocalAddr().(*net.TCPAddr).Port))

	accepting := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5202))
	al := testutil.AddrPort(t, accepting.conn.LocalAddr()).String()
	ac := d.conn(accepting.conn.LocalAddr(), dpIs("accept", "aggregate", both...))
	atok := dpServerToken(t, ms, uint16(accepting.conn.LocalAddr().(*net.TCPAddr).Port))

	t.Run("ignored", func(t *testing.T) {
		mustCLI(t, tb.Server, "announce", testbed.Server4b.String(), "id", "5", "token", itok)
		if !d.waitLog("peer announcement ignored", 5*time.Second) {
			t.Fatalf("no \"peer announcement ignored\" in the daemon's log")
		}
		logged := false
		for _, l := range strings.Split(d.log.String(), "\n") {
			if strings.Contains(l, "peer announcement ignored") {
				if !strings.Contains(l, "token="+ic.Token) {
					t.Errorf("announcement ignored for another connection than %s: %s", ic.Token, l)
				}
				logged = logged || strings.Contains(l, "policy=default")
			}
		}
		if !logged {
			t.Errorf("the ignored announcement's log line does not name the policy (policy=default):\n%s", d.log.String())
		}
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			sfs, _ := dpKernelSubflows(t, tb.Client, il)
			for _, sf := range sfs {
				if strings.Contains(sf, "-> "+testbed.Server4b.String()+":") {
					t.Fatalf("kernel: subflow to the ignored announced address: %q", sfs)
				}
			}
			if len(sfs) != 2 {
				t.Fatalf("kernel: connection from %s has %d subflows, want its 2: %q", il, len(sfs), sfs)
			}
		}
		c := d.conn(ignoring.conn.LocalAddr(), func(control.ConnStatus) bool { return true })
		if !dpIs("default", "aggregate", both...)(c) {
			t.Errorf("daemon: connection changed after an ignored announcement: %+v", c)
		}
	})

	t.Run("accepted", func(t *testing.T) {
		mustCLI(t, tb.Server, "announce", testbed.Server4b.String(), "id", "5", "token", atok)
		want := []string{"wlan0 -> 10.0.3.2:5202", "wlan0 -> 10.0.4.2:5202", "wwan0 -> 10.0.3.2:5202", "wwan0 -> 10.0.4.2:5202"}
		c := d.conn(accepting.conn.LocalAddr(), func(c control.ConnStatus) bool { return slices.Equal(dpRemotes(c), want) })
		t.Logf("after the announcement: %q", dpRemotes(c))
		dpKernelSubflowCount(t, tb.Client, al, 4, 300*time.Millisecond)
		sfs, _ := dpKernelSubflows(t, tb.Client, al)
		for _, from := range []netip.Addr{testbed.ClientWifi4, testbed.ClientCell4} {
			if !slices.ContainsFunc(sfs, func(s string) bool {
				return strings.HasPrefix(s, from.String()+":") && strings.HasSuffix(s, " -> 10.0.4.2:5202")
			}) {
				t.Errorf("kernel: no subflow from %s to 10.0.4.2:5202: %q", from, sfs)
			}
		}
		ignored := regexp.MustCompile(`peer announcement ignored.*token=` + ac.Token)
		if l := ignored.FindString(d.log.String()); l != "" {
			t.Errorf("daemon: the accepted announcement was logged as ignored: %s", l)
		}

		mustCLI(t, tb.Server, "remove", "id", "5", "token", atok)
		want = []string{"wlan0 -> 10.0.3.2:5202", "wwan0 -> 10.0.3.2:5202"}
		c = d.conn(accepting.conn.LocalAddr(), func(c control.ConnStatus) bool { return slices.Equal(dpRemotes(c), want) })
		t.Logf("after the removal: %q", dpRemotes(c))
		dpKernelSubflowCount(t, tb.Client, al, 2, 700*time.Millisecond)
		sfs, _ = dpKernelSubflows(t, tb.Client, al)
		for _, sf := range sfs {
			if strings.HasSuffix(sf, " -> 10.0.4.2:5202") {
				t.Errorf("kernel: subflow to the removed address %s is still there: %q", testbed.Server4b, sfs)
			}
		}
	})

	for _, s := range []*streamer{ignoring, accepting} {
		if r := s.wait(t); r.Received < 10 {
			t.Errorf("stream too short: %v", r)
		}
	}
}

// TestIntegrationDaemonReloadBadPolicy: a broken policy file changes
// nothing on SIGHUP or `mptcp-pm reload`, and the mistake is reported with
// its file and line; a good one is taken.
func TestIntegrationDaemonReloadBadPolicy(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dpConfig("single", ""), map[string]string{
		"a-voice.yaml": dpPolicy("voice", "{ ports: [5201] }", "handover", ""),
	})
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5202))
	bulk := filepath.Join(d.dir, "policies.d", "b-bulk.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(bulk, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policies := func() []string {
		t.Helper()
		var out []string
		for _, p := range d.status().Policies {
			out = append(out, p.Name+"/"+p.Mode)
		}
		return out
	}
	before := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(before.conn.LocalAddr(), dpIs("voice", "handover", testbed.WifiDev))

	// A mistake on line 4, column 7.
	write("name: bulk\nmatch:\n  ports: [5202]\nmode: handovr\n")
	d.hup()
	if !d.waitLog("reload refused", 5*time.Second) {
		t.Fatalf("no \"reload refused\" in the daemon's log after SIGHUP with a bad policy")
	}
	if !d.waitLog("b-bulk.yaml:4:7: mode: unknown mode", time.Second) {
		t.Errorf("the refusal does not name b-bulk.yaml:4:7 and the field; log:\n%s", d.log.String())
	}
	if got, want := policies(), []string{"voice/handover", "default/single"}; !slices.Equal(got, want) {
		t.Errorf("after a refused reload the policies are %q, want %q", got, want)
	}
	// New connections are still matched on the running policies, and the
	// one that was there keeps its own.
	after := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(after.conn.LocalAddr(), dpIs("voice", "handover", testbed.WifiDev))
	d.conn(before.conn.LocalAddr(), dpIs("voice", "handover", testbed.WifiDev))

	// Fixed: SIGHUP takes it.
	write(dpPolicy("bulk", "{ ports: [5202] }", "aggregate", ""))
	d.hup()
	want := []string{"voice/handover", "bulk/aggregate", "default/single"}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = policies(); slices.Equal(got, want) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after a good reload the policies are %q, want %q; log:\n%s", got, want, d.log.String())
	}
	b := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5202))
	d.conn(b.conn.LocalAddr(), dpIs("bulk", "aggregate", testbed.WifiDev, testbed.CellDev))

	// `mptcp-pm reload` reports the outcome.
	if r := cli(t, "", "reload", "--control", d.control); r.code != 0 || r.stderr != "" {
		t.Errorf("reload of good policies: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	// Tabs for indentation: a YAML syntax error on line 3.
	write("name: bulk\nmatch:\n\tports: [5202]\nmode: aggregate\n")
	line := failCLI(t, "", "b-bulk.yaml:3:", "reload", "--control", d.control)
	if !strings.Contains(line, "tabs") {
		t.Errorf("reload: %q does not say what is wrong on line 3 (tabs)", line)
	}
	// An unknown field, on line 4, column 1.
	write(dpPolicy("bulk", "{ ports: [5202] }", "aggregate", "hanover: { hold_down: 1s }\n"))
	line = failCLI(t, "", "b-bulk.yaml:4:1: ", "reload", "--control", d.control)
	if !strings.Contains(line, `"hanover"`) {
		t.Errorf("reload: %q does not name the unknown field", line)
	}
	if got := policies(); !slices.Equal(got, want) {
		t.Errorf("after refused reloads the policies are %q, want %q", got, want)
	}
	d.conn(b.conn.LocalAddr(), dpIs("bulk", "aggregate", testbed.WifiDev, testbed.CellDev))

	for _, s := range []*streamer{before, after, b} {
		if r := s.wait(t); r.Received == 0 {
			t.Errorf("stream too short: %v", r)
		}
	}
}

// dpNetns creates a fresh network namespace (net.mptcp.pm_type 0, the
// kernel's default) deleted at cleanup.
func dpNetns(t *testing.T) string {
	t.Helper()
	testbed.RequirePrivileged(t)
	name, _ := testutil.NewNamedNetns(t, "mptcp-pm-bad")
	return name
}

// dpRun runs the binary with args for at most 10 s and returns what it
// printed, its exit status and how long it took.
func dpRun(t *testing.T, args ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	r := runCmd(t, exec.CommandContext(ctx, binary, args...), "mptcp-pm "+strings.Join(args, " "))
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("mptcp-pm %s: still running after 10 s (stderr %q)", strings.Join(args, " "), r.stderr)
	}
	return r, took
}

// TestIntegrationDaemonBadStart: the daemon refuses to start on a bad
// configuration or with the in-kernel path manager in charge, and says
// why; `policy check` reports each mistake as FILE:LINE:COLUMN.
func TestIntegrationDaemonBadStart(t *testing.T) {
	t.Parallel()
	ns := dpNetns(t)

	t.Run("bad configuration", func(t *testing.T) {
		dir := writeConfig(t, dpConfig("aggregat", ""), nil)
		control := filepath.Join(dir, "control.sock")
		cfg := filepath.Join(dir, "config.yaml")
		r, took := dpRun(t, "-n", ns, "daemon", "-c", cfg, "--set-pm-type", "--control", control)
		want := cfg + `:6:9: default.mode: unknown mode "aggregat"`
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("daemon with a bad configuration: exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, want)
		}
		if took > 3*time.Second {
			t.Errorf("daemon with a bad configuration took %v to exit", took)
		}
		if _, err := os.Stat(control); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("control socket %s after a failed start: %v", control, err)
		}
		if v := dpSysctl(t, ns, "net.mptcp.pm_type"); v != "0" {
			t.Errorf("net.mptcp.pm_type is %s after a start refused for its configuration, want 0 (untouched)", v)
		}
	})

	t.Run("in-kernel path manager", func(t *testing.T) {
		dir := writeConfig(t, dpConfig("aggregate", ""), nil)
		control := filepath.Join(dir, "control.sock")
		r, took := dpRun(t, "-n", ns, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--control", control)
		if r.code != 1 {
			t.Fatalf("daemon with pm_type 0: exit %d, want 1; stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{"net.mptcp.pm_type is 0", "namespace " + ns, "sysctl -w net.mptcp.pm_type=1", "--set-pm-type", "set_pm_type: true"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("daemon with pm_type 0: stderr %q does not contain %q", r.stderr, want)
			}
		}
		if took > 3*time.Second {
			t.Errorf("daemon with pm_type 0 took %v to exit", took)
		}
		if v := dpSysctl(t, ns, "net.mptcp.pm_type"); v != "0" {
			t.Errorf("net.mptcp.pm_type is %s after the refused start, want 0 (untouched without --set-pm-type)", v)
		}
		if _, err := os.Stat(control); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("control socket %s after a failed start: %v", control, err)
		}
	})

	t.Run("policy check", func(t *testing.T) {
		dir := t.TempDir()
		good := filepath.Join(dir, "good.yaml")
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(good, []byte(dpPolicy("voice", "{ ports: [5060, \"10000-20000\"], uids: 1000 }", "handover",
			"handover: { hold_down: 2s, warm_standby: true }\naccept_announcements: false\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, []byte("name: bulk\nmatch:\n  ports: [70000]\nmode: handovr\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := dpRun(t, "policy", "check", good)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "1 file(s) OK") {
			t.Errorf("policy check of a good file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r, _ = dpRun(t, "policy", "check", bad)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != 1 || len(lines) != 2 {
			t.Fatalf("policy check of a file with 2 mistakes: exit %d, stderr %q; want exit 1 and 2 lines", r.code, r.stderr)
		}
		form := regexp.MustCompile(`^mptcp-pm: ` + regexp.QuoteMeta(bad) + `:(\d+):(\d+): ([a-z_.\[\]0-9]+): (.+)$`)
		for i, want := range []struct{ line, col, field string }{{"3", "11", "match.ports[0]"}, {"4", "7", "mode"}} {
			m := form.FindStringSubmatch(lines[i])
			if m == nil || m[1] != want.line || m[2] != want.col || m[3] != want.field {
				t.Errorf("policy check: line %q, want %s:%s:%s: %s: MESSAGE", lines[i], bad, want.line, want.col, want.field)
			}
		}
		// Both files at once: the good one does not hide the bad one's
		// mistakes.
		r, _ = dpRun(t, "policy", "check", good, bad)
		if r.code != 1 || strings.Count(r.stderr, bad+":") != 2 || strings.Contains(r.stderr, good) {
			t.Errorf("policy check good bad: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// dpSysctl reads a sysctl in ns.
func dpSysctl(t *testing.T, ns, key string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-n", key).Output()
	if err != nil {
		t.Fatalf("sysctl %s in %s: %v", key, ns, err)
	}
	return strings.TrimSpace(string(out))
}

// TestIntegrationDaemonControlPermissions: the control socket is root's
// alone (mode 0600); another user can neither connect to it nor, when
// the file mode is opened up, get an answer (SO_PEERCRED).
func TestIntegrationDaemonControlPermissions(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	d := startDaemon(t, tb.Client, writeConfig(t, dpConfig("single", ""), nil))
	fi, err := os.Stat(d.control)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 || st.Uid != 0 {
		t.Errorf("control socket %s: mode %v owner %d, want a socket of mode 0600 owned by root", d.control, fi.Mode(), st.Uid)
	}
	// Let uid 65534 reach the socket file, so that only its own mode
	// stops it (the test's temporary directories are 0700).
	for dir := filepath.Dir(d.control); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	as := func(args ...string) result {
		t.Helper()
		return runCmd(t, exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binary}, args...)...), "setpriv")
	}
	check := func(what string, r result, want string) {
		t.Helper()
		if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), want) || r.stdout != "" {
			t.Errorf("%s as uid 65534: exit %d, stdout %q, stderr %q; want exit 1 and %q", what, r.code, r.stdout, r.stderr, want)
		}
	}
	check("status", as("status", "--control", d.control), "permission denied")
	check("reload", as("reload", "--control", d.control), "permission denied")
	// Root still gets its answer.
	if st := d.status(); len(st.Policies) != 1 || st.Policies[0].Name != "default" {
		t.Errorf("status as root: policies %+v", st.Policies)
	}

	// With the file opened to everyone, the daemon still refuses by the
	// peer's credentials.
	if err := os.Chmod(d.control, 0o666); err != nil {
		t.Fatal(err)
	}
	check("status (socket mode 0666)", as("status", "--control", d.control), "permission denied: status needs root")
	check("reload (socket mode 0666)", as("reload", "--control", d.control), "permission denied: reload needs root")
	// And the daemon is still there for root.
	if r := cli(t, "", "reload", "--control", d.control); r.code != 0 {
		t.Errorf("reload as root: exit %d, stderr %q", r.code, r.stderr)
	}
}
