package engine

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// want is one wanted subflow.
type want struct {
	key    pathKey
	local  netip.Addr
	backup bool
	reason string
	// freshAfter asks for a subflow established after this time (a probe
	// of a bad path): an older one is closed and a new one opened.
	freshAfter time.Time
}

// reconcile compares what c should have with what it has.
func (s *State) reconcile(c *connState, now time.Time) ([]Action, time.Time) {
	if !c.Established || c.Policy == nil || c.loopback() {
		return nil, time.Time{}
	}
	if c.ServerSide {
		// The side that accepted the connection opens no subflows; it
		// announces the policy's addresses, once each.
		return s.announce(c), time.Time{}
	}
	settled := s.settleSilence(c, now)
	wants, wake := s.wanted(c, now)
	r := plan{c: c, now: now, wants: wants, wake: earliest(wake, settled)}
	kept := map[pathKey]bool{} // paths with a subflow kept
	c.prune(wants, now)
	unwanted := s.keepWanted(&r, kept)
	s.closeUnwanted(&r, kept, unwanted)
	s.createMissing(&r, kept)
	probes, next := s.proveSilent(c, now)
	r.create, r.wake = append(r.create, probes...), earliest(r.wake, next)
	// A connection left with no subflow that can carry its data gets one,
	// whatever held back the creations above (survive.go).
	a, w := s.rescue(c, wants, now)
	if a != nil {
		r.create = append(r.create, *a)
	}
	r.wake = earliest(r.wake, w)
	if r.active {
		r.tellPeer()
	}
	return r.ordered(), r.wake
}

// plan is the reconciliation of one connection under way: what it wants,
// the actions so far and the next wake-up.
type plan struct {
	c     *connState
	now   time.Time
	wants []want
	// active is set once a wanted non-backup subflow is kept.
	active  bool
	create  []Action // new subflows
	actions []Action // changes to the others
	wake    time.Time
}

// destroy closes sf for reason.
func (r *plan) destroy(sf Subflow, reason string) {
	c := r.c
	if c.closing == nil {
		c.closing = map[[2]netip.AddrPort]time.Time{}
	}
	c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}] = r.now
	r.wake = earliest(r.wake, r.now.Add(pendingTimeout)) // unanswered: sent again
	r.actions = append(r.actions, Action{Kind: DestroySubflow, Token: c.Token, Local: sf.Local, Remote: sf.Remote, Reason: reason})
}

// removeAddr sends REMOVE_ADDR for local ID id, once.
func (r *plan) removeAddr(id uint8, reason string) {
	c := r.c
	if c.removed[id] {
		return
	}
	if c.removed == nil {
		c.removed = map[uint8]bool{}
	}
	c.removed[id] = true
	r.actions = append(r.actions, Action{Kind: RemoveAddr, Token: c.Token, ID: id, Reason: reason})
}

// keepWanted goes through the subflows that are there: it keeps one per
// wanted path (fixing its backup flag); an address that is gone gets
// REMOVE_ADDR and its subflows are closed. It returns the other unwanted
// ones, which closeUnwanted closes once they are dead (link down) or a
// wanted non-backup subflow is established (make before break).
func (s *State) keepWanted(r *plan, kept map[pathKey]bool) []Subflow {
	c, now := r.c, r.now
	var unwanted []Subflow
	for _, sf := range c.Subflows {
		if t, ok := c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}]; ok {
			if now.Sub(t) < pendingTimeout {
				// Being destroyed: the kernel's SF_CLOSED is on its way.
				r.wake = earliest(r.wake, t.Add(pendingTimeout))
				continue
			}
			delete(c.closing, [2]netip.AddrPort{sf.Local, sf.Remote})
		}
		k, ok := s.keyOf(sf)
		if !ok {
			reason := fmt.Sprintf("local address %s is gone", sf.Local.Addr())
			r.removeAddr(sf.LocID, reason)
			// REMOVE_ADDR tells the peer; our own subflow stays open
			// until it is destroyed.
			r.destroy(sf, reason)
			continue
		}
		if b, ok := c.backoff[k]; ok && now.Before(b.until) {
			// Refused recently: leave it until the back-off ends.
			kept[k] = true
			r.wake = earliest(r.wake, b.until)
			continue
		}
		i := slices.IndexFunc(r.wants, func(w want) bool { return w.key == k })
		if i < 0 || kept[k] || sf.since.Before(r.wants[i].freshAfter) {
			unwanted = append(unwanted, sf)
			continue
		}
		kept[k] = true
		r.active = r.active || !r.wants[i].backup
		if sf.Backup != r.wants[i].backup {
			r.actions = append(r.actions, Action{Kind: SetBackup, Token: c.Token, Local: sf.Local, Remote: sf.Remote,
				Backup: r.wants[i].backup, Reason: r.wants[i].reason})
		}
	}
	return unwanted
}

// closeUnwanted closes the unwanted subflows that no longer carry the
// connection's traffic.
func (s *State) closeUnwanted(r *plan, kept map[pathKey]bool, unwanted []Subflow) {
	c := r.c
	for _, sf := range unwanted {
		if s.keepsLast(c, kept) {
			break // the last ones: closed once a replacement is up (survive.go)
		}
		k, _ := s.keyOf(sf)
		l, ok := s.ifaces.Link(k.link)
		h, bad := c.bad(k.link)
		broken := bad && h.reason != "rtt"
		if ok && l.Up && !r.active && !broken {
			continue // still the one carrying traffic: closed when its successor is up
		}
		reason := s.unwantedReason(k)
		if bad {
			reason = l.Name + " is bad (" + h.reason + ")"
		}
		if broken && sf.LocID != 0 {
			// The kernel forgets the address ID of a subflow it destroys
			// (6.18: REMOVE_ADDR for it is then refused, "address with
			// id N not found"), and the peer cannot hear the close on a
			// broken path: REMOVE_ADDR goes first, over a working
			// subflow. Until one is up the broken one stays (its data
			// could not be reinjected anywhere before).
			if !r.active {
				continue
			}
			r.removeAddr(sf.LocID, "the peer cannot hear that a subflow on a broken path is closed")
		} else if broken {
			// The initial subflow's ID 0 can be removed after: at once,
			// so that the kernel reinjects its data.
			if c.tellPeer == nil {
				c.tellPeer = map[uint8]bool{}
			}
			c.tellPeer[sf.LocID] = true
		}
		r.destroy(sf, reason)
	}
}

// createMissing opens a subflow on each wanted path that has none, unless
// one is being opened, the path failed recently, the connection has
// MaxSubflows already or its creation rate limit says later. Subflows
// being closed count until the kernel says they are gone: the kernel never
// has more than MaxSubflows.
func (s *State) createMissing(r *plan, kept map[pathKey]bool) {
	c, now := r.c, r.now
	live := len(c.Subflows)
	for _, w := range r.wants {
		if kept[w.key] {
			continue
		}
		if p, ok := c.pending[w.key]; ok {
			if now.Sub(p.since) < pendingTimeout {
				r.wake = earliest(r.wake, p.since.Add(pendingTimeout))
				continue
			}
			delete(c.pending, w.key)
			c.fail(w.key, now)
		}
		if b, ok := c.backoff[w.key]; ok && now.Before(b.until) {
			r.wake = earliest(r.wake, b.until)
			continue
		}
		if live+len(c.pending) >= MaxSubflows {
			// Room comes back with a SubflowDown, an event of its own.
			continue
		}
		if ok, next := c.allowCreate(now); !ok {
			r.wake = earliest(r.wake, next)
			continue
		}
		if c.pending == nil {
			c.pending = map[pathKey]pendingCreate{}
		}
		id := s.idFor(c, w.local)
		c.pending[w.key] = pendingCreate{since: now, backup: w.backup, id: id}
		r.wake = earliest(r.wake, now.Add(pendingTimeout))
		r.create = append(r.create, Action{Kind: CreateSubflow, Token: c.Token, Local: netip.AddrPortFrom(w.local, 0),
			ID: id, IfIndex: w.key.link, Remote: w.key.remote, Backup: w.backup, Probe: !w.freshAfter.IsZero(), Reason: w.reason})
	}
}

// tellPeer sends REMOVE_ADDR for the IDs of subflows closed on a broken
// path, once a working subflow is up — unless a new subflow is being
// opened from the same address (ID): the peer would close that one too.
func (r *plan) tellPeer() {
	c := r.c
	for _, id := range slices.Sorted(maps.Keys(c.tellPeer)) {
		delete(c.tellPeer, id)
		inUse := slices.ContainsFunc(c.Subflows, func(x Subflow) bool {
			_, closing := c.closing[[2]netip.AddrPort{x.Local, x.Remote}]
			return x.LocID == id && !closing
		})
		for _, p := range c.pending {
			inUse = inUse || p.id == id
		}
		if inUse || c.removed[id] {
			continue // the ID is in use again, or gone already
		}
		r.removeAddr(id, "the peer cannot have heard that a subflow on a broken path was closed")
	}
}

// ordered returns the actions in the order to send them: new subflows
// first, then promotions, then demotions, then closures: the kernel always
// has a subflow to send on, and closing the old ones makes it reinject
// their data on one already on its way.
func (r *plan) ordered() []Action {
	actions := append(r.create, r.actions...)
	for i := range actions {
		actions[i].Mapped = r.c.Mapped && actions[i].Local.Addr().Is4()
	}
	slices.SortStableFunc(actions, func(a, b Action) int { return cmp.Compare(phase(a), phase(b)) })
	return actions
}

func (s *State) unwantedReason(k pathKey) string {
	l, ok := s.ifaces.Link(k.link)
	switch {
	case !ok:
		return "interface gone"
	case !l.Up:
		return l.Name + " is down"
	}
	return "not wanted on " + l.Name
}

// announce returns ADD_ADDR actions for the policy's addresses c has not
// announced yet; addresses of the other family, and the connection's own
// address and port, are left out.
func (s *State) announce(c *connState) []Action {
	var out []Action
	for _, ap := range c.Policy.Announce {
		if c.announced[ap] {
			continue
		}
		if c.announced == nil {
			c.announced = map[netip.AddrPort]bool{}
		}
		c.announced[ap] = true
		if ap.Addr().Is4() != c.Local.Addr().Is4() ||
			(ap.Addr() == c.Local.Addr() && (ap.Port() == 0 || ap.Port() == c.Local.Port())) {
			continue
		}
		out = append(out, Action{Kind: Announce, Token: c.Token, Local: ap, ID: s.addrID(ap),
			Reason: "policy " + c.Policy.Name + " announces it"})
	}
	return out
}
