package engine

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The engine decides which subflows each connection should have. It is
// level-triggered: every event updates the model, then each affected
// connection's wanted subflows are computed from its policy, the
// interfaces and the time, and compared with the subflows the kernel
// reported; the difference is the actions. It does no I/O and reads no
// clock: time comes in the events. Results of actions come back as kernel
// events (SubflowUp, SubflowDown) or as ActionFailed.

// Step applies ev to the model and returns what it did: the actions to
// take, the time at which the engine wants a Tick, and what became of the
// event's connection.
func (s *State) Step(ev Event) Result {
	now := ev.at()
	var r Result
	c, sc := s.apply(ev, now, &r)
	var touched []*connState // connections to look at again
	switch sc {
	case lookAtOne:
		if c != nil {
			touched = append(touched, c)
		}
	case lookAtAll:
		for _, c := range s.conns {
			touched = append(touched, c)
		}
		slices.SortFunc(touched, byToken)
	case lookAtDue:
		touched = s.due(touched, now)
	case lookAtPeers:
		touched = s.toPeers(touched, s.learned)
		s.learned = nil
	}
	for _, c := range touched {
		a, w := s.reconcile(c, now)
		c.wake = w
		c.compact()
		if c.Policy != nil && c.Policy.Mode == policy.ModeHandover {
			for i, x := range a {
				if x.Kind == CreateSubflow && !x.Backup {
					r.Handovers = append(r.Handovers, len(r.Actions)+i)
				}
			}
		}
		r.Actions = append(r.Actions, a...)
		r.Wake = earliest(r.Wake, w)
	}
	if sc == lookAtDue {
		// The caller's timer fired: it needs the next wake-up of every
		// connection, not only of those looked at.
		for _, c := range s.conns {
			r.Wake = earliest(r.Wake, c.wake)
		}
	}
	return r
}

func byToken(a, b *connState) int { return cmp.Compare(a.Token, b.Token) }

// scope says which connections an event makes the engine look at again.
type scope int

const (
	lookAtOne   scope = iota // the one apply returns, if any
	lookAtAll                // every one (the interfaces changed)
	lookAtDue                // those whose wake-up time has come (a Tick)
	lookAtPeers              // those to the peers of s.learned (RoutesLearned)
)

// apply updates the model with ev, notes in r what became of its
// connection, and says which connections to look at again: c (nil: none),
// or a wider scope.
func (s *State) apply(ev Event, now time.Time, r *Result) (*connState, scope) {
	var c *connState
	switch ev := ev.(type) {
	case ConnReported:
		c = s.reported(ev, now)
	case ConnCreated:
		c = s.created(ev, now)
	case ConnEstablished:
		if c = s.conns[ev.Token]; c != nil {
			c.Established = true
		}
	case ConnClosed:
		s.forget(ev.Token, now)
		return nil, lookAtOne
	case SubflowUp:
		c = s.subflowUp(ev, now)
	case SubflowDown:
		c = s.subflowDown(ev, now)
	case SubflowPriority:
		// The peer's flag; ours is what the engine sets. Nothing to do.
		c = s.conns[ev.Token]
		r.Unknown = c == nil
		return nil, lookAtOne
	case PeerAnnounced:
		c = s.peerAnnounced(ev, r)
		r.Unknown = s.conns[ev.Token] == nil
		return c, lookAtOne
	case PeerRemoved:
		if c = s.conns[ev.Token]; c != nil {
			delete(c.Announced, ev.RemID)
		}
	case InterfacesChanged:
		s.setIfaces(ev.Ifaces, now)
		if ev.Routes != nil {
			s.learn(ev.Routes, true, now)
		}
		return nil, lookAtAll
	case RoutesLearned:
		return nil, s.routesLearned(ev, now)
	case Tick:
		return nil, lookAtDue
	case ActionFailed:
		c = s.actionFailed(ev, now, r)
	case ActionDone:
		s.actionDone(ev)
		return nil, lookAtOne
	case PoliciesChanged:
		s.rematch(ev.Match)
		return nil, lookAtAll
	case PolicyChanged:
		if c = s.conns[ev.Token]; c != nil {
			c.Policy = ev.Policy
		}
	case Quality:
		return s.measured(ev, now, r), lookAtOne
	default:
		return nil, lookAtOne
	}
	r.Unknown = c == nil
	r.ServerSide = c != nil && c.ServerSide
	return c, lookAtOne
}

// routesLearned takes in route lookups; with Flush every connection is
// looked at again, else those to the peers looked up.
func (s *State) routesLearned(ev RoutesLearned, now time.Time) scope {
	s.learn(ev.Routes, ev.Flush, now)
	if ev.Flush {
		return lookAtAll
	}
	s.learned = map[netip.Addr]bool{}
	for _, r := range ev.Routes {
		s.learned[r.Dst.Unmap()] = true
	}
	return lookAtPeers
}

// reported takes in the kernel's CREATED or ESTABLISHED.
func (s *State) reported(ev ConnReported, now time.Time) *connState {
	if c := s.conns[ev.Token]; c != nil && ev.Established {
		c.Established = true
		return c
	}
	return s.created(ConnCreated{EventBase: ev.EventBase, Token: ev.Token, Local: ev.Local, Remote: ev.Remote,
		ServerSide: ev.ServerSide, Established: ev.Established,
		Policy: ev.Match.Match(ev.Token, ev.Local, ev.Remote, ev.ServerSide)}, now)
}

// measured takes in a Quality event; it returns the connection if its
// paths changed. The measurements of a connection the peer opened are not
// taken: the engine opens no subflows for it.
func (s *State) measured(ev Quality, now time.Time, r *Result) *connState {
	c := s.conns[ev.Token]
	r.Unknown = c == nil
	if c == nil {
		return nil
	}
	if r.ServerSide = c.ServerSide; r.ServerSide {
		return nil
	}
	if s.quality(c, ev, now) {
		return c
	}
	return nil
}

// created takes in a new connection, or one adopted from a dump; it
// returns nil when it refuses it.
func (s *State) created(ev ConnCreated, now time.Time) *connState {
	c := s.conns[ev.Token]
	if ev.Policy == nil && ev.Match != nil {
		if c != nil && c.Policy != nil {
			ev.Policy = c.Policy
		} else {
			ev.Policy = ev.Match.Match(ev.Token, ev.Local, ev.Remote, ev.ServerSide)
		}
	}
	if t, ok := s.closed[ev.Token]; ok && c == nil && ev.Subflows == nil && now.Sub(t) < closedTTL {
		// A late report of a connection that is gone. (A dump's
		// adoption, with Subflows, is the kernel's word: it exists.)
		return nil
	}
	delete(s.closed, ev.Token)
	if c == nil {
		// Room for the initial subflow and one more: what most
		// connections have.
		c = &connState{Token: ev.Token, Subflows: make([]Subflow, 0, max(2, len(ev.Subflows)))}
		s.conns[ev.Token] = c
	}
	c.Local, c.Remote = unmapAP(ev.Local), unmapAP(ev.Remote)
	c.Mapped = ev.Local.Addr().Is4In6() || ev.Remote.Addr().Is4In6()
	c.ServerSide, c.Policy = ev.ServerSide, ev.Policy
	c.Established = c.Established || ev.Established
	if ev.Subflows == nil {
		// The kernel sends no SF_ESTABLISHED for the initial subflow:
		// CREATED is its only report.
		c.addSubflow(Subflow{Local: c.Local, Remote: c.Remote}, now)
	} else {
		s.adopt(c, ev.Subflows, now)
	}
	return c
}

// adopt takes a dump's subflows of c: the kernel's word on which subflows
// there are (events may have been lost). Those that stay keep what the
// engine knows of them; a creation under way that the dump shows is done.
func (s *State) adopt(c *connState, subflows []Subflow, now time.Time) {
	old := c.Subflows
	c.Subflows = make([]Subflow, 0, max(2, len(subflows)))
	for _, sf := range subflows {
		sf = sf.unmapped()
		sf.since = now
		if i := slices.IndexFunc(old, func(x Subflow) bool { return x.Local == sf.Local && x.Remote == sf.Remote }); i >= 0 {
			sf.since, sf.q = old[i].since, old[i].q
		}
		c.Subflows = append(c.Subflows, sf)
		if k, ok := s.keyOf(sf); ok {
			delete(c.pending, k)
		}
	}
}

// subflowUp takes in SF_ESTABLISHED.
func (s *State) subflowUp(ev SubflowUp, now time.Time) *connState {
	c := s.conns[ev.Token]
	if c == nil {
		return nil
	}
	sf := ev.Subflow.unmapped()
	// SF_ESTABLISHED's backup attribute is the peer's flag (6.18): ours
	// is the one the subflow was created with, or none.
	sf.Backup = false
	if k, ok := s.keyOf(sf); ok {
		if p, was := c.pending[k]; was {
			sf.Backup = p.backup
			if p.probe {
				c.answered(k.link)
			}
		}
		delete(c.pending, k)
		delete(c.backoff, k)
	}
	delete(c.removed, sf.LocID) // the ID is in use again
	c.addSubflow(sf, now)
	return c
}

// subflowDown takes in SF_CLOSED.
func (s *State) subflowDown(ev SubflowDown, now time.Time) *connState {
	c := s.conns[ev.Token]
	if c == nil {
		return nil
	}
	sf := ev.Subflow.unmapped()
	n := len(c.Subflows)
	c.Subflows = slices.DeleteFunc(c.Subflows, func(x Subflow) bool {
		return x.Local == sf.Local && x.Remote == sf.Remote
	})
	established := len(c.Subflows) < n
	delete(c.closing, [2]netip.AddrPort{sf.Local, sf.Remote})
	// A subflow that never came up is a creation that failed; one that
	// was up closing is not (another creation may be under way on the
	// same path).
	if k, ok := s.keyOf(sf); ok && !established {
		if _, was := c.pending[k]; was || ev.Error != 0 {
			delete(c.pending, k)
			c.fail(k, now)
		}
	}
	return c
}

// due appends to touched the connections whose wake-up time has come, by
// token. Only those: a wake-up costs what is due, not the number of
// connections (docs/scale.md).
func (s *State) due(touched []*connState, now time.Time) []*connState {
	for _, c := range s.conns {
		if !c.wake.IsZero() && !c.wake.After(now) {
			touched = append(touched, c)
		}
	}
	slices.SortFunc(touched, byToken)
	return touched
}

// actionFailed takes in a refused action.
func (s *State) actionFailed(ev ActionFailed, now time.Time, r *Result) *connState {
	if errors.Is(ev.Err, genl.ErrInvalidToken) {
		// The kernel has no such connection: it closed without a CLOSED
		// event (6.18 sends none for many a connection the peer reset),
		// and every further command would be refused the same way.
		r.Forgotten = append(r.Forgotten, ev.Action.Token)
		s.forget(ev.Action.Token, now)
		return nil
	}
	c := s.conns[ev.Action.Token]
	if c != nil {
		s.failed(c, ev.Action, ev.Err, now)
	}
	return c
}

// actionDone takes in an accepted action: a SetBackup's flag is ours now.
func (s *State) actionDone(ev ActionDone) {
	c := s.conns[ev.Action.Token]
	if c == nil || ev.Action.Kind != SetBackup {
		return
	}
	for i, sf := range c.Subflows {
		if sf.Local == unmapAP(ev.Action.Local) && sf.Remote == unmapAP(ev.Action.Remote) {
			c.Subflows[i].Backup = ev.Action.Backup
		}
	}
}

// failed takes in a refused action. The model changes only where the
// refusal says what the kernel has: a subflow to destroy that the kernel
// does not know (ESRCH) is gone. Otherwise the path backs off, so that a
// refusal is not repeated at every event.
func (s *State) failed(c *connState, a Action, err error, now time.Time) {
	switch a.Kind {
	case CreateSubflow:
		k := pathKey{link: a.IfIndex, remote: unmapAP(a.Remote)}
		delete(c.pending, k)
		c.fail(k, now)
	case DestroySubflow, SetBackup:
		local, remote := unmapAP(a.Local), unmapAP(a.Remote)
		delete(c.closing, [2]netip.AddrPort{local, remote})
		if a.Kind == DestroySubflow && errors.Is(err, syscall.ESRCH) {
			c.Subflows = slices.DeleteFunc(c.Subflows, func(x Subflow) bool { return x.Local == local && x.Remote == remote })
			return
		}
		if k, ok := s.keyOf(Subflow{Local: local, Remote: remote}); ok {
			c.fail(k, now)
		}
	}
}
