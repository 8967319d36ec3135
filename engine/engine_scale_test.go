package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// manyConns makes n established aggregate-mode connections, each with its
// initial Wi-Fi subflow and a cellular one up.
func manyConns(tb testing.TB, s *State, n int) {
	tb.Helper()
	p := pol(policy.ModeAggregate)
	for i := range n {
		tk := uint32(i + 1)
		local := netip.AddrPortFrom(wifi4, uint16(10000+i%50000))
		s.Step(ConnCreated{EventBase: at(0), Token: tk, Local: local, Remote: srv, Policy: p, Established: true})
		s.Step(SubflowUp{EventBase: at(time.Millisecond), Token: tk, Subflow: Subflow{Local: netip.AddrPortFrom(cell4, local.Port()), Remote: srv, LocID: 1}})
	}
}

// A Tick reconciles only the connections whose time has come, and
// returns the next wake-up of them all.
func TestTickTouchesDueConnections(t *testing.T) {
	s := NewState(ifaces(true, true))
	manyConns(t, s, 100)
	for _, c := range s.conns {
		if !c.wake.IsZero() || c.pending != nil || c.closing != nil {
			t.Fatalf("connection %08x settled but has wake %v, pending %v, closing %v", c.Token, c.wake, c.pending, c.closing)
		}
	}
	// Connection 7 loses its cellular subflow: a creation, pending, with
	// a wake-up at its timeout.
	acts, wake := aw(s.Step(SubflowDown{EventBase: at(time.Second), Token: 7, Subflow: Subflow{Local: netip.AddrPortFrom(cell4, 10006), Remote: srv}}))
	if len(acts) != 1 || acts[0].Kind != CreateSubflow || acts[0].Token != 7 || !wake.Equal(t0.Add(time.Second+pendingTimeout)) {
		t.Fatalf("after a subflow went down: %v, wake %v", acts, wake)
	}
	// A Tick before that time: nothing, the same wake-up.
	if acts, wake := aw(s.Step(Tick{EventBase: at(2 * time.Second)})); len(acts) != 0 || !wake.Equal(t0.Add(time.Second+pendingTimeout)) {
		t.Fatalf("early tick: %v, wake %v", acts, wake)
	}
	// At the timeout: the creation counts as failed, retried after the
	// back-off; only connection 7 is looked at.
	acts, wake = aw(s.Step(Tick{EventBase: at(time.Second + pendingTimeout)}))
	if len(acts) != 0 || !wake.Equal(t0.Add(time.Second+pendingTimeout+backoffMin)) {
		t.Fatalf("tick at the timeout: %v, wake %v", acts, wake)
	}
	acts, _ = aw(s.Step(Tick{EventBase: at(time.Second + pendingTimeout + backoffMin)}))
	if fmt.Sprint(fmtActions(acts)) != "[create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false]" || acts[0].Token != 7 {
		t.Fatalf("tick after the back-off: %v", fmtActions(acts))
	}
}

// BenchmarkTick is a wake-up among 10,000 settled connections, one of
// which is due.
func BenchmarkTick(b *testing.B) {
	s := NewState(ifaces(true, true))
	manyConns(b, s, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Step(Tick{EventBase: at(time.Duration(i) * time.Millisecond)})
	}
}

// A dump (after lost events) is the kernel's word on a connection's
// subflows: one the engine had but the dump lacks is gone, one the dump
// shows still in its handshake is no reason to create another.
func TestAdoptionReplacesSubflows(t *testing.T) {
	p := pol(policy.ModeAggregate)
	cellSub := netip.AddrPortFrom(cell4, 41000)
	s := NewState(ifaces(true, true))
	acts, _ := aw(s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}))
	if fmt.Sprint(fmtActions(acts)) != "[create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false]" {
		t.Fatalf("established: %v", fmtActions(acts))
	}
	// Events lost; the dump shows the join (in its handshake) and the
	// initial subflow.
	dump := []Subflow{{Local: initial, Remote: srv}, {Local: cellSub, Remote: srv, LocID: 1}}
	if acts, _ := aw(s.Step(ConnCreated{EventBase: at(time.Second), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true, Subflows: dump})); len(acts) != 0 {
		t.Fatalf("adopted with its join: %v", fmtActions(acts))
	}
	if c := s.conns[tok]; len(c.Subflows) != 2 || len(c.pending) != 0 {
		t.Fatalf("after adoption: subflows %v, pending %v", c.Subflows, c.pending)
	}
	// A later dump without the join (its SF_CLOSED lost): gone from the
	// model, and created again.
	acts, _ = aw(s.Step(ConnCreated{EventBase: at(2 * time.Second), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true, Subflows: dump[:1]}))
	if c := s.conns[tok]; len(c.Subflows) != 1 || fmt.Sprint(fmtActions(acts)) != "[create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false]" {
		t.Fatalf("dump without the join: subflows %v, actions %v", c.Subflows, fmtActions(acts))
	}
}

// A broken subflow with an address ID other than 0 stays until its
// successor is up, then REMOVE_ADDR goes before its destruction: the kernel
// forgets the ID of a subflow it destroys.
func TestQualityBrokenNonZeroID(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	ms := time.Millisecond
	cellInitial := netip.AddrPortFrom(cell4, 40000)
	wifiSub := netip.AddrPortFrom(wifi4, 42000)
	cellSub := netip.AddrPortFrom(cell4, 43000)
	run(t, ifaces(false, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: cellInitial, Remote: srv, Policy: p, Established: true}},
		// Wi-Fi comes: after the hold-down, traffic moves to it.
		{ev: InterfacesChanged{EventBase: at(100 * ms), Ifaces: ifaces(true, true)},
			want: []string{"create 10.0.1.2 if3 id 1 -> 10.0.3.2:5201 backup=true"}, wake: 1100 * ms},
		{ev: sfUp(200*ms, wifiSub, srv, 1, true), wake: 1100 * ms},
		{ev: Tick{EventBase: at(1100 * ms)},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:40000 -> 10.0.3.2:5201"}},
		{ev: ActionDone{EventBase: at(1101 * ms), Action: Action{Kind: SetBackup, Token: tok, Local: wifiSub, Remote: srv, Backup: false}}},
		{ev: SubflowDown{EventBase: at(1102 * ms), Token: tok, Subflow: Subflow{Local: cellInitial, Remote: srv}}},
		// Wi-Fi (ID 1) times out: cellular is opened, Wi-Fi stays for now.
		{ev: quality(1500*ms, wifiSub, 50*time.Microsecond, 0, 10, 0)},
		{ev: quality(1800*ms, wifiSub, 50*time.Microsecond, 1, 12, 1),
			want: []string{"create 10.0.2.2 if4 id 0 -> 10.0.3.2:5201 backup=false"}},
		// Cellular up: REMOVE_ADDR for ID 1, then Wi-Fi closed.
		{ev: sfUp(1801*ms, cellSub, srv, 0, false), want: []string{"remove id 1", "destroy 10.0.1.2:42000 -> 10.0.3.2:5201"}},
	})
}
