package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// BenchmarkStepNewConnection runs the engine over the events of one new
// connection in aggregate mode (CREATED, ESTABLISHED, the second
// subflow up, CLOSED) among 1,000 others, which is what the daemon's loop
// does per connection (go test -bench Step -benchmem ./engine/).
func BenchmarkStepNewConnection(b *testing.B) { benchNewConnection(b, nil) }

// BenchmarkStepNewConnectionRouted is BenchmarkStepNewConnection with the
// routes of both paths to the peer known, as the daemon feeds them in.
func BenchmarkStepNewConnectionRouted(b *testing.B) {
	benchNewConnection(b, []Route{via(wifi4, srv, 3), via(cell4, srv, 4), via(wifi6, srv6, 3), via(cell6, srv6, 4)})
}

func benchNewConnection(b *testing.B, routes []Route) {
	p := pol(policy.ModeAggregate)
	s := NewState(ifaces(true, true))
	s.Step(RoutesLearned{EventBase: at(0), Routes: routes})
	for i := range 1000 {
		tok := uint32(0x10000 + i)
		local := netip.AddrPortFrom(wifi4, uint16(20000+i))
		s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: local, Remote: srv, Policy: p, Established: true})
		s.Step(SubflowUp{EventBase: at(0), Token: tok, Subflow: Subflow{Local: netip.AddrPortFrom(cell4, uint16(20000+i)), Remote: srv, LocID: 1}})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		tok := uint32(0x80000000 + n)
		local := netip.AddrPortFrom(wifi4, uint16(40000+n%20000))
		t := time.Duration(n) * time.Millisecond
		if a, _ := aw(s.Step(ConnCreated{EventBase: at(t), Token: tok, Local: local, Remote: srv, Policy: p})); len(a) != 0 {
			b.Fatal("actions before ESTABLISHED")
		}
		if a, _ := aw(s.Step(ConnEstablished{EventBase: at(t), Token: tok})); len(a) != 1 {
			b.Fatalf("ESTABLISHED: %d actions, want 1", len(a))
		}
		s.Step(SubflowUp{EventBase: at(t), Token: tok, Subflow: Subflow{Local: netip.AddrPortFrom(cell4, local.Port()), Remote: srv, LocID: 1}})
		s.Step(ConnClosed{EventBase: at(t), Token: tok})
		n++
	}
}
