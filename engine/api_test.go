package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// matcher counts the policies the engine asks for.
type matcher struct {
	p *policy.Policy
	n int
}

func (m *matcher) Match(uint32, netip.AddrPort, netip.AddrPort, bool) *policy.Policy {
	m.n++
	return m.p
}

// The engine tells a kernel CREATED or ESTABLISHED apart itself, and asks
// for a policy only when it needs one.
func TestConnReported(t *testing.T) {
	m := &matcher{p: pol(policy.ModeAggregate)}
	s := NewState(ifaces(true, true))
	created := ConnReported{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Match: m}
	if r := s.Step(created); r.Unknown || len(r.Actions) != 0 || m.n != 1 {
		t.Fatalf("CREATED: unknown %v, %d actions, %d matches; want known, none, 1", r.Unknown, len(r.Actions), m.n)
	}
	established := created
	established.EventBase, established.Established = at(time.Millisecond), true
	if r := s.Step(established); r.Unknown || len(r.Actions) != 1 || r.Actions[0].Kind != CreateSubflow || m.n != 1 {
		t.Fatalf("ESTABLISHED: unknown %v, actions %v, %d matches; want known, a creation, still 1", r.Unknown, r.Actions, m.n)
	}
	if c, ok := s.Conn(tok); !ok || !c.Established || c.Policy != m.p {
		t.Fatalf("view after ESTABLISHED: %+v, %v", c, ok)
	}
	// An ESTABLISHED whose CREATED was missed is a new connection.
	other := established
	other.Token = tok + 1
	if r := s.Step(other); r.Unknown || len(r.Actions) != 1 || m.n != 2 {
		t.Fatalf("ESTABLISHED without CREATED: unknown %v, actions %v, %d matches", r.Unknown, r.Actions, m.n)
	}
	// 6.18 reports a connection that closes at once as CREATED, CLOSED,
	// ESTABLISHED: the late one is refused.
	s.Step(ConnClosed{EventBase: at(2 * time.Millisecond), Token: tok})
	established.EventBase = at(3 * time.Millisecond)
	if r := s.Step(established); !r.Unknown || len(r.Actions) != 0 {
		t.Fatalf("late ESTABLISHED: unknown %v, actions %v; want refused", r.Unknown, r.Actions)
	}
	if _, ok := s.Conn(tok); ok {
		t.Fatal("the late ESTABLISHED brought the connection back")
	}
}

// A connection adopted from a dump keeps the policy it has; one the
// engine does not have is matched.
func TestConnCreatedMatch(t *testing.T) {
	first, again := pol(policy.ModeAggregate), pol(policy.ModeSingle)
	s := NewState(ifaces(true, true))
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: first, Established: true})
	m := &matcher{p: again}
	dump := []Subflow{{Local: initial, Remote: srv}}
	s.Step(ConnCreated{EventBase: at(time.Second), Token: tok, Local: initial, Remote: srv, Established: true, Match: m, Subflows: dump})
	if c, _ := s.Conn(tok); c.Policy != first || m.n != 0 {
		t.Fatalf("adopted again: policy %v, %d matches; want the first, none", c.Policy.Mode, m.n)
	}
	s.Step(ConnCreated{EventBase: at(time.Second), Token: tok + 1, Local: initial, Remote: srv, Established: true, Match: m, Subflows: dump})
	if c, _ := s.Conn(tok + 1); c.Policy != again || m.n != 1 {
		t.Fatalf("adopted: policy %v, %d matches; want matched once", c.Policy.Mode, m.n)
	}
}

// Result.Handovers names the creations that move a connection: the
// non-backup ones in handover mode only.
func TestResultHandovers(t *testing.T) {
	for _, tt := range []struct {
		mode policy.Mode
		want string
	}{
		{policy.ModeHandover, "[0]"},
		{policy.ModeAggregate, "[]"},
	} {
		s := NewState(ifaces(false, true))
		s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: netip.AddrPortFrom(cell4, 40000), Remote: srv, Policy: pol(tt.mode, func(p *policy.Policy) { p.Handover.HoldDown = 0 }), Established: true})
		// wlan0 comes up: handover moves to it, aggregate adds it.
		r := s.Step(InterfacesChanged{EventBase: at(time.Minute), Ifaces: ifaces(true, true)})
		if len(r.Actions) != 1 || r.Actions[0].Kind != CreateSubflow || r.Actions[0].Backup {
			t.Fatalf("%s: actions %v, want one non-backup creation", tt.mode, r.Actions)
		}
		if got := fmt.Sprint(r.Handovers); got != tt.want {
			t.Errorf("%s: handovers %s, want %s", tt.mode, got, tt.want)
		}
		if r.Moves(0) != (tt.mode == policy.ModeHandover) {
			t.Errorf("%s: Moves(0) = %v", tt.mode, r.Moves(0))
		}
	}
}

// A command refused with "invalid token" makes the engine forget the
// connection, and say so.
func TestResultForgotten(t *testing.T) {
	s := NewState(ifaces(true, true))
	r := s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeAggregate), Established: true})
	r = s.Step(ActionFailed{EventBase: at(time.Millisecond), Action: r.Actions[0], Err: genl.ErrInvalidToken})
	if len(r.Forgotten) != 1 || r.Forgotten[0] != tok || !r.Unknown {
		t.Fatalf("forgotten %v, unknown %v; want [%x], true", r.Forgotten, r.Unknown, tok)
	}
	if _, ok := s.Conn(tok); ok || s.Len() != 0 {
		t.Fatal("the engine still has the connection")
	}
}

// The measurements of a connection the peer opened are not taken, and the
// result says why.
func TestQualityServerSide(t *testing.T) {
	s := NewState(ifaces(true, true))
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: srv, Remote: netip.AddrPortFrom(wifi4, 40000), ServerSide: true,
		Policy: pol(policy.ModeHandover), Established: true})
	q := Quality{EventBase: at(time.Second), Token: tok, Local: srv, Remote: netip.AddrPortFrom(wifi4, 40000), RTOs: 5}
	if r := s.Step(q); !r.ServerSide || r.Unknown || len(r.Actions) != 0 {
		t.Fatalf("server side: %+v", r)
	}
	q.Token++
	if r := s.Step(q); !r.Unknown || r.ServerSide {
		t.Fatalf("unknown connection: %+v", r)
	}
}

// What the views return are copies.
func TestViewsAreCopies(t *testing.T) {
	s := NewState(ifaces(true, true))
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeAggregate), Established: true})
	c, _ := s.Conn(tok)
	c.Subflows[0].Backup = true
	c.Established = false
	all := s.Conns()
	if len(all) != 1 || all[0].Subflows[0].Backup || !all[0].Established {
		t.Fatalf("the engine's connection changed with its view: %+v", all)
	}
	if n, sfs := s.Counts(); n != 1 || sfs != 1 {
		t.Fatalf("counts %d, %d; want 1, 1", n, sfs)
	}
	if toks := s.Tokens(); len(toks) != 1 || toks[0] != tok {
		t.Fatalf("tokens %v", toks)
	}
	if len(s.Interfaces().Links) == 0 {
		t.Fatal("no interfaces")
	}
}
