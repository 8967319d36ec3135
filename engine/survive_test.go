package engine

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Issue 14: a connection that has data to move always has, or is getting,
// a subflow on a usable path.

const ms = time.Millisecond

var cellSub = netip.AddrPortFrom(cell4, 41000)

// refused is the kernel refusing a creation (a route that is gone for a
// moment on a flapping link).
func refused(d time.Duration, link int32, local netip.Addr, id uint8) Event {
	return ActionFailed{EventBase: at(d), Err: syscall.ENETUNREACH,
		Action: Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(local, 0), ID: id, IfIndex: link, Remote: srv}}
}

// The link of the last subflow goes down while its replacement is in its
// handshake, and the replacement's link flaps: the old subflow stays until
// a new one is up, and the creation lost with the flap is sent again at
// once.
func TestSurviveReplacedBeforeDestroyed(t *testing.T) {
	p := pol(policy.ModeHandover)
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: sfUp(0, initial, srv, 0, false)},
		step{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// Still in SYN-SENT: nothing is destroyed.
		step{ev: Tick{EventBase: at(1100 * ms)}, wake: time.Second + pendingTimeout},
		// Cellular goes down and up again: the SYN went with it.
		step{ev: InterfacesChanged{EventBase: at(1200 * ms), Ifaces: ifaces(false, false)}},
		step{ev: InterfacesChanged{EventBase: at(1300 * ms), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// The new one is up: only now the dead one goes.
		step{ev: sfUp(1310*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	)
	run(t, ifaces(true, true), steps)
}

// In aggregate mode the subflow of the link that goes down is not the
// last: it is closed at once, as before.
func TestSurviveNotLastClosedAtOnce(t *testing.T) {
	p := pol(policy.ModeAggregate)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(10*ms, cellSub, srv, 1, false)},
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)},
			want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	})
}

// Creations on cellular were refused while it flapped: its path is in
// back-off. Wi-Fi, which carried everything, goes down: the connection
// needs cellular now, and gets it at once; refused again, it is asked
// again at the rescue pace, each time a Tick.
func TestSurviveRescueBypassesBackoff(t *testing.T) {
	p := pol(policy.ModeAggregate)
	create := "create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"
	steps := []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}, want: []string{create}},
		{ev: refused(1*ms, 4, cell4, 1)},
		{ev: Tick{EventBase: at(backoffMin + 1*ms)}, want: []string{create}},
		{ev: refused(backoffMin+2*ms, 4, cell4, 1)},
		{ev: Tick{EventBase: at(1502 * ms)}, want: []string{create}},
		{ev: refused(1503*ms, 4, cell4, 1)},
		{ev: Tick{EventBase: at(3503 * ms)}, want: []string{create}},
		// Back-off 4 s.
		{ev: refused(3504*ms, 4, cell4, 1), wake: 7504 * ms},
		// Wi-Fi goes: the connection has no subflow that can carry its
		// data, and cellular is the only path.
		{ev: InterfacesChanged{EventBase: at(3600 * ms), Ifaces: ifaces(false, true)}, want: []string{create}},
		// Refused: again 50 ms later, then 100 ms after that.
		{ev: refused(3601*ms, 4, cell4, 1), wake: 3650 * ms},
		{ev: Tick{EventBase: at(3650 * ms)}, want: []string{create}},
		{ev: refused(3651*ms, 4, cell4, 1), wake: 3750 * ms},
		{ev: Tick{EventBase: at(3700 * ms)}, wake: 3750 * ms},
		{ev: Tick{EventBase: at(3750 * ms)}, want: []string{create}},
		// Up: the dead Wi-Fi subflow goes.
		{ev: sfUp(3760*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	}
	run(t, ifaces(true, true), steps)
}

// The connection's creation bucket is empty (as after a churn of mode
// changes and flaps) and cellular backs off: ordinary creations wait, the
// one a stranded connection needs does not.
func TestSurviveRescueBypassesRateLimit(t *testing.T) {
	p := pol(policy.ModeAggregate)
	create := "create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"
	s := NewState(ifaces(true, true))
	runOn(t, s, []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}, want: []string{create}},
		{ev: refused(1*ms, 4, cell4, 1), wake: 501 * ms},
	})
	s.conns[tok].createTAT = t0.Add(time.Hour) // no creation before 57 min
	runOn(t, s, []step{
		// The back-off is over, the bucket says later.
		{ev: Tick{EventBase: at(501 * ms)}, wake: time.Hour - (CreateBurst-1)*CreateInterval},
		{ev: refused(502*ms, 4, cell4, 1)}, // a late answer: back-off again
		// Wi-Fi goes.
		{ev: InterfacesChanged{EventBase: at(600 * ms), Ifaces: ifaces(false, true)}, want: []string{create}},
		{ev: sfUp(610*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
	})
}

// runOn is run on a State of the test's.
func runOn(t *testing.T, s *State, steps []step) {
	t.Helper()
	for i, st := range steps {
		got, wake := aw(s.Step(st.ev))
		if diff := cmp.Diff(st.want, fmtActions(got)); diff != "" {
			t.Fatalf("step %d (%T): actions (-want +got):\n%s", i, st.ev, diff)
		}
		switch {
		case st.wake < 0 && !wake.IsZero():
			t.Errorf("step %d: wake at +%v, want none", i, wake.Sub(t0))
		case st.wake > 0 && !wake.Equal(t0.Add(st.wake)):
			t.Errorf("step %d: wake at +%v, want +%v", i, wake.Sub(t0), st.wake)
		}
	}
}

// A connection with MaxSubflows subflows, all on a link that is down (a
// dump adopted them): the cap holds back extra subflows, not the one it
// needs.
func TestSurviveRescueBypassesMaxSubflows(t *testing.T) {
	p := pol(policy.ModeAggregate)
	var subs []Subflow
	var destroys []string
	for i := range MaxSubflows {
		l := netip.AddrPortFrom(wifi4, uint16(40000+i))
		subs = append(subs, Subflow{Local: l, Remote: srv})
		destroys = append(destroys, "destroy "+l.String()+" -> 10.0.3.2:5201")
	}
	run(t, ifaces(false, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true, Subflows: subs},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(10*ms, cellSub, srv, 1, false), want: destroys},
	})
}

// Both links go down and the kernel closes the connection's last subflow
// itself; the creations tried meanwhile were refused. When the links come
// back, the connection gets a subflow at once, back-off or not.
func TestSurviveLinksBackAfterNoSubflow(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}},
		// Wi-Fi down: cellular, refused.
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: refused(101*ms, 4, cell4, 1), wake: 150 * ms},
		// Both down; the kernel gives the Wi-Fi subflow up.
		{ev: InterfacesChanged{EventBase: at(120 * ms), Ifaces: ifaces(false, false)}},
		{ev: SubflowDown{EventBase: at(130 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}, Error: uint8(syscall.ETIMEDOUT)}},
		{ev: Tick{EventBase: at(150 * ms)}, wake: -1},
		// Cellular back, in its back-off until 601 ms: at once.
		{ev: InterfacesChanged{EventBase: at(200 * ms), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	})
	// Both back at once: Wi-Fi, in its hold-down, is opened as a backup
	// (a backup carries data when there is nothing else): that is the
	// subflow the connection is getting; cellular follows its back-off.
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: refused(101*ms, 4, cell4, 1), wake: 150 * ms},
		{ev: InterfacesChanged{EventBase: at(120 * ms), Ifaces: ifaces(false, false)}},
		{ev: SubflowDown{EventBase: at(130 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}, Error: uint8(syscall.ETIMEDOUT)}},
		{ev: InterfacesChanged{EventBase: at(200 * ms), Ifaces: ifaces(true, true)},
			want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
	})
}

// Only Wi-Fi comes back, after the connection lost every subflow: a
// creation on it, and from a Tick when the interfaces changed while the
// rescue pace held it back.
func TestSurviveTickCreates(t *testing.T) {
	p := pol(policy.ModeHandover)
	create := "create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=false"
	run(t, ifaces(true, false), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(false, false)}},
		{ev: SubflowDown{EventBase: at(110 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}, Error: uint8(syscall.ETIMEDOUT)}},
		{ev: InterfacesChanged{EventBase: at(200 * ms), Ifaces: ifaces(true, false)}, want: []string{create}},
		{ev: refused(201*ms, 3, wifi4, 0), wake: 250 * ms},
		{ev: Tick{EventBase: at(250 * ms)}, want: []string{create}},
	})
}

// A creation under way on a usable path is what the connection needs:
// no second one.
func TestSurviveNoRescueWhilePending(t *testing.T) {
	p := pol(policy.ModeHandover)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(false, true)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: Tick{EventBase: at(200 * ms)}, wake: 100*ms + pendingTimeout},
		{ev: InterfacesChanged{EventBase: at(300 * ms), Ifaces: ifaces(false, true)}, wake: 100*ms + pendingTimeout},
	})
}

// The kernel answers "invalid token": the connection is gone (its CLOSED
// event never came). The engine forgets it and sends nothing more for it.
func TestInvalidTokenForgets(t *testing.T) {
	p := pol(policy.ModeAggregate)
	gone := &genl.Error{Op: "create subflow", Message: "invalid token", Err: syscall.EINVAL}
	s := NewState(ifaces(true, true))
	steps := []Event{
		ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
		ActionFailed{EventBase: at(ms), Err: gone,
			Action: Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(cell4, 0), ID: 1, IfIndex: 4, Remote: srv}},
	}
	for _, ev := range steps {
		s.Step(ev)
	}
	if _, ok := s.conns[tok]; ok {
		t.Fatalf("after \"invalid token\" the engine still has connection %08x", tok)
	}
	for i, ev := range []Event{
		Tick{EventBase: at(time.Second)},
		InterfacesChanged{EventBase: at(2 * time.Second), Ifaces: ifaces(false, true)},
		InterfacesChanged{EventBase: at(3 * time.Second), Ifaces: ifaces(true, true)},
		// A late ESTABLISHED of it does not bring it back.
		ConnCreated{EventBase: at(4 * time.Second), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
		Tick{EventBase: at(time.Minute)},
	} {
		if got, wake := aw(s.Step(ev)); len(got) > 0 || !wake.IsZero() {
			t.Errorf("event %d (%T): actions %v, wake %v for a connection the kernel does not have", i, ev, fmtActions(got), wake)
		}
	}
	if len(s.conns) != 0 {
		t.Errorf("the engine has %d connections, want 0", len(s.conns))
	}
	// Another refusal is a refusal, not a closed connection.
	s = NewState(ifaces(true, true))
	s.Step(steps[0])
	s.Step(ActionFailed{EventBase: at(ms), Err: &genl.Error{Op: "create subflow", Message: "invalid addr id", Err: syscall.EINVAL},
		Action: Action{Kind: CreateSubflow, Token: tok, Local: netip.AddrPortFrom(cell4, 0), ID: 1, IfIndex: 4, Remote: srv}})
	if _, ok := s.conns[tok]; !ok {
		t.Errorf("a refusal other than \"invalid token\" made the engine forget the connection")
	}
}

// Single mode opens no subflow while it has its one, even on a link that
// is down (it may come back); with none left (its address went), it gets
// one on its best allowed path.
func TestSurviveSingle(t *testing.T) {
	p := pol(policy.ModeSingle)
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(false, true)}, wake: -1},
		{ev: InterfacesChanged{EventBase: at(200 * ms), Ifaces: ifaces(true, true, "wifi-noaddr")},
			want: []string{"remove id 0", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201"}},
		{ev: SubflowDown{EventBase: at(210 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		// Up: single mode keeps it.
		{ev: sfUp(220*ms, cellSub, srv, 1, false), wake: -1},
	})
}

// A connection over loopback (127.0.0.1 to itself) is on no path of the
// engine's: its address is not "gone" and it gets no subflow elsewhere,
// whatever the interfaces do (it was destroyed as gone, and the
// application stalled).
func TestLoopbackLeftAlone(t *testing.T) {
	p := pol(policy.ModeAggregate)
	lo := netip.MustParseAddrPort("127.0.0.1:40000")
	loSrv := netip.MustParseAddrPort("127.0.0.1:5201")
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: lo, Remote: loSrv, Policy: p, Established: true}},
		{ev: InterfacesChanged{EventBase: at(time.Second), Ifaces: ifaces(false, true)}},
		{ev: Tick{EventBase: at(2 * time.Second)}},
	})
}
