package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The fakes of these tests are route lookups as the daemon feeds them in
// (Route), and snapshots with temporary, deprecated and ULA addresses.

func via(src netip.Addr, dst netip.AddrPort, dev int32) Route {
	return Route{Src: src, Dst: dst.Addr(), Dev: dev}
}

func noRoute(src netip.Addr, dst netip.AddrPort) Route {
	return Route{Src: src, Dst: dst.Addr(), Err: "network is unreachable"}
}

// TestRouteInteractive: a path without a route to the peer gets no
// subflow; it gets one once a route appears, and it is closed when the
// route goes.
func TestRouteInteractive(t *testing.T) {
	p := pol(policy.ModeInteractive)
	cellSub := netip.AddrPortFrom(cell4, 41000)
	routed := []Route{via(wifi4, srv, 3), via(cell4, srv, 4)}
	steps := []step{
		{ev: RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srv, 3), noRoute(cell4, srv)}}},
		{ev: established(p, 0)[0]},
		// Established: wwan0 has no route to the peer: nothing to open.
		{ev: established(p, 0)[1]},
		// DHCP arrives late on wwan0: the routes changed.
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(true, true), Routes: routed},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(time.Second, cellSub, srv, 1, false)},
		// The route through wwan0 goes: its subflow is closed.
		{ev: InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(true, true), Routes: []Route{via(wifi4, srv, 3), noRoute(cell4, srv)}},
			want: []string{"destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
	}
	run(t, ifaces(true, true), steps)
}

// TestRouteThroughOtherLink: a route from wwan0's address that leaves
// through wlan0 (weak host model, one default route) is no path of
// wwan0: no subflow, and the view says why.
func TestRouteThroughOtherLink(t *testing.T) {
	s := NewState(ifaces(true, true))
	s.Step(RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srv, 3), via(cell4, srv, 3)}})
	for _, ev := range established(pol(policy.ModeAggregate), 0) {
		if r := s.Step(ev); len(r.Actions) != 0 {
			t.Fatalf("%T: actions %v, want none", ev, fmtActions(r.Actions))
		}
	}
	ex := s.Excluded(tok)
	if why := ex[4]; !strings.Contains(why, "leaves through wlan0") {
		t.Errorf("Excluded = %v, want wwan0's route through wlan0", ex)
	}
	if _, ok := ex[3]; ok {
		t.Errorf("Excluded = %v, wlan0 is used", ex)
	}
	if v := s.Conns(); len(v) != 1 || v[0].Excluded[4] != ex[4] {
		t.Errorf("Conns() = %+v, want Excluded as Excluded(tok)", v)
	}
	// A lookup the kernel answers with a local route: any source reaches.
	r := s.Step(RoutesLearned{EventBase: at(time.Second), Routes: []Route{{Src: cell4, Dst: srv.Addr(), Dev: 1, Local: true}}})
	if got := fmtActions(r.Actions); len(got) != 1 || got[0] != "create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false" {
		t.Errorf("after a local route: %v, want a subflow on wwan0", got)
	}
}

// TestRouteHandoverTarget: when the preferred path goes down, a backup
// path without a route to the peer is not a handover target; once its
// route appears it is.
func TestRouteHandoverTarget(t *testing.T) {
	p := pol(policy.ModeHandover)
	noCell := []Route{via(wifi4, srv, 3), noRoute(cell4, srv)}
	steps := evs(append([]Event{RoutesLearned{EventBase: at(0), Routes: noCell}}, established(p, 0)...)...)
	steps = append(steps,
		step{ev: sfUp(0, initial, srv, 0, false)},
		// Wi-Fi down, and wwan0 has no route: nothing to hand over to.
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true), Routes: noCell}},
		// Its route appears.
		step{ev: InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(false, true), Routes: []Route{via(wifi4, srv, 3), via(cell4, srv, 4)}},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	)
	run(t, ifaces(true, true), steps)
}

// TestRouteWarmStandby: warm standby needs a backup path that reaches the
// peer.
func TestRouteWarmStandby(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.WarmStandby = true })
	s := NewState(ifaces(true, true))
	s.Step(RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srv, 3), noRoute(cell4, srv)}})
	for _, ev := range established(p, 0) {
		if r := s.Step(ev); len(r.Actions) != 0 {
			t.Fatalf("%T: actions %v, want no standby on a path without a route", ev, fmtActions(r.Actions))
		}
	}
}

// TestRouteAnnounced: an address the peer announced gets subflows only
// from the paths that reach it.
func TestRouteAnnounced(t *testing.T) {
	p := pol(policy.ModeAggregate, func(p *policy.Policy) { p.AcceptAnnouncements = true })
	s := NewState(ifaces(true, true))
	s.Step(RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srv, 3), via(cell4, srv, 4)}})
	for _, ev := range established(p, 0) {
		s.Step(ev)
	}
	s.Step(RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srvB, 3), noRoute(cell4, srvB)}})
	r := s.Step(PeerAnnounced{EventBase: at(time.Second), Token: tok, RemID: 1, Remote: srvB})
	got := strings.Join(fmtActions(r.Actions), "\n")
	if !strings.Contains(got, "10.0.1.2 if3 id 0 -> 10.0.4.2:5201") || strings.Contains(got, "-> 10.0.4.2:5201") && strings.Contains(got, "10.0.2.2 if4") {
		t.Errorf("actions:\n%s\nwant a subflow to the announced address from wlan0 only", got)
	}
	if peers := s.Peers(); len(peers) != 2 || peers[0] != srv.Addr() || peers[1] != srvB.Addr() {
		t.Errorf("Peers() = %v, want %v and %v", peers, srv.Addr(), srvB.Addr())
	}
}

// hygiene builds a snapshot of global IPv6 addresses: wlan0 (3) holds the
// initial subflow's, wwan0 (4) those given.
func hygiene(cell ifmon.Link) ifmon.Snapshot {
	cell.Index, cell.Name, cell.Class, cell.Up = 4, "wwan0", ifmon.ClassCellular, true
	return ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{g6("2001:db8:1::2")}},
		cell,
	}}
}

func g6(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestAddressHygiene: temporary and deprecated addresses, and a ULA
// towards a global peer, are not used for subflows unless the policy
// lists their kind; a stable address of the same link is.
func TestAddressHygiene(t *testing.T) {
	peer := netip.MustParseAddrPort("[2001:db8:3::2]:5201")
	tmp, dep, stable, ulaA := g6("2001:db8:2::99"), g6("2001:db8:2::55"), g6("2001:db8:2::2"), g6("fd00:2::2")
	for _, tt := range []struct {
		name  string
		cell  ifmon.Link
		allow policy.Addresses
		want  string // the subflow's local address; "" none
		why   string // in the view's Excluded when none
	}{
		{"temporary", ifmon.Link{Addrs: []netip.Addr{tmp}, Temporary: []netip.Addr{tmp}}, policy.Addresses{}, "", "is temporary"},
		{"temporary allowed", ifmon.Link{Addrs: []netip.Addr{tmp}, Temporary: []netip.Addr{tmp}}, policy.Addresses{Temporary: true}, "2001:db8:2::99", ""},
		{"temporary beside stable", ifmon.Link{Addrs: []netip.Addr{stable, tmp}, Temporary: []netip.Addr{tmp}}, policy.Addresses{}, "2001:db8:2::2", ""},
		{"stable first in order, temporary after", ifmon.Link{Addrs: []netip.Addr{stable, g6("2001:db8:2::3")}, Temporary: []netip.Addr{stable}}, policy.Addresses{}, "2001:db8:2::3", ""},
		{"deprecated", ifmon.Link{Addrs: []netip.Addr{dep}, Deprecated: []netip.Addr{dep}}, policy.Addresses{}, "", "is deprecated"},
		{"deprecated allowed", ifmon.Link{Addrs: []netip.Addr{dep}, Deprecated: []netip.Addr{dep}}, policy.Addresses{Deprecated: true}, "2001:db8:2::55", ""},
		{"temporary and deprecated, one allowed", ifmon.Link{Addrs: []netip.Addr{tmp}, Temporary: []netip.Addr{tmp}, Deprecated: []netip.Addr{tmp}}, policy.Addresses{Temporary: true}, "", "is deprecated"},
		{"ula to a global peer", ifmon.Link{Addrs: []netip.Addr{ulaA}}, policy.Addresses{}, "", "unique local"},
		{"ula allowed", ifmon.Link{Addrs: []netip.Addr{ulaA}}, policy.Addresses{ULA: true}, "fd00:2::2", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := pol(policy.ModeAggregate, func(p *policy.Policy) { p.Addresses = tt.allow })
			s := NewState(hygiene(tt.cell))
			s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: netip.MustParseAddrPort("[2001:db8:1::2]:40000"), Remote: peer, Policy: p})
			r := s.Step(ConnEstablished{EventBase: at(0), Token: tok})
			var got string
			for _, a := range r.Actions {
				if a.Kind == CreateSubflow {
					got = a.Local.Addr().String()
				}
			}
			if got != tt.want {
				t.Errorf("subflow from %q, want %q (actions %v)", got, tt.want, fmtActions(r.Actions))
			}
			ex := s.Excluded(tok)
			if tt.why != "" && !strings.Contains(ex[4], tt.why) {
				t.Errorf("Excluded = %v, want wwan0: …%s…", ex, tt.why)
			}
			if tt.why == "" && ex != nil {
				t.Errorf("Excluded = %v, want none", ex)
			}
		})
	}
}

// TestHygieneKeepsInitial: the initial subflow's address is the
// application's or the kernel's choice (the kernel prefers temporary
// addresses as sources with use_tempaddr=2): it is kept, and a ULA peer
// lets ULA sources be used.
func TestHygieneKeepsInitial(t *testing.T) {
	tmp := g6("2001:db8:1::99")
	snap := ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{tmp}, Temporary: []netip.Addr{tmp}, Deprecated: []netip.Addr{tmp}},
		{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{cell6}},
	}}
	s := NewState(snap)
	peer := netip.MustParseAddrPort("[2001:db8:3::2]:5201")
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: netip.AddrPortFrom(tmp, 40000), Remote: peer, Policy: pol(policy.ModeInteractive)})
	r := s.Step(ConnEstablished{EventBase: at(0), Token: tok})
	if len(r.Actions) != 0 {
		t.Errorf("actions %v: want none (wwan0 has only a ULA, wlan0 keeps its initial subflow)", fmtActions(r.Actions))
	}
	if ex := s.Excluded(tok); ex[3] != "" || !strings.Contains(ex[4], "unique local") {
		t.Errorf("Excluded = %v, want only wwan0's ULA", ex)
	}
	// Towards a ULA peer a ULA source is fine.
	s = NewState(snap)
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: netip.AddrPortFrom(tmp, 40000), Remote: srv6, Policy: pol(policy.ModeInteractive)})
	r = s.Step(ConnEstablished{EventBase: at(0), Token: tok})
	if got := fmtActions(r.Actions); len(got) != 1 || !strings.HasPrefix(got[0], "create fd00:2::2 if4") {
		t.Errorf("towards a ULA peer: %v, want a subflow from fd00:2::2", got)
	}
}

// TestDeprecatedInUse: an address that becomes deprecated while a subflow
// uses it stays in use (RFC 4862 §5.5.4); a new subflow would not take it.
func TestDeprecatedInUse(t *testing.T) {
	p := pol(policy.ModeAggregate)
	cellSub := netip.AddrPortFrom(cell4, 41000)
	deprecated := ifaces(true, true)
	deprecated.Links[2].Deprecated = []netip.Addr{cell4}
	steps := evs(established(p, 0)[0])
	steps = append(steps,
		step{ev: established(p, 0)[1], want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(0, cellSub, srv, 1, false)},
		// cell4 is deprecated now: its subflow stays.
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: deprecated}},
		// It closes (the peer reset it): no new one from a deprecated
		// address.
		step{ev: SubflowDown{EventBase: at(2 * time.Second), Token: tok, Subflow: Subflow{Local: cellSub, Remote: srv, LocID: 1}}},
	)
	run(t, ifaces(true, true), steps)
}

// TestRouteBackHoldDown: in handover mode a preferred path whose route
// came back waits out the hold-down before traffic moves back, like one
// whose link came back.
func TestRouteBackHoldDown(t *testing.T) {
	p := pol(policy.ModeHandover)
	hold := p.Handover.HoldDown
	cellSub, wifiSub := netip.AddrPortFrom(cell4, 41000), netip.AddrPortFrom(wifi4, 42000)
	routed := []Route{via(wifi4, srv, 3), via(cell4, srv, 4)}
	noWifi := []Route{noRoute(wifi4, srv), via(cell4, srv, 4)}
	back := 2 * time.Second
	steps := evs(append([]Event{RoutesLearned{EventBase: at(0), Routes: routed}}, established(p, 0)...)...)
	steps = append(steps,
		step{ev: sfUp(0, initial, srv, 0, false)},
		// wlan0's route goes: move to wwan0.
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(true, true), Routes: noWifi},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(time.Second, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(time.Second), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}, wake: -1},
		// Its route is back: wlan0 gets a backup subflow, traffic stays
		// on wwan0 until the hold-down has passed.
		step{ev: InterfacesChanged{EventBase: at(back), Ifaces: ifaces(true, true), Routes: routed},
			want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}, wake: back + hold},
		step{ev: sfUp(back, wifiSub, srv, 0, true)},
		step{ev: Tick{EventBase: at(back + hold)},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
	)
	run(t, ifaces(true, true), steps)
}

// TestExplainRoute: policy explain words a path without a route, and one
// the policy's address kinds leave out, as status does.
func TestExplainRoute(t *testing.T) {
	s := NewState(ifaces(true, true))
	s.Step(RoutesLearned{EventBase: at(0), Routes: []Route{via(wifi4, srv, 3), noRoute(cell4, srv)}})
	for _, ev := range established(pol(policy.ModeAggregate), 0) {
		s.Step(ev)
	}
	uses, ok := s.Explain(tok, t0)
	if !ok {
		t.Fatal("no explanation")
	}
	for _, u := range uses {
		if u.Interface == "wwan0" && (u.Used || !strings.Contains(u.Why, "no route to 10.0.3.2 from 10.0.2.2")) {
			t.Errorf("wwan0: %+v, want unused for lack of a route", u)
		}
	}
	if ex := s.Excluded(tok); !strings.Contains(ex[4], "no route") {
		t.Errorf("Excluded = %v", ex)
	}
}
