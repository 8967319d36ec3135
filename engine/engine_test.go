package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wifi4   = netip.MustParseAddr("10.0.1.2")
	cell4   = netip.MustParseAddr("10.0.2.2")
	wifi6   = netip.MustParseAddr("fd00:1::2")
	cell6   = netip.MustParseAddr("fd00:2::2")
	wired4  = netip.MustParseAddr("192.168.7.2")
	srv     = netip.MustParseAddrPort("10.0.3.2:5201")
	srv6    = netip.MustParseAddrPort("[fd00:3::2]:5201")
	srvB    = netip.MustParseAddrPort("10.0.4.2:5201")
	initial = netip.AddrPortFrom(wifi4, 40000)
)

const tok = 0x84715662

func at(d time.Duration) EventBase { return EventBase{At: t0.Add(d)} }

// aw is a Step's actions and wake-up time.
func aw(r Result) ([]Action, time.Time) { return r.Actions, r.Wake }

// ifaces builds a snapshot: wlan0 (3) and wwan0 (4), each up or down,
// with or without its addresses; eth0 (5) only when wired is set.
func ifaces(wifiUp, cellUp bool, opts ...string) ifmon.Snapshot {
	has := func(o string) bool {
		for _, x := range opts {
			if x == o {
				return true
			}
		}
		return false
	}
	w := ifmon.Link{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: wifiUp, Addrs: []netip.Addr{wifi4, wifi6}}
	if has("wifi-noaddr") {
		w.Addrs = nil
	}
	c := ifmon.Link{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: cellUp, Addrs: []netip.Addr{cell4, cell6}}
	s := ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 1, Name: "lo", Class: ifmon.ClassLoopback, Up: true},
		w, c,
	}}
	if has("wired") {
		s.Links = append(s.Links, ifmon.Link{Index: 5, Name: "eth0", Class: ifmon.ClassWired, Up: true, Addrs: []netip.Addr{wired4}})
	}
	return s
}

func pol(mode policy.Mode, mut ...func(*policy.Policy)) *policy.Policy {
	p := &policy.Policy{Name: string(mode), Mode: mode, Paths: policy.DefaultPaths, Handover: policy.DefaultHandover}
	for _, m := range mut {
		m(p)
	}
	return p
}

func established(p *policy.Policy, d time.Duration) []Event {
	return []Event{
		ConnCreated{EventBase: at(d), Token: tok, Local: initial, Remote: srv, Policy: p},
		ConnEstablished{EventBase: at(d), Token: tok},
	}
}

func sfUp(d time.Duration, local netip.AddrPort, remote netip.AddrPort, id uint8, backup bool) Event {
	return SubflowUp{EventBase: at(d), Token: tok, Subflow: Subflow{Local: local, Remote: remote, LocID: id, Backup: backup}}
}

// step is one event and the actions it must produce, written as
// "kind local remote id backup" strings (reasons left out).
type step struct {
	ev   Event
	want []string
	wake time.Duration // -1: no wake-up wanted; else the offset from t0
}

func fmtActions(as []Action) []string {
	var out []string
	for _, a := range as {
		switch a.Kind {
		case CreateSubflow:
			out = append(out, fmt.Sprintf("create %s if%d id %d -> %s backup=%v", a.Local.Addr(), a.IfIndex, a.ID, a.Remote, a.Backup))
		case DestroySubflow:
			out = append(out, fmt.Sprintf("destroy %s -> %s", a.Local, a.Remote))
		case SetBackup:
			out = append(out, fmt.Sprintf("backup %s -> %s %v", a.Local, a.Remote, a.Backup))
		case RemoveAddr:
			out = append(out, fmt.Sprintf("remove id %d", a.ID))
		}
	}
	return out
}

func run(t *testing.T, snap ifmon.Snapshot, steps []step) {
	t.Helper()
	s := NewState(snap)
	for i, st := range steps {
		got, wake := aw(s.Step(st.ev))
		if diff := cmp.Diff(st.want, fmtActions(got)); diff != "" {
			t.Fatalf("step %d (%T): actions (-want +got):\n%s", i, st.ev, diff)
		}
		for _, a := range got {
			if a.Reason == "" {
				t.Errorf("step %d: action %v has no reason", i, a)
			}
		}
		switch {
		case st.wake < 0 && !wake.IsZero():
			t.Errorf("step %d: wake at +%v, want none", i, wake.Sub(t0))
		case st.wake > 0 && !wake.Equal(t0.Add(st.wake)):
			t.Errorf("step %d: wake at %v, want +%v", i, wake, st.wake)
		}
	}
}

// evs turns events with no expected actions into steps.
func evs(es ...Event) []step {
	var out []step
	for _, e := range es {
		out = append(out, step{ev: e})
	}
	return out
}

func TestHandover(t *testing.T) {
	p := pol(policy.ModeHandover)
	cellSub := netip.AddrPortFrom(cell4, 41000)
	wifiSub2 := netip.AddrPortFrom(wifi4, 42000)
	steps := evs(established(p, 0)...)
	steps = append(steps,
		// Established on Wi-Fi: nothing to do.
		step{ev: sfUp(0, initial, srv, 0, false)},
		// Wi-Fi loses carrier: open cellular. The dead subflow is the
		// connection's last: it stays until cellular is up (survive.go).
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// The same snapshot again: the creation is pending: nothing new,
		// a wake-up for it.
		step{ev: InterfacesChanged{EventBase: at(time.Second + time.Millisecond), Ifaces: ifaces(false, true)},
			wake: time.Second + pendingTimeout},
		// Cellular up: now the dead subflow goes.
		step{ev: sfUp(1100*time.Millisecond, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(1100 * time.Millisecond), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
		// Wi-Fi is back: a backup subflow on it, cellular stays in use
		// for the hold-down.
		step{ev: InterfacesChanged{EventBase: at(10 * time.Second), Ifaces: ifaces(true, true)},
			want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}, wake: 15 * time.Second},
		step{ev: sfUp(10*time.Second, wifiSub2, srv, 0, true), wake: 15 * time.Second},
		// Too early.
		step{ev: Tick{EventBase: at(14 * time.Second)}, wake: 15 * time.Second},
		// After the hold-down: promote Wi-Fi, close cellular (a wake-up
		// to send the destruction again if the kernel does not answer).
		step{ev: Tick{EventBase: at(15 * time.Second)},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}, wake: 15*time.Second + pendingTimeout},
	)
	run(t, ifaces(true, true), steps)
}

// The hold-down ends while the Wi-Fi subflow is still being opened: the
// cellular subflow, the only one carrying traffic, stays until the Wi-Fi
// one is up.
func TestHandoverMakeBeforeBreak(t *testing.T) {
	p := pol(policy.ModeHandover)
	wifiSub := netip.AddrPortFrom(wifi4, 42000)
	run(t, ifaces(false, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: netip.AddrPortFrom(cell4, 40000), Remote: srv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(true, true)},
			want: []string{"create 10.0.1.2 if3 id 1 -> 10.0.3.2:5201 backup=true"}, wake: time.Second + pendingTimeout},
		// Hold-down over (5 s), the creation unanswered (blackholed
		// path): keep cellular; the pending creation times out and backs
		// off.
		{ev: Tick{EventBase: at(6 * time.Second)}, wake: 6*time.Second + backoffMin},
		{ev: Tick{EventBase: at(6*time.Second + backoffMin)}, want: []string{"create 10.0.1.2 if3 id 1 -> 10.0.3.2:5201 backup=false"}},
		// Up at last: now cellular goes.
		{ev: sfUp(7*time.Second, wifiSub, srv, 1, false), want: []string{"destroy 10.0.2.2:40000 -> 10.0.3.2:5201"}},
	})
}

func TestHandoverAddressGone(t *testing.T) {
	p := pol(policy.ModeHandover)
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: sfUp(0, initial, srv, 0, false)},
		// REMOVE_ADDR for the peer, and our own subflow closed (the
		// kernel does not close it).
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(true, true, "wifi-noaddr")},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false", "remove id 0", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		// Neither is sent again on the next change.
		step{ev: Tick{EventBase: at(2 * time.Second)}, wake: time.Second + pendingTimeout},
	)
	run(t, ifaces(true, true), steps)
}

func TestHandoverWarmStandby(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.WarmStandby = true })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p}},
		{ev: ConnEstablished{EventBase: at(0), Token: tok}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=true"}},
		{ev: sfUp(0, initial, srv, 0, false)},
		// The kernel reports the peer's flag (0) in SF_ESTABLISHED: the
		// standby is still ours to call backup, nothing to set.
		{ev: sfUp(0, cellSub, srv, 1, false)},
		// Wi-Fi down: the standby becomes the path at once.
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
			want: []string{"backup 10.0.2.2:41000 -> 10.0.3.2:5201 false", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	})
}

func TestHandoverBothDownThenCellular(t *testing.T) {
	p := pol(policy.ModeHandover)
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: sfUp(0, initial, srv, 0, false)},
		// Both down: the subflow is the connection's last, kept (it
		// carries on if Wi-Fi comes back).
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, false)}},
		// Cellular comes up first: it is used at once (no hold-down for
		// a backup path), and the dead subflow closed once it is up.
		step{ev: InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(2100*time.Millisecond, netip.AddrPortFrom(cell4, 41000), srv, 1, false),
			want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	)
	run(t, ifaces(true, true), steps)
	// The kernel closed the subflow itself while both were down: the
	// same creation when cellular comes up.
	steps = append(evs(established(p, 0)...),
		step{ev: sfUp(0, initial, srv, 0, false)},
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, false)}},
		step{ev: SubflowDown{EventBase: at(time.Second), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}, Error: uint8(syscall.ETIMEDOUT)}},
		step{ev: InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	)
	run(t, ifaces(true, true), steps)
}

func TestHandoverWiredPreferredOverWifi(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) {
		p.Paths.Prefer = []ifmon.Class{ifmon.ClassWired, ifmon.ClassWifi}
	})
	steps := evs(established(p, 0)...)
	// Started on Wi-Fi while a wired link is up and settled: move to it,
	// closing Wi-Fi only once the wired subflow is up (make before break).
	steps[1].want = []string{"create 192.168.7.2 if5 id 1 -> 10.0.3.2:5201 backup=false"}
	steps = append([]step{steps[0], {ev: sfUp(0, initial, srv, 0, false)}}, steps[1],
		step{ev: sfUp(time.Millisecond, netip.AddrPortFrom(wired4, 43000), srv, 1, true),
			want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}})
	run(t, ifaces(true, true, "wired"), steps)
}

func TestInteractiveAndAggregate(t *testing.T) {
	for _, m := range []policy.Mode{policy.ModeInteractive, policy.ModeAggregate} {
		t.Run(string(m), func(t *testing.T) {
			p := pol(m)
			cellSub := netip.AddrPortFrom(cell4, 41000)
			run(t, ifaces(true, true), []step{
				{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p}},
				{ev: ConnEstablished{EventBase: at(0), Token: tok}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
				{ev: sfUp(0, initial, srv, 0, false)},
				{ev: sfUp(0, cellSub, srv, 1, false)},
				{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
					want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
				{ev: SubflowDown{EventBase: at(time.Second), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
				// Back: a subflow on Wi-Fi again, with the initial address's ID 0.
				{ev: InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(true, true)},
					want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=false"}},
			})
		})
	}
}

func TestSingleAndServerSideDoNothing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          *policy.Policy
		serverSide bool
	}{
		{"single", pol(policy.ModeSingle), false},
		{"server side", pol(policy.ModeAggregate), true},
		{"no policy", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, ifaces(true, true), evs(
				ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: tc.p, ServerSide: tc.serverSide},
				ConnEstablished{EventBase: at(0), Token: tok},
				sfUp(0, initial, srv, 0, false),
				InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
				PeerAnnounced{EventBase: at(2 * time.Second), Token: tok, RemID: 3, Remote: srvB},
				Tick{EventBase: at(3 * time.Second)},
			))
		})
	}
}

func TestNothingBeforeEstablished(t *testing.T) {
	p := pol(policy.ModeAggregate)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p}},
		{ev: InterfacesChanged{EventBase: at(time.Millisecond), Ifaces: ifaces(true, true, "wired")}},
		{ev: ConnEstablished{EventBase: at(2 * time.Millisecond), Token: tok},
			want: []string{"create 192.168.7.2 if5 id 1 -> 10.0.3.2:5201 backup=false", "create 10.0.2.2 if4 id 2 -> 10.0.3.2:5201 backup=false"}},
	})
}

func TestFailureBacksOff(t *testing.T) {
	p := pol(policy.ModeAggregate)
	create := Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(cell4, 0), ID: 1, IfIndex: 4, Remote: srv}
	refused := errors.New("limit reached")
	steps := evs(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p})
	steps = append(steps,
		step{ev: ConnEstablished{EventBase: at(0), Token: tok}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: ActionFailed{EventBase: at(time.Millisecond), Action: create, Err: refused}, wake: backoffMin + time.Millisecond},
		// Other events before the back-off ends do not retry.
		step{ev: sfUp(10*time.Millisecond, initial, srv, 0, false), wake: backoffMin + time.Millisecond},
		step{ev: Tick{EventBase: at(backoffMin + time.Millisecond)}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// A second failure doubles the back-off.
		step{ev: ActionFailed{EventBase: at(time.Second), Action: create, Err: refused}, wake: time.Second + 2*backoffMin},
		// The join is refused by the peer: SF_CLOSED with an error.
		step{ev: Tick{EventBase: at(time.Second + 2*backoffMin)}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: SubflowDown{EventBase: at(2 * time.Second), Token: tok, Subflow: Subflow{Local: netip.AddrPortFrom(cell4, 41000), Remote: srv, LocID: 1}, Error: 111},
			wake: 2*time.Second + 4*backoffMin},
	)
	run(t, ifaces(true, true), steps)
}

func TestPendingTimesOut(t *testing.T) {
	p := pol(policy.ModeAggregate)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: Tick{EventBase: at(pendingTimeout - time.Millisecond)}, wake: pendingTimeout},
		// Unanswered: counts as a failure, retried after the back-off.
		{ev: Tick{EventBase: at(pendingTimeout)}, wake: pendingTimeout + backoffMin},
		{ev: Tick{EventBase: at(pendingTimeout + backoffMin)}, want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	})
}

func TestClosedMidAction(t *testing.T) {
	p := pol(policy.ModeAggregate)
	create := Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(cell4, 0), ID: 1, IfIndex: 4, Remote: srv}
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: ConnClosed{EventBase: at(time.Millisecond), Token: tok}},
		{ev: ActionFailed{EventBase: at(2 * time.Millisecond), Action: create, Err: errors.New("invalid token")}},
		{ev: sfUp(3*time.Millisecond, netip.AddrPortFrom(cell4, 41000), srv, 1, false)},
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)}, wake: -1},
	})
}

func TestAnnouncements(t *testing.T) {
	ann := PeerAnnounced{EventBase: at(time.Second), Token: tok, RemID: 3, Remote: netip.AddrPortFrom(srvB.Addr(), 0)}
	t.Run("ignored by default", func(t *testing.T) {
		p := pol(policy.ModeAggregate)
		run(t, ifaces(true, false), append(evs(established(p, 0)...), step{ev: sfUp(0, initial, srv, 0, false)}, step{ev: ann}))
	})
	t.Run("accepted", func(t *testing.T) {
		p := pol(policy.ModeAggregate, func(p *policy.Policy) { p.AcceptAnnouncements = true })
		run(t, ifaces(true, false), append(evs(established(p, 0)...),
			step{ev: sfUp(0, initial, srv, 0, false)},
			// No port in the ADD_ADDR: the connection's port.
			step{ev: ann, want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.4.2:5201 backup=false"}},
			step{ev: sfUp(time.Second, netip.AddrPortFrom(wifi4, 43000), srvB, 0, false)},
			// The peer removes it: its subflow is closed by the kernel; nothing to add.
			step{ev: PeerRemoved{EventBase: at(2 * time.Second), Token: tok, RemID: 3},
				want: []string{"destroy 10.0.1.2:43000 -> 10.0.4.2:5201"}},
		))
	})
	t.Run("handover uses the initial address only", func(t *testing.T) {
		p := pol(policy.ModeHandover, func(p *policy.Policy) { p.AcceptAnnouncements = true })
		run(t, ifaces(true, true), append(evs(established(p, 0)...), step{ev: sfUp(0, initial, srv, 0, false)}, step{ev: ann}))
	})
}

func TestAdoptAfterRestart(t *testing.T) {
	// The daemon restarts while a handover is done: Wi-Fi is up and
	// settled, the connection runs on cellular with Wi-Fi as backup.
	p := pol(policy.ModeHandover)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true,
			Subflows: []Subflow{
				{Local: netip.AddrPortFrom(cell4, 41000), Remote: srv, LocID: 1},
				{Local: netip.AddrPortFrom(wifi4, 42000), Remote: srv, LocID: 0, Backup: true},
			}},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
	})
}

func TestIPv6AndMappedAddresses(t *testing.T) {
	p := pol(policy.ModeAggregate)
	local6 := netip.AddrPortFrom(wifi6, 40000)
	t.Run("v6", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: ConnCreated{EventBase: at(0), Token: tok, Local: local6, Remote: srv6, Policy: p, Established: true},
				want: []string{"create fd00:2::2 if4 id 1 -> [fd00:3::2]:5201 backup=false"}},
		})
	})
	t.Run("v4-mapped", func(t *testing.T) {
		mapped := func(ap netip.AddrPort) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}
		run(t, ifaces(true, true), []step{
			{ev: ConnCreated{EventBase: at(0), Token: tok, Local: mapped(initial), Remote: mapped(srv), Policy: p, Established: true},
				want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		})
	})
}

func TestFlapStormBounded(t *testing.T) {
	// Wi-Fi flaps 500 times in 5 s in aggregate mode: one creation at a
	// time, and every failure backs off, so commands stay far below the
	// number of flaps.
	p := pol(policy.ModeAggregate)
	s := NewState(ifaces(true, true))
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: netip.AddrPortFrom(cell4, 40000), Remote: srv, Policy: p, Established: true})
	s.Step(sfUp(0, netip.AddrPortFrom(cell4, 40000), srv, 0, false))
	var creates, destroys int
	for i := range 1000 {
		up := i%2 == 1
		as, _ := aw(s.Step(InterfacesChanged{EventBase: at(time.Duration(i) * 5 * time.Millisecond), Ifaces: ifaces(up, true)}))
		for _, a := range as {
			switch a.Kind {
			case CreateSubflow:
				creates++
				// The kernel refuses: the link flapped away.
				s.Step(ActionFailed{EventBase: at(time.Duration(i)*5*time.Millisecond + time.Millisecond), Action: a, Err: errors.New("down")})
			case DestroySubflow:
				destroys++
			}
		}
	}
	if creates > 20 || destroys > 0 {
		t.Errorf("500 flaps gave %d creations and %d destructions; want at most 20 and 0", creates, destroys)
	}
}

func TestActionString(t *testing.T) {
	a := Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(cell4, 0), ID: 1, IfIndex: 4, Remote: srv, Reason: "why"}
	if got := a.String(); !strings.Contains(got, "create-subflow token 84715662 10.0.2.2 id 1 if 4 -> 10.0.3.2:5201") || !strings.HasSuffix(got, "(why)") {
		t.Errorf("String() = %q", got)
	}
}

func TestActionResults(t *testing.T) {
	cellSub := netip.AddrPortFrom(cell4, 41000)
	wifiSub := netip.AddrPortFrom(wifi4, 42000)
	promote := Action{Kind: SetBackup, Token: tok, Local: wifiSub, Remote: srv, Backup: false}
	destroyCell := Action{Kind: DestroySubflow, Token: tok, Local: cellSub, Remote: srv}
	adopt := ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeHandover), Established: true,
		Subflows: []Subflow{{Local: cellSub, Remote: srv, LocID: 1}, {Local: wifiSub, Remote: srv, Backup: true}}}
	t.Run("promotion learnt", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: adopt, want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
			{ev: ActionDone{EventBase: at(time.Millisecond), Action: promote}, wake: -1},
			// The kernel sends no event for our own MP_PRIO: without
			// ActionDone this would promote again.
			{ev: Tick{EventBase: at(10 * time.Millisecond)}, wake: pendingTimeout},
			// The destruction went unanswered: issued again.
			{ev: Tick{EventBase: at(pendingTimeout)}, want: []string{"destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
		})
	})
	t.Run("destroy of a subflow the kernel does not have", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: adopt, want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
			{ev: ActionDone{EventBase: at(time.Millisecond), Action: promote}},
			{ev: ActionFailed{EventBase: at(time.Millisecond), Action: destroyCell, Err: fmt.Errorf("subflow not found: %w", syscall.ESRCH)}, wake: -1},
			{ev: Tick{EventBase: at(time.Hour)}, wake: -1},
		})
	})
	t.Run("refused promotion backs off", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: adopt, want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
			{ev: ActionFailed{EventBase: at(time.Millisecond), Action: promote, Err: errors.New("EINVAL")}, wake: time.Millisecond + backoffMin},
			{ev: SubflowDown{EventBase: at(2 * time.Millisecond), Token: tok, Subflow: Subflow{Local: cellSub, Remote: srv}}, wake: time.Millisecond + backoffMin},
			{ev: Tick{EventBase: at(time.Millisecond + backoffMin)}, want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false"}},
		})
	})
	t.Run("reloaded into single", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeAggregate), Established: true},
				want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
			{ev: sfUp(time.Millisecond, cellSub, srv, 1, false)},
			{ev: PolicyChanged{EventBase: at(time.Second), Token: tok, Policy: pol(policy.ModeSingle)},
				want: []string{"destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
			// Wi-Fi goes: single mode opens nothing, and keeps its one
			// subflow (closing it would leave the connection none).
			{ev: SubflowDown{EventBase: at(2 * time.Second), Token: tok, Subflow: Subflow{Local: cellSub, Remote: srv}}},
			{ev: InterfacesChanged{EventBase: at(3 * time.Second), Ifaces: ifaces(false, true)}},
		})
	})
	t.Run("policy changed", func(t *testing.T) {
		run(t, ifaces(true, true), []step{
			{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeSingle), Established: true}},
			{ev: PolicyChanged{EventBase: at(time.Second), Token: tok, Policy: pol(policy.ModeAggregate)},
				want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		})
	})
}

func quality(d time.Duration, local netip.AddrPort, srtt time.Duration, rtos int, segs, retrans uint64) Event {
	return Quality{EventBase: at(d), Token: tok, Local: local, Remote: srv, SRTT: srtt, RTOs: rtos, SegsOut: segs, Retrans: retrans}
}

func TestQualityHandoverBlackhole(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: quality(100*ms, initial, 50*time.Microsecond, 0, 10, 0)},
		// The first RTO on Wi-Fi (link still up): move now. The stuck
		// subflow is the connection's last: closed (the kernel reinjects
		// its data) once cellular is up (survive.go).
		step{ev: quality(400*ms, initial, 50*time.Microsecond, 1, 12, 1),
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// The peer cannot hear the close on the blackholed path:
		// REMOVE_ADDR, carried by the new subflow, tells it.
		step{ev: sfUp(401*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}, wake: 1400 * ms},
		step{ev: SubflowDown{EventBase: at(402 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}, wake: 1400 * ms},
		// Hold-down over: a fresh backup subflow probes Wi-Fi.
		step{ev: Tick{EventBase: at(1400 * ms)}, want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		step{ev: sfUp(1401*ms, probeSub, srv, 0, false)},
		// Its handshake measured well: good from now, back after the hold-down.
		step{ev: quality(1402*ms, probeSub, 60*time.Microsecond, 0, 0, 0), wake: 2402 * ms},
		step{ev: Tick{EventBase: at(2402 * ms)},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
	)
	run(t, ifaces(true, true), steps)
}

func TestQualityProbeBadBacksOff(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second; p.Handover.RTT = 200 * time.Millisecond })
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		// Slow, not broken: cellular first, Wi-Fi closed once it is up.
		step{ev: quality(100*ms, initial, 300*ms, 0, 10, 0), want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(150*ms, netip.AddrPortFrom(cell4, 41000), srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(160 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
		step{ev: Tick{EventBase: at(1100 * ms)}, want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		step{ev: sfUp(1200*ms, probeSub, srv, 0, false)},
		// Still slow: the probe is closed, the next one in 2 s (twice
		// the hold-down).
		step{ev: quality(1201*ms, probeSub, 310*ms, 0, 0, 0), want: []string{"destroy 10.0.1.2:42000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(1202 * ms), Token: tok, Subflow: Subflow{Local: probeSub, Remote: srv}}, wake: 3201 * ms},
		step{ev: Tick{EventBase: at(3201 * ms)}, want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
	)
	run(t, ifaces(true, true), steps)
}

func TestQualityLoss(t *testing.T) {
	p := pol(policy.ModeHandover)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: quality(0, initial, ms, 0, 100, 0)},
		// 5% over the window: under the 10% threshold.
		step{ev: quality(500*ms, initial, ms, 0, 200, 5)},
		// 40 of 100 segments retransmitted in the last second.
		step{ev: quality(1000*ms, initial, ms, 0, 300, 45),
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// The lossy subflow, the connection's last, goes once cellular is up.
		step{ev: sfUp(1001*ms, netip.AddrPortFrom(cell4, 41000), srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}},
	)
	run(t, ifaces(true, true), steps)
	// Too few segments say nothing.
	run(t, ifaces(true, true), append(evs(established(p, 0)...),
		step{ev: quality(0, initial, ms, 0, 0, 0)},
		step{ev: quality(500*ms, initial, ms, 0, 10, 9)},
	))
}

func TestQualityInteractiveDemotes(t *testing.T) {
	p := pol(policy.ModeInteractive, func(p *policy.Policy) { p.Handover.HoldDown = time.Second; p.Handover.RTT = 200 * time.Millisecond })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(ms, cellSub, srv, 1, false)},
		// Wi-Fi's RTT rises over the threshold: demoted, not closed.
		{ev: quality(100*ms, initial, 300*ms, 0, 10, 0), want: []string{"backup 10.0.1.2:40000 -> 10.0.3.2:5201 true"}},
		{ev: ActionDone{EventBase: at(101 * ms), Action: Action{Kind: SetBackup, Token: tok, Local: initial, Remote: srv, Backup: true}}},
		// A demoted subflow measures nothing new: when the probe is due it
		// is replaced by a fresh one, whose handshake measures the path.
		{ev: Tick{EventBase: at(1100 * ms)},
			want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		{ev: SubflowDown{EventBase: at(1101 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
		{ev: sfUp(1102*ms, probeSub, srv, 0, false)},
		{ev: quality(1103*ms, probeSub, 100*time.Microsecond, 0, 0, 0), wake: 2103 * ms},
		// Good for the hold-down: promoted again.
		{ev: Tick{EventBase: at(2103 * ms)}, want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false"}},
	})
}

func TestQualityIgnoredByAggregate(t *testing.T) {
	p := pol(policy.ModeAggregate)
	run(t, ifaces(true, false), append(evs(established(p, 0)...),
		step{ev: quality(time.Second, initial, time.Second, 5, 100, 90)},
	))
}

func TestServerSideAnnounces(t *testing.T) {
	p := pol(policy.ModeSingle, func(p *policy.Policy) {
		p.Announce = []netip.AddrPort{
			netip.MustParseAddrPort("10.0.4.2:0"),    // the connection's port
			netip.MustParseAddrPort("10.0.4.2:5301"), // another port
			netip.MustParseAddrPort("10.0.3.2:0"),    // the connection's own address: nothing to say
			netip.MustParseAddrPort("[fd00:4::2]:0"), // the other family: left out
		}
	})
	local := netip.MustParseAddrPort("10.0.3.2:5201")
	remote := netip.MustParseAddrPort("10.0.1.2:40000")
	s := NewState(ifaces(true, true))
	got, _ := aw(s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: local, Remote: remote, ServerSide: true, Policy: p}))
	if len(got) != 0 {
		t.Fatalf("before ESTABLISHED: %v", got)
	}
	got, _ = aw(s.Step(ConnEstablished{EventBase: at(time.Millisecond), Token: tok}))
	var lines []string
	for _, a := range got {
		lines = append(lines, fmt.Sprintf("%s %s id %d", a.Kind, a.Local, a.ID))
	}
	want := []string{"announce 10.0.4.2:0 id 1", "announce 10.0.4.2:5301 id 2"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("announcements (-want +got):\n%s", diff)
	}
	// Once each: later events announce nothing again.
	if got, _ := aw(s.Step(InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(true, false)})); len(got) != 0 {
		t.Errorf("announced again: %v", got)
	}
}

// A demoted subflow replaced by a fresh probe from the same address (the
// same ID) gets no REMOVE_ADDR: the peer would close the probe too.
func TestQualityProbeKeepsItsID(t *testing.T) {
	p := pol(policy.ModeInteractive, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	ms := time.Millisecond
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(ms, cellSub, srv, 1, false)},
		{ev: quality(ms, initial, ms, 0, 100, 0)},
		// Spurious timeouts under a sudden delay: 40% retransmitted.
		{ev: quality(500*ms, initial, ms, 0, 200, 40), want: []string{"backup 10.0.1.2:40000 -> 10.0.3.2:5201 true"}},
		{ev: ActionDone{EventBase: at(501 * ms), Action: Action{Kind: SetBackup, Token: tok, Local: initial, Remote: srv, Backup: true}}},
		{ev: Tick{EventBase: at(1500 * ms)},
			want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		{ev: SubflowDown{EventBase: at(1501 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
	})
}
