package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// fakeRouter answers route lookups from a table and counts them: wwan0's
// address has no route, wlan0's leaves through wlan0.
type fakeRouter struct {
	calls int
	route map[netip.Addr]int32 // by source: the output interface; absent: no route
}

func (f *fakeRouter) Route(src, dst netip.Addr) (ifmon.Route, error) {
	f.calls++
	oif, ok := f.route[src]
	if !ok {
		return ifmon.Route{}, fmt.Errorf("route to %s from %s: %w: %w", dst, src, ifmon.ErrNoRoute, syscall.ENETUNREACH)
	}
	return ifmon.Route{Src: src, Dst: dst, OIF: oif}, nil
}

// TestRouteBook: the routes of a peer are looked up once per snapshot,
// from every address of its family on a link that is up; an interface
// change looks them up again; the server side looks up nothing; the
// engine hears the kernel's "no route".
func TestRouteBook(t *testing.T) {
	wlan, wwan := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
	snap := ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 1, Name: "lo", Class: ifmon.ClassLoopback, Up: true, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}},
		{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{wlan, netip.MustParseAddr("fd00:1::2")}},
		{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{wwan}},
		{Index: 5, Name: "eth0", Class: ifmon.ClassWired, Addrs: []netip.Addr{netip.MustParseAddr("10.0.5.2")}},
	}}
	f := &fakeRouter{route: map[netip.Addr]int32{wlan: 3}}
	var logs strings.Builder
	d := &Daemon{state: engine.NewState(snap), measurec: make(chan bool, 1), routes: routeBook{router: f},
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	p := &policy.Policy{Name: "x", Mode: policy.ModeInteractive, Paths: policy.DefaultPaths}
	peer := netip.MustParseAddrPort("10.0.3.2:80")
	conn := func(tok uint32, server bool) {
		d.step(engine.ConnCreated{EventBase: now(), Token: tok, Local: netip.AddrPortFrom(wlan, 4000), Remote: peer, ServerSide: server, Policy: p})
	}
	conn(1, false)
	if f.calls != 2 {
		t.Errorf("%d lookups for a new peer, want 2 (wlan0's and wwan0's IPv4 addresses)", f.calls)
	}
	if why := d.state.Excluded(1)[4]; !strings.Contains(why, "network is unreachable") {
		t.Errorf("Excluded = %v, want wwan0 without a route", d.state.Excluded(1))
	}
	if !strings.Contains(logs.String(), "paths without a route to the peer are not used") {
		t.Errorf("log:\n%s\nwant the path without a route", logs.String())
	}
	conn(2, false)
	conn(3, true)
	if f.calls != 2 {
		t.Errorf("%d lookups after two more connections to the same peer, want still 2", f.calls)
	}
	f.route[wwan] = 4 // the route appears
	d.step(engine.InterfacesChanged{EventBase: now(), Ifaces: ifmon.Snapshot{Links: snap.Links, Routes: 1}})
	if f.calls != 4 {
		t.Errorf("%d lookups after an interface change, want 4", f.calls)
	}
	if ex := d.state.Excluded(1); ex != nil {
		t.Errorf("Excluded = %v after the route appeared, want none", ex)
	}
	if !strings.Contains(logs.String(), "every path has a route to the peer again") {
		t.Errorf("log:\n%s\nwant the route back", logs.String())
	}
}
