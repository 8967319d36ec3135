//go:build linux

package bpf

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// helperEnv makes the test binary run a helper (see runHelper) instead of
// the tests: the crash test loads the probes in a child and kills it.
const helperEnv = "BPF_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func runHelper(name, arg string) int {
	switch name {
	case "load-and-wait":
		// Load for the namespace at path arg, print the sockops program
		// ID, then wait to be killed.
		fd, err := unix.Open(arg, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		p, err := Load(Config{NetNS: fd})
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		info, err := p.p.objs.MptcpSockops.Info()
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		id, _ := info.ID()
		fmt.Println("prog", id)
		time.Sleep(time.Minute)
		return 0
	case "load-unprivileged":
		_, err := Load(Config{})
		fmt.Printf("unavailable=%v eperm=%v err=%v\n", errors.Is(err, ErrUnavailable), errors.Is(err, os.ErrPermission), err)
		return 0
	case "bulk-server":
		return bulkServer(arg)
	case "bulk-client":
		return bulkClient(arg)
	}
	fmt.Fprintln(os.Stderr, "unknown helper", name)
	return 2
}

func TestConv(t *testing.T) {
	var k probeKey
	k.Token = 0xdeadbeef
	k.Family = unix.AF_INET
	k.Lport, k.Rport = 40000, 5201
	copy(k.Laddr[10:], []byte{0xff, 0xff, 10, 0, 0, 1})
	copy(k.Raddr[10:], []byte{0xff, 0xff, 10, 0, 0, 2})
	want := Key{0xdeadbeef, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:5201")}
	if got := convKey(k); got != want {
		t.Errorf("convKey(v4) = %v, want %v", got, want)
	}
	k.Family = unix.AF_INET6
	k.Laddr = netip.MustParseAddr("2001:db8::1").As16()
	k.Raddr = netip.MustParseAddr("2001:db8::2").As16()
	want = Key{0xdeadbeef, netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:5201")}
	if got := convKey(k); got != want {
		t.Errorf("convKey(v6) = %v, want %v", got, want)
	}
	if s := want.String(); s != "deadbeef [2001:db8::1]:40000->[2001:db8::2]:5201" {
		t.Errorf("Key.String() = %q", s)
	}

	m := convMetrics(probeMetrics{SrttUs: 1500, MdevUs: 250, LastRttUs: 1400, RttSamples: 3, LastUpdateNs: 10e9, State: 1, LocalId: 2, RemoteId: 3}, 1_700_000_000e9)
	if m.SRTT != 1500*time.Microsecond || m.RTTVar != 250*time.Microsecond || m.LastRTT != 1400*time.Microsecond ||
		m.RTTSamples != 3 || m.State != 1 || m.LocID != 2 || m.RemID != 3 || !m.Updated.Equal(time.Unix(1_700_000_010, 0)) {
		t.Errorf("convMetrics: %+v", m)
	}
	if m := convMetrics(probeMetrics{}, 1); !m.Updated.IsZero() {
		t.Errorf("convMetrics with no timestamp: Updated = %v, want zero", m.Updated)
	}
}

func TestMonoToWall(t *testing.T) {
	off := monoToWall()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.Unix(0, ts.Nano()+off)); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("monotonic now + offset is %v from time.Now()", d)
	}
}

func TestParseSeed(t *testing.T) {
	var buf []byte
	for _, r := range []probeSeed{{Token: 1}, {Token: 2, SetsockoptErr: -int32(unix.EPERM)}, {Token: 3, UpdateErr: -int32(unix.E2BIG)}} {
		buf, _ = binary.Append(buf, binary.NativeEndian, r)
	}
	err := parseSeed(buf)
	if !errors.Is(err, unix.EPERM) || !errors.Is(err, unix.E2BIG) || !strings.Contains(err.Error(), "token 00000002") {
		t.Errorf("parseSeed: %v", err)
	}
	if err := parseSeed(buf[:16]); err != nil {
		t.Errorf("parseSeed(one good record): %v", err)
	}
	if err := parseSeed(buf[:10]); err == nil {
		t.Error("parseSeed(short record): no error")
	}
}

// requirePrivileges skips (fails with CI=true) unless the test can create
// namespaces and load BPF programs.
func requirePrivileges(t *testing.T, tools ...string) {
	t.Helper()
	testutil.RequireRoot(t, "create network namespaces and load BPF programs", tools...)
}

// loadProbes calls Load; ErrUnavailable skips the test (fails with CI=true).
func loadProbes(t *testing.T, cfg Config) *Probes {
	t.Helper()
	p, err := Load(cfg)
	if errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("Load: %v", err)
	}
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testbed is a client and a server namespace joined by two veth pairs:
// c1 10.81.1.2 <-> s1 10.81.1.1 and c2 10.81.2.2 <-> s2 10.81.2.1. The
// client's in-kernel path manager opens a second subflow from 10.81.2.2
// (bound to c2) to the server's first address.
type testbed struct {
	cli, srv     string
	cliFD, srvFD int
	ln           net.Listener
	accepted     chan net.Conn
}

const (
	srvAddr  = "10.81.1.1"
	cliAddr2 = "10.81.2.2"
)

// newNamespaces creates the namespaces and links of a testbed.
func newNamespaces(t testing.TB) *testbed {
	t.Helper()
	suffix := fmt.Sprintf("%d-%s", os.Getpid(), rand.Text()[:6])
	tb := &testbed{cli: "bpft-cli-" + suffix, srv: "bpft-srv-" + suffix}
	for _, ns := range []string{tb.cli, tb.srv} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	for i := 1; i <= 2; i++ {
		c, s := fmt.Sprintf("c%d", i), fmt.Sprintf("s%d", i)
		run(t, "ip", "-n", tb.cli, "link", "add", c, "type", "veth", "peer", "name", s, "netns", tb.srv)
		run(t, "ip", "-n", tb.cli, "addr", "add", fmt.Sprintf("10.81.%d.2/24", i), "dev", c)
		run(t, "ip", "-n", tb.srv, "addr", "add", fmt.Sprintf("10.81.%d.1/24", i), "dev", s)
		run(t, "ip", "-n", tb.cli, "link", "set", c, "up")
		run(t, "ip", "-n", tb.srv, "link", "set", s, "up")
	}
	for _, ns := range []string{tb.cli, tb.srv} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "mptcp", "limits", "set", "subflow", "2", "add_addr_accepted", "2")
	}
	run(t, "ip", "-n", tb.cli, "mptcp", "endpoint", "add", cliAddr2, "dev", "c2", "subflow")

	var err error
	if tb.cliFD, err = unix.Open("/run/netns/"+tb.cli, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(tb.cliFD) })
	if tb.srvFD, err = unix.Open("/run/netns/"+tb.srv, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(tb.srvFD) })
	return tb
}

// newTestbed sets up the namespaces and an MPTCP listener in the server
// namespace.
func newTestbed(t testing.TB) *testbed {
	t.Helper()
	tb := newNamespaces(t)
	err := netns.Do(tb.srvFD, func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(true)
		var err error
		tb.ln, err = lc.Listen(context.Background(), "tcp4", srvAddr+":0")
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", tb.srv, err)
	}
	t.Cleanup(func() { tb.ln.Close() })
	tb.accepted = make(chan net.Conn, 4)
	go func() {
		for {
			c, err := tb.ln.Accept()
			if err != nil {
				close(tb.accepted)
				return
			}
			tb.accepted <- c
		}
	}()
	return tb
}

// conn is one MPTCP connection of the testbed, client and server ends.
type conn struct {
	cli, srv          net.Conn
	cliTok, srvTok    uint32
	subflows          []sockdiag.Subflow // the client's, from sock_diag
	stopOnce          sync.Once
	stopW             chan struct{}
	writerDone, rDone chan struct{}
}

// dial opens a connection and waits until the client has two subflows.
func (tb *testbed) dial(t *testing.T) *conn {
	t.Helper()
	c := &conn{}
	err := netns.Do(tb.cliFD, func() error {
		var d net.Dialer
		d.SetMultipathTCP(true)
		var err error
		c.cli, err = d.Dial("tcp4", tb.ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatalf("dial in %s: %v", tb.cli, err)
	}
	t.Cleanup(func() { c.cli.Close() })
	select {
	case c.srv = <-tb.accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("accept: timeout")
	}
	t.Cleanup(func() { c.srv.Close() })
	c.rDone = make(chan struct{})
	go func() {
		defer close(c.rDone)
		io.Copy(io.Discard, c.srv)
	}()
	c.cliTok, c.srvTok = testutil.MPTCPToken(t, c.cli), testutil.MPTCPToken(t, c.srv)
	// The path manager adds the second subflow once the connection is
	// fully established, which takes data from the client.
	c.send(t, 64<<10)

	sd, err := sockdiag.New(&sockdiag.Config{NetNS: tb.cliFD})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conns, err := sd.Connections()
		if err != nil {
			t.Fatalf("sock_diag: %v", err)
		}
		for _, sc := range conns {
			if sc.Token == c.cliTok {
				c.subflows = sc.Subflows
			}
		}
		if len(c.subflows) == 2 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %08x: %d subflows after 10 s, want 2: %+v", c.cliTok, len(c.subflows), c.subflows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keys returns the Keys of the client's subflows.
func (c *conn) keys() []Key {
	var ks []Key
	for _, sf := range c.subflows {
		ks = append(ks, Key{c.cliTok, sf.Local, sf.Remote})
	}
	return ks
}

// send writes n bytes from the client.
func (c *conn) send(t *testing.T, n int) {
	t.Helper()
	if _, err := c.cli.Write(make([]byte, n)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// startWriter keeps the client writing until stopWriter.
func (c *conn) startWriter() {
	c.stopW, c.writerDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.writerDone)
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-c.stopW:
				return
			default:
			}
			c.cli.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			c.cli.Write(buf)
		}
	}()
}

func (c *conn) stopWriter() {
	c.stopOnce.Do(func() {
		close(c.stopW)
		<-c.writerDone
		c.cli.SetWriteDeadline(time.Time{})
	})
}

// eventLog records the events of a Probes.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func collect(ch <-chan Event) *eventLog {
	l := &eventLog{}
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

// wait returns the first event that matches, waiting up to timeout.
func (l *eventLog) wait(timeout time.Duration, match func(Event) bool) (Event, bool) {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		i := slices.IndexFunc(l.evs, match)
		var ev Event
		if i >= 0 {
			ev = l.evs[i]
		}
		l.mu.Unlock()
		if i >= 0 {
			return ev, true
		}
		if time.Now().After(deadline) {
			return Event{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMetrics polls Metrics until cond holds, and returns the last map.
func waitMetrics(t *testing.T, p *Probes, timeout time.Duration, cond func(map[Key]Metrics) bool) (map[Key]Metrics, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, err := p.Metrics()
		if err != nil {
			t.Fatalf("Metrics: %v", err)
		}
		if cond(m) {
			return m, true
		}
		if time.Now().After(deadline) {
			return m, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProbes runs the probes against real MPTCP connections between two
// namespaces: one opened before Load (seeded), one after.
func TestProbes(t *testing.T) {
	requirePrivileges(t, "nft", "bpftool")
	watchdog := time.AfterFunc(2*time.Minute, func() { panic("TestProbes: watchdog expired") })
	defer watchdog.Stop()

	tb := newTestbed(t)
	old := tb.dial(t)
	old.send(t, 1<<20)

	p := loadProbes(t, Config{NetNS: tb.cliFD})
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Close()
		}
	})
	log := collect(p.Events())

	t.Run("Seed", func(t *testing.T) {
		// The subflows of old existed before Load: seeding created their
		// entries from tcp_sock and enabled their callbacks.
		m, err := p.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range old.keys() {
			if got, ok := m[k]; !ok || got.SRTT <= 0 || got.State != 1 {
				t.Errorf("seeded %v: %+v (present %v)", k, got, ok)
			}
		}
		// EachMetrics reads the same entries.
		each := map[Key]Metrics{}
		if err := p.EachMetrics(func(k Key, m *Metrics) { each[k] = *m }); err != nil {
			t.Fatal(err)
		}
		// ... without an allocation per subflow (a few per reading).

		for _, k := range old.keys() {
			if got, ok := each[k]; !ok || got.State != 1 || got.SRTT <= 0 {
				t.Errorf("EachMetrics: %v missing or wrong: %+v", k, got)
			}
		}
		// Traffic now brings RTT callbacks on both subflows.
		old.startWriter()
		defer old.stopWriter()
		m, ok := waitMetrics(t, p, 10*time.Second, func(m map[Key]Metrics) bool {
			for _, k := range old.keys() {
				if m[k].RTTSamples == 0 || m[k].SRTT <= 0 {
					return false
				}
			}
			return true
		})
		for _, k := range old.keys() {
			t.Logf("%v: %+v", k, m[k])
		}
		if !ok {
			t.Errorf("no RTT samples on the seeded subflows after 10 s of traffic")
		}
	})

	cur := tb.dial(t)
	t.Run("Metrics", func(t *testing.T) {
		cur.send(t, 4<<20)
		m, _ := waitMetrics(t, p, 5*time.Second, func(m map[Key]Metrics) bool {
			for _, k := range cur.keys() {
				if _, ok := m[k]; !ok {
					return false
				}
			}
			return true
		})
		for i, sf := range cur.subflows {
			k := cur.keys()[i]
			got, ok := m[k]
			if !ok {
				t.Errorf("no metrics for client subflow %v; have %v", k, slices.Collect(mapKeys(m)))
				continue
			}
			t.Logf("%v: %+v", k, got)
			if got.SRTT <= 0 || got.State != 1 || got.LocID != sf.LocID || got.RemID != sf.RemID {
				t.Errorf("%v: %+v; sock_diag says loc_id %d rem_id %d rtt %v", k, got, sf.LocID, sf.RemID, sf.RTT)
			}
			if d := time.Since(got.Updated); d < 0 || d > 10*time.Second {
				t.Errorf("%v: updated %v ago", k, d)
			}
			if _, ok := log.wait(time.Second, func(ev Event) bool { return ev.Kind == EventEstablished && ev.Key == k }); !ok {
				t.Errorf("%v: no EventEstablished", k)
			}
		}
		// Only the client namespace is observed: no server subflows, and
		// nothing from other namespaces of the host.
		for k := range m {
			if k.Token != cur.cliTok && k.Token != old.cliTok {
				t.Errorf("unexpected subflow %v (server tokens %08x, %08x)", k, cur.srvTok, old.srvTok)
			}
		}
	})

	t.Run("Receive", func(t *testing.T) {
		// The client only reads: no RTT or retransmission callback, yet
		// its subflows' receive counters follow every segment.
		before, err := p.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			_, err := io.ReadFull(cur.cli, make([]byte, 8<<20))
			got <- err
		}()
		if _, err := cur.srv.Write(make([]byte, 8<<20)); err != nil {
			t.Fatalf("server write: %v", err)
		}
		if err := <-got; err != nil {
			t.Fatalf("client read: %v", err)
		}
		after, err := p.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		var bytes uint64
		var segs uint32
		for _, k := range cur.keys() {
			t.Logf("%v: before %+v after %+v", k, before[k], after[k])
			if after[k].BytesReceived < before[k].BytesReceived || after[k].DataSegsIn < before[k].DataSegsIn {
				t.Errorf("%v: receive counters went back", k)
			}
			bytes += after[k].BytesReceived - before[k].BytesReceived
			segs += after[k].DataSegsIn - before[k].DataSegsIn
		}
		// What the last segments carried may still be on its way to the
		// counters when the reader returns: all but a segment's worth.
		if bytes < 8<<20-64<<10 || segs == 0 {
			t.Errorf("the client's subflows counted %d bytes in %d segments received, want about %d", bytes, segs, 8<<20)
		}
	})

	t.Run("RTO", func(t *testing.T) {
		var k2 Key
		for _, k := range cur.keys() {
			if k.Local.Addr() == netip.MustParseAddr(cliAddr2) {
				k2 = k
			}
		}
		if k2.Token == 0 {
			t.Fatalf("no subflow from %s: %v", cliAddr2, cur.keys())
		}
		cur.startWriter()
		defer cur.stopWriter()
		time.Sleep(200 * time.Millisecond)
		run(t, "ip", "netns", "exec", tb.srv, "nft", "add", "table", "inet", "bpft")
		defer run(t, "ip", "netns", "exec", tb.srv, "nft", "delete", "table", "inet", "bpft")
		run(t, "ip", "netns", "exec", tb.srv, "nft", "add", "chain", "inet", "bpft", "c", "{ type filter hook prerouting priority 0; }")
		run(t, "ip", "netns", "exec", tb.srv, "nft", "add", "rule", "inet", "bpft", "c", "iifname", "s2", "drop")
		start := time.Now()
		ev, ok := log.wait(5*time.Second, func(ev Event) bool { return ev.Kind == EventRTO && ev.Key == k2 })
		if !ok {
			t.Fatalf("no EventRTO for %v within 5 s of the blackhole", k2)
		}
		t.Logf("EventRTO after %v: %+v", time.Since(start).Round(time.Millisecond), ev)
		if ev.Metrics.RTOs == 0 || ev.State != 1 {
			t.Errorf("EventRTO: %+v", ev)
		}
		m, err := p.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		if m[k2].RTOs == 0 {
			t.Errorf("%v: RTOs = 0 in Metrics: %+v", k2, m[k2])
		}
		for _, k := range cur.keys() {
			if k != k2 && m[k].RTOs != 0 {
				t.Logf("note: RTOs on the healthy subflow %v: %+v", k, m[k])
			}
		}
	})

	t.Run("StateClose", func(t *testing.T) {
		old.cli.Close()
		old.srv.Close()
		keys := old.keys()
		m, ok := waitMetrics(t, p, 10*time.Second, func(m map[Key]Metrics) bool {
			for _, k := range keys {
				if _, ok := m[k]; ok {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Errorf("closed subflows still in Metrics after 10 s: %v", slices.Collect(mapKeys(m)))
		}
		for _, k := range keys {
			if _, ok := log.wait(time.Second, func(ev Event) bool {
				return ev.Kind == EventState && ev.Key == k && ev.State == 7 && ev.Metrics.State == 7
			}); !ok {
				t.Errorf("%v: no EventState to TCP_CLOSE", k)
			}
		}
	})

	t.Run("Close", func(t *testing.T) {
		id := progID(t, p)
		mount, err := cgroup.Mount()
		if err != nil {
			t.Fatal(err)
		}
		if ids := cgroupProgs(t, mount); !slices.Contains(ids, id) {
			t.Fatalf("sockops program %d not attached to %s: %v", id, mount, ids)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		closed = true
		if err := p.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if ids := cgroupProgs(t, mount); slices.Contains(ids, id) {
			t.Errorf("sockops program %d still attached to %s after Close", id, mount)
		}
		select {
		case _, ok := <-p.Events():
			for ok {
				_, ok = <-p.Events()
			}
		case <-time.After(time.Second):
			t.Error("Events not closed 1 s after Close")
		}
	})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func progID(t *testing.T, p *Probes) uint32 {
	t.Helper()
	info, err := p.p.objs.MptcpSockops.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("no program ID")
	}
	return uint32(id)
}

// cgroupProgs returns the IDs of the sockops programs attached to cg.
func cgroupProgs(t *testing.T, cg string) []uint32 {
	t.Helper()
	out := run(t, "bpftool", "-j", "cgroup", "show", cg)
	var progs []struct {
		ID         uint32 `json:"id"`
		AttachType string `json:"attach_type"`
	}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &progs); err != nil {
			t.Fatalf("bpftool cgroup show: %v: %s", err, out)
		}
	}
	var ids []uint32
	for _, p := range progs {
		// bpftool 7 says cgroup_sock_ops, older ones sock_ops.
		if p.AttachType == "cgroup_sock_ops" || p.AttachType == "sock_ops" {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// TestCrashDetach checks that the kernel detaches the probes of a process
// that is killed: the link is not pinned, so it dies with the process.
func TestCrashDetach(t *testing.T) {
	requirePrivileges(t, "bpftool")
	mount, err := cgroup.Mount()
	if err != nil {
		t.Fatal(err)
	}
	tb := newNamespaces(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "/run/netns/"+tb.cli)
	cmd.Env = append(os.Environ(), helperEnv+"=load-and-wait")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v (%q)", err, line)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "prog" {
		if os.Getenv("CI") != "true" && strings.Contains(line, ErrUnavailable.Error()) {
			t.Skipf("child: %s", line)
		}
		t.Fatalf("child: %q", line)
	}
	id64, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	id := uint32(id64)
	if ids := cgroupProgs(t, mount); !slices.Contains(ids, id) {
		t.Fatalf("child's program %d not attached to %s: %v", id, mount, ids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The link and program are released asynchronously after exit.
	deadline := time.Now().Add(5 * time.Second)
	for slices.Contains(cgroupProgs(t, mount), id) {
		if time.Now().After(deadline) {
			t.Fatalf("program %d still attached to %s 5 s after SIGKILL", id, mount)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for exec.Command("bpftool", "prog", "show", "id", f[1]).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("program %d still loaded 5 s after SIGKILL", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLoadUnprivileged checks the error of Load without capabilities: it
// wraps ErrUnavailable and EPERM.
func TestLoadUnprivileged(t *testing.T) {
	requirePrivileges(t, "setpriv")
	// Root without any capability (the bounding set is cleared before exec).
	cmd := exec.Command("setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--",
		os.Args[0], "-test.run=^$", "x")
	cmd.Env = append(os.Environ(), helperEnv+"=load-unprivileged")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	t.Logf("%s", out)
	if !strings.HasPrefix(string(out), "unavailable=true eperm=true err=eBPF probes unavailable: ") {
		t.Errorf("Load without capabilities: %s", out)
	}
}
