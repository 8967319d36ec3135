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
func BenchmarkStepNewConnection(b *testing.B) {
	p := pol(policy.ModeAggregate)
	s := NewState(ifaces(true, true))
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
