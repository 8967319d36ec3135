//go:build linux

package ifmon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// TestIntegrationMonitor runs a Monitor against a fresh namespace: the first
// snapshot, a link going down, an address deleted, a flap storm, and a clean
// stop. It needs root (see requirePrivilege).
func TestIntegrationMonitor(t *testing.T) {
	requirePrivilege(t)
	goroutinesBefore := runtime.NumGoroutine()

	ns, fd := newNetns(t)
	_, peerfd := newNetns(t)
	f := fixture{t: t, h: testutil.NetlinkHandle(t, fd)}
	f.veth("wlan0", "p0", peerfd)
	f.veth("wwan0", "pw0", peerfd)
	f.veth("veth9", "pv9", 0)
	f.up("wlan0", "wwan0", "veth9", "pv9")
	f.addr("wlan0", "10.1.0.2/24", false, false)
	f.addr("wlan0", "169.254.1.2/16", false, false)
	f.addr("wlan0", "2001:db8:1::2/64", true, false)
	f.addr("wlan0", "fe80::1:2/64", true, false)
	f.addr("wwan0", "10.2.0.2/24", false, false)
	f.addr("wwan0", "2001:db8:2::2/64", true, false)
	f.addr("veth9", "10.9.0.2/24", false, false)
	f.defaultVia("wlan0", "10.1.0.1", 101, 0)
	f.defaultVia("wwan0", "10.2.0.1", 0, 0)
	f.defaultVia("wwan0", "2001:db8:2::1", 0, 0)
	fixture{t: t, h: testutil.NetlinkHandle(t, peerfd)}.up("p0", "pw0")
	waitOperUp(t, ns, "wlan0", "wwan0", "veth9", "pv9")

	m, err := New(Config{NetNS: fd, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	watchdog := time.AfterFunc(2*time.Minute, func() { panic("TestIntegrationMonitor hangs") })
	defer watchdog.Stop()

	// The first Delta is the initial state.
	w := &watcher{t: t, m: m}
	first := w.next(5 * time.Second)
	if len(first.Old.Links) != 0 {
		t.Errorf("first Delta has Old %s", fmtSnapshot(first.Old))
	}
	want := map[string]Link{
		"lo":    {Name: "lo", Class: ClassLoopback, Up: true},
		"wlan0": {Name: "wlan0", Class: ClassWifi, Up: true, Addrs: addrs("10.1.0.2", "2001:db8:1::2")},
		"wwan0": {Name: "wwan0", Class: ClassCellular, Up: true, Addrs: addrs("10.2.0.2", "2001:db8:2::2")},
		"veth9": {Name: "veth9", Class: ClassVirtual, Up: true, Addrs: addrs("10.9.0.2")},
		"pv9":   {Name: "pv9", Class: ClassVirtual, Up: true},
	}
	if len(first.New.Links) != len(want) {
		t.Errorf("first snapshot has %d links, want %d: %s", len(first.New.Links), len(want), fmtSnapshot(first.New))
	}
	for _, l := range first.New.Links {
		w, ok := want[l.Name]
		w.Index = l.Index
		if !ok || !(Snapshot{Links: []Link{l}}).Equal(Snapshot{Links: []Link{w}}) {
			t.Errorf("first snapshot: got %+v, want %+v", l, w)
		}
	}
	if !slices.IsSortedFunc(first.New.Links, func(a, b Link) int { return int(a.Index - b.Index) }) {
		t.Errorf("links not sorted by index: %s", fmtSnapshot(first.New))
	}
	if s, err := m.Snapshot(); err != nil || !s.Equal(first.New) {
		t.Errorf("Snapshot() = %s, %v; want the first snapshot", fmtSnapshot(s), err)
	}

	// A policy-routing rule of either family is a change: the digest
	// covers rules (TestIntegrationRuleEvents: the monitor hears of them).
	for _, cmd := range []string{"rule add from 10.9.9.9 table 7", "-6 rule add from 2001:db8:9::9 table 7"} {
		before := w.cur.Routes
		ipns(t, ns, cmd)
		w.until(2*time.Second, cmd, func(s Snapshot) bool { return s.Routes != before })
	}
	before := w.cur.Routes

	// A link going down is reported at once (leading edge).
	start := time.Now()
	ipns(t, ns, "link set wlan0 down")
	ipDone := time.Now()
	d, n := w.until(2*time.Second, "wlan0 down", func(s Snapshot) bool {
		l, ok := s.ByName("wlan0")
		return ok && !l.Up
	})
	got := time.Now()
	t.Logf("ip link set wlan0 down → Delta: %v from starting ip(8), %v after it returned (%d Delta)",
		got.Sub(start).Round(time.Microsecond), got.Sub(ipDone).Round(time.Microsecond), n)
	if !slices.ContainsFunc(d.LinkDown(), func(l Link) bool { return l.Name == "wlan0" }) {
		t.Errorf("LinkDown() = %v, want wlan0 in it", names(d.LinkDown()))
	}
	// Admin down also flushes wlan0's IPv6 addresses (keep_addr_on_down=0)
	// and its routes, table 101's default included: the routes' digest
	// changes.
	d, _ = w.until(2*time.Second, "wlan0 flushed", func(s Snapshot) bool {
		l, _ := s.ByName("wlan0")
		return slices.Equal(l.Addrs, addrs("10.1.0.2")) && s.Routes != before
	})
	before = d.New.Routes

	// An address deleted.
	v4 := netip.MustParseAddr("10.2.0.2")
	ipns(t, ns, "addr del 10.2.0.2/24 dev wwan0")
	d, _ = w.until(2*time.Second, "address deleted", func(s Snapshot) bool {
		l, _ := s.ByName("wwan0")
		return !slices.Contains(l.Addrs, v4)
	})
	if !slices.Contains(d.AddrsGone(), v4) {
		t.Errorf("AddrsGone() = %v, want %v in it", d.AddrsGone(), v4)
	}
	// The kernel also drops the subnet's route and the IPv4 default
	// route whose gateway was reachable only through it.
	w.until(2*time.Second, "routes of the deleted subnet", func(s Snapshot) bool {
		return s.Routes != before
	})

	// A storm: 200 toggles of wwan0 in one ip -batch. Deltas coalesce; the
	// final state is right.
	var storm []string
	for range 100 {
		storm = append(storm, "link set wwan0 down", "link set wwan0 up")
	}
	time.Sleep(2 * DefaultSettle) // start from quiet: leading edge, then coalescing
	stormStart := time.Now()
	ipBatch(t, ns, storm)
	stormDone := time.Now()
	waitOperUp(t, ns, "wwan0")
	deltas := w.drain(500*time.Millisecond, 10*time.Second)
	t.Logf("storm of %d toggles (ip -batch took %v): %d Deltas until quiet", len(storm),
		stormDone.Sub(stormStart).Round(time.Millisecond), deltas)
	if deltas >= 100 {
		t.Errorf("%d Deltas for %d toggles, want far fewer", deltas, len(storm))
	}
	now, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !w.cur.Equal(now) {
		t.Errorf("after the storm the last Delta is %s\nbut the namespace is %s", fmtSnapshot(w.cur), fmtSnapshot(now))
	}
	// wwan0 is up again, but the first down flushed its IPv6 address and
	// every route through it: the kernel does not restore them.
	if l, _ := now.ByName("wwan0"); !l.Up || len(l.Addrs) != 0 {
		t.Errorf("after the storm wwan0 is %+v, want up, without addresses", l)
	}
	if _, err := m.Route(netip.MustParseAddr("2001:db8:2::2"), netip.MustParseAddr("2001:db8:99::1")); !errors.Is(err, ErrNoRoute) {
		t.Errorf("after the storm a route from wwan0's flushed address: %v, want ErrNoRoute", err)
	}

	// Latency without ip(8)'s fork and exec: set veth9 down with one
	// rtnetlink request, after a quiet period (so on the leading edge),
	// and time until the Delta arrives.
	veth9, _ := now.ByName("veth9")
	var lat []time.Duration
	for range 20 {
		time.Sleep(2 * DefaultSettle) // let the settle window close
		t0 := time.Now()
		setLinkUp(t, f.h, veth9.Index, false)
		w.until(2*time.Second, "veth9 down", func(s Snapshot) bool { l, _ := s.ByName("veth9"); return !l.Up })
		lat = append(lat, time.Since(t0))
		setLinkUp(t, f.h, veth9.Index, true)
		w.until(2*time.Second, "veth9 up", func(s Snapshot) bool { l, _ := s.ByName("veth9"); return l.Up })
	}
	slices.Sort(lat)
	t.Logf("RTM_NEWLINK (veth9 down) sent → Delta received, 20 runs: min %v, median %v, max %v",
		lat[0].Round(time.Microsecond), lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))

	// Cancel: Run returns nil promptly and closes Changes.
	stop := time.Now()
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
		if el := time.Since(stop); el > time.Second {
			t.Errorf("Run returned %v after cancel", el)
		} else {
			t.Logf("Run returned %v after cancel", el.Round(time.Microsecond))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for range m.Changes() {
	}
	if err := m.Run(context.Background()); err != ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}

	// No goroutine outlives Run (a little slack for runtime helpers). The
	// namespaces' own threads (internal/netns) are not the monitor's.
	netns.Release(fd)
	netns.Release(peerfd)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutinesBefore+1 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", goroutinesBefore, g, buf[:runtime.Stack(buf, true)])
	}
}

// TestIntegrationOverflow shrinks the event socket's buffer so that a flap
// storm overflows it (ENOBUFS): the monitor resyncs from a dump and ends at
// the right state.
func TestIntegrationOverflow(t *testing.T) {
	requirePrivilege(t)
	ns, fd := newNetns(t)
	f := fixture{t: t, h: testutil.NetlinkHandle(t, fd)}
	f.veth("wwan0", "pw0", 0)
	f.up("pw0", "wwan0")
	f.addr("wwan0", "10.2.0.2/24", false, false)
	waitOperUp(t, ns, "wwan0")

	var overflows atomic.Int64
	m, err := New(Config{NetNS: fd, Logf: func(format string, args ...any) {
		if strings.Contains(format, "ENOBUFS") {
			overflows.Add(1)
			return
		}
		t.Logf(format, args...)
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.sys.eventBuffer = 1 // the kernel's minimum, about one message
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	w := &watcher{t: t, m: m}
	w.next(5 * time.Second)

	var storm []string
	for range 500 {
		storm = append(storm, "link set wwan0 down", "link set wwan0 up")
	}
	storm = append(storm, "link set wwan0 down")
	ipBatch(t, ns, storm)
	_, n := w.until(5*time.Second, "wwan0 down after the storm", func(s Snapshot) bool {
		l, _ := s.ByName("wwan0")
		return !l.Up
	})
	deltas := n + w.drain(300*time.Millisecond, 10*time.Second)
	now, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !w.cur.Equal(now) {
		t.Errorf("last Delta %s\nnamespace %s", fmtSnapshot(w.cur), fmtSnapshot(now))
	}
	t.Logf("%d toggles: %d ENOBUFS log lines, %d Deltas", len(storm), overflows.Load(), deltas)
	if overflows.Load() == 0 {
		t.Error("the event socket never overflowed: the resync path was not exercised")
	}
}

// TestIntegrationCallerNamespace runs a Monitor with NetNS 0 (this process's
// namespace, with sysfs) for a Snapshot only: it must find lo.
func TestIntegrationCallerNamespace(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	lo := slices.IndexFunc(s.Links, func(l Link) bool { return l.Class == ClassLoopback })
	if lo < 0 {
		t.Fatalf("no loopback link in %s", fmtSnapshot(s))
	}
	for _, l := range s.Links {
		t.Logf("%+v", l)
	}
}

// watcher follows the Deltas of a Monitor and checks that each continues
// the previous one (its Old is the last New received).
type watcher struct {
	t   *testing.T
	m   *Monitor
	cur Snapshot
}

// next returns the next Delta, failing after timeout.
func (w *watcher) next(timeout time.Duration) Delta {
	w.t.Helper()
	select {
	case d, ok := <-w.m.Changes():
		if !ok {
			w.t.Fatal("Changes closed")
		}
		w.accept(d)
		return d
	case <-time.After(timeout):
		w.t.Fatalf("no Delta within %v", timeout)
	}
	return Delta{}
}

// accept checks that d continues the Deltas received so far.
func (w *watcher) accept(d Delta) {
	w.t.Helper()
	if !d.Old.Equal(w.cur) {
		w.t.Errorf("Delta's Old %s\nis not the last New received %s", fmtSnapshot(d.Old), fmtSnapshot(w.cur))
	}
	if d.New.Equal(d.Old) {
		w.t.Errorf("Delta without change: %s", fmtSnapshot(d.New))
	}
	w.cur = d.New
}

// until receives Deltas until the state satisfies ok (perhaps already), and
// returns the Delta that made it so and how many were received.
func (w *watcher) until(timeout time.Duration, what string, ok func(Snapshot) bool) (Delta, int) {
	w.t.Helper()
	if ok(w.cur) {
		return Delta{Old: w.cur, New: w.cur}, 0
	}
	deadline := time.Now().Add(timeout)
	for n := 1; ; n++ {
		d := w.next(time.Until(deadline))
		if ok(d.New) {
			return d, n
		}
		w.t.Logf("%s: not yet: %s", what, fmtDelta(d))
	}
}

// drain receives Deltas until none came for quiet, and returns how many
// came; it fails if they keep coming for timeout.
func (w *watcher) drain(quiet, timeout time.Duration) int {
	w.t.Helper()
	deadline := time.After(timeout)
	for n := 0; ; n++ {
		select {
		case d, ok := <-w.m.Changes():
			if !ok {
				w.t.Fatal("Changes closed")
			}
			w.accept(d)
		case <-time.After(quiet):
			return n
		case <-deadline:
			w.t.Fatalf("still changing after %v (%d Deltas)", timeout, n)
		}
	}
}

func fmtDelta(d Delta) string {
	return fmt.Sprintf("down %v, up %v, gone %v, added %v", names(d.LinkDown()), names(d.LinkUp()), d.AddrsGone(), d.AddrsAdded())
}

func names(ls []Link) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

// setLinkUp sets or clears IFF_UP of a link with one RTM_NEWLINK request on
// h, like `ip link set dev X up|down`.
func setLinkUp(t *testing.T, h *netlink.Handle, index int32, up bool) {
	t.Helper()
	l := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: int(index)}}
	set := h.LinkSetDown
	if up {
		set = h.LinkSetUp
	}
	if err := set(l); err != nil {
		t.Fatalf("set link %d up=%v: %v", index, up, err)
	}
}

// TestIntegrationRuleEvents: the event socket hears policy-routing rules
// of both families come and go (the rule groups have no legacy bit for
// IPv6, so they are joined by number).
func TestIntegrationRuleEvents(t *testing.T) {
	requirePrivilege(t)
	ns, fd := newNetns(t)
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	events, err := m.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	for _, cmd := range []string{"rule add from 10.9.9.9 table 7", "-6 rule add from 2001:db8:9::9 table 7", "-6 rule del from 2001:db8:9::9 table 7"} {
		ipns(t, ns, cmd)
		if err := events.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for got := false; !got; {
			msgs, err := events.Receive()
			if err != nil {
				t.Fatalf("after %q: %v", cmd, err)
			}
			for _, msg := range msgs {
				got = got || msg.Header.Type == unix.RTM_NEWRULE || msg.Header.Type == unix.RTM_DELRULE
			}
		}
	}
}
