package engine

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The views below are how anything outside the engine reads its model.
// Like Step, they must be called from the goroutine that owns the State
// (the daemon's loop); what they return are copies, which stay as they
// are whatever later Steps do, and changing them changes nothing in the
// engine. (The Policy they name is shared: a Policy is not changed once
// parsed.)

// ConnView is a connection as the engine sees it.
type ConnView struct {
	Token         uint32
	Local, Remote netip.AddrPort // of the initial subflow, unmapped
	ServerSide    bool
	Established   bool
	Policy        *policy.Policy // nil until the connection has one
	// Subflows are the subflows the kernel reported, with our side's
	// backup flag.
	Subflows []Subflow
	// Bad are the paths (links) the connection found bad, with why
	// (rto, loss, rtt or silent).
	Bad map[int32]string
	// Excluded are the links that are up and that the policy allows but
	// the connection does not use, with why: no route to the peer from
	// their addresses, a route through another interface, or only
	// addresses of a kind the policy did not ask for. Conns fills it in;
	// Conn, which the daemon calls on every event, leaves it out (see
	// State.Excluded).
	Excluded map[int32]string
}

func (c *connState) view() ConnView {
	v := ConnView{Token: c.Token, Local: c.Local, Remote: c.Remote, ServerSide: c.ServerSide,
		Established: c.Established, Policy: c.Policy, Subflows: make([]Subflow, len(c.Subflows))}
	for i, sf := range c.Subflows {
		v.Subflows[i] = Subflow{Local: sf.Local, Remote: sf.Remote, LocID: sf.LocID, RemID: sf.RemID, Backup: sf.Backup}
	}
	if bad := c.badPaths(); len(bad) > 0 {
		v.Bad = bad
	}
	return v
}

// Conn returns connection token, if the engine has it.
func (s *State) Conn(token uint32) (ConnView, bool) {
	c, ok := s.conns[token]
	if !ok {
		return ConnView{}, false
	}
	return c.view(), true
}

// Excluded returns ConnView.Excluded of connection token.
func (s *State) Excluded(token uint32) map[int32]string {
	if c, ok := s.conns[token]; ok {
		return s.excluded(c)
	}
	return nil
}

// Conns returns every connection the engine has, by token.
func (s *State) Conns() []ConnView {
	out := make([]ConnView, 0, len(s.conns))
	for _, c := range s.conns {
		v := c.view()
		v.Excluded = s.excluded(c)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ConnView) int { return cmp.Compare(a.Token, b.Token) })
	return out
}

// Tokens returns the tokens of the connections the engine has, in no
// particular order.
func (s *State) Tokens() []uint32 {
	out := make([]uint32, 0, len(s.conns))
	for tok := range s.conns {
		out = append(out, tok)
	}
	return out
}

// Counts returns how many connections the engine has, and how many
// subflows they have in all.
func (s *State) Counts() (conns, subflows int) {
	for _, c := range s.conns {
		subflows += len(c.Subflows)
	}
	return len(s.conns), subflows
}

// Interfaces returns the interfaces the engine decides with: the last
// snapshot it was given. The engine never changes a snapshot it holds;
// the caller must not either.
func (s *State) Interfaces() ifmon.Snapshot { return s.ifaces }

// Len returns how many connections the engine has.
func (s *State) Len() int { return len(s.conns) }
