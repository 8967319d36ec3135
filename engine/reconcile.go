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
func (s *State) reconcile(c *ConnState, now time.Time) ([]Action, time.Time) {
	if !c.Established || c.Policy == nil {
		return nil, time.Time{}
	}
	if c.ServerSide {
		// The side that accepted the connection opens no subflows; it
		// announces the policy's addresses, once each.
		return s.announce(c), time.Time{}
	}
	settled := s.settleSilence(c, now)
	wants, wake := s.wanted(c, now)
	wake = earliest(wake, settled)
	c.prune(wants, now)
	var actions []Action
	kept := map[pathKey]bool{}
	destroy := func(sf Subflow, reason string) {
		if c.closing == nil {
			c.closing = map[[2]netip.AddrPort]time.Time{}
		}
		c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}] = now
		wake = earliest(wake, now.Add(pendingTimeout)) // unanswered: sent again
		actions = append(actions, Action{Kind: DestroySubflow, Token: c.Token, Local: sf.Local, Remote: sf.Remote, Reason: reason})
	}
	// Subflows that are there: keep one per wanted path (fixing its
	// backup flag); an address that is gone gets REMOVE_ADDR and its
	// subflows are closed; the other unwanted ones are closed once they
	// are dead (link down) or a wanted non-backup subflow is established
	// (make before break).
	var unwanted []Subflow
	active := false
	for _, sf := range c.Subflows {
		if t, ok := c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}]; ok {
			if now.Sub(t) < pendingTimeout {
				// Being destroyed: the kernel's SF_CLOSED is on its way.
				wake = earliest(wake, t.Add(pendingTimeout))
				continue
			}
			delete(c.closing, [2]netip.AddrPort{sf.Local, sf.Remote})
		}
		k, ok := s.keyOf(sf)
		if !ok {
			reason := fmt.Sprintf("local address %s is gone", sf.Local.Addr())
			if !c.removed[sf.LocID] {
				if c.removed == nil {
					c.removed = map[uint8]bool{}
				}
				c.removed[sf.LocID] = true
				actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: sf.LocID, Reason: reason})
			}
			// REMOVE_ADDR tells the peer; our own subflow stays open
			// until it is destroyed.
			destroy(sf, reason)
			continue
		}
		if b, ok := c.backoff[k]; ok && now.Before(b.until) {
			// Refused recently: leave it until the back-off ends.
			kept[k] = true
			wake = earliest(wake, b.until)
			continue
		}
		i := slices.IndexFunc(wants, func(w want) bool { return w.key == k })
		if i < 0 || kept[k] || sf.since.Before(wants[i].freshAfter) {
			unwanted = append(unwanted, sf)
			continue
		}
		kept[k] = true
		active = active || !wants[i].backup
		if sf.Backup != wants[i].backup {
			actions = append(actions, Action{Kind: SetBackup, Token: c.Token, Local: sf.Local, Remote: sf.Remote,
				Backup: wants[i].backup, Reason: wants[i].reason})
		}
	}
	for _, sf := range unwanted {
		if s.keepsLast(c, kept) {
			break // the last ones: closed once a replacement is up (survive.go)
		}
		k, _ := s.keyOf(sf)
		l, ok := s.Ifaces.Link(k.link)
		h, bad := c.bad(k.link)
		broken := bad && h.reason != "rtt"
		if ok && l.Up && !active && !broken {
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
			if !active {
				continue
			}
			if !c.removed[sf.LocID] {
				if c.removed == nil {
					c.removed = map[uint8]bool{}
				}
				c.removed[sf.LocID] = true
				actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: sf.LocID,
					Reason: "the peer cannot hear that a subflow on a broken path is closed"})
			}
		} else if broken {
			// The initial subflow's ID 0 can be removed after: at once,
			// so that the kernel reinjects its data.
			if c.tellPeer == nil {
				c.tellPeer = map[uint8]bool{}
			}
			c.tellPeer[sf.LocID] = true
		}
		destroy(sf, reason)
	}
	// Wanted paths with no subflow: open one, unless one is being opened,
	// the path failed recently, the connection has MaxSubflows already or
	// its creation rate limit says later.
	// Subflows being closed count until the kernel says they are gone:
	// the kernel never has more than MaxSubflows.
	live := len(c.Subflows)
	var create []Action
	for _, w := range wants {
		if kept[w.key] {
			continue
		}
		if p, ok := c.pending[w.key]; ok {
			if now.Sub(p.since) < pendingTimeout {
				wake = earliest(wake, p.since.Add(pendingTimeout))
				continue
			}
			delete(c.pending, w.key)
			c.fail(w.key, now)
		}
		if b, ok := c.backoff[w.key]; ok && now.Before(b.until) {
			wake = earliest(wake, b.until)
			continue
		}
		if live+len(c.pending) >= MaxSubflows {
			// Room comes back with a SubflowDown, an event of its own.
			continue
		}
		if ok, next := c.allowCreate(now); !ok {
			wake = earliest(wake, next)
			continue
		}
		if c.pending == nil {
			c.pending = map[pathKey]pendingCreate{}
		}
		id := s.idFor(c, w.local)
		c.pending[w.key] = pendingCreate{since: now, backup: w.backup, id: id}
		wake = earliest(wake, now.Add(pendingTimeout))
		create = append(create, Action{Kind: CreateSubflow, Token: c.Token, Local: netip.AddrPortFrom(w.local, 0),
			ID: id, IfIndex: w.key.link, Remote: w.key.remote, Backup: w.backup, Reason: w.reason})
	}
	probes, next := s.proveSilent(c, now)
	create, wake = append(create, probes...), earliest(wake, next)
	// A connection left with no subflow that can carry its data gets one,
	// whatever held back the creations above (survive.go).
	a, w := s.rescue(c, wants, now)
	if a != nil {
		create = append(create, *a)
	}
	wake = earliest(wake, w)
	// REMOVE_ADDR for the IDs of subflows closed on a broken path, once a
	// working subflow is up — unless a new subflow is being opened from
	// the same address (ID): the peer would close that one too.
	if active {
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
			if c.removed == nil {
				c.removed = map[uint8]bool{}
			}
			c.removed[id] = true
			actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: id,
				Reason: "the peer cannot have heard that a subflow on a broken path was closed"})
		}
	}
	// New subflows first, then promotions, then demotions, then
	// closures: the kernel always has a subflow to send on, and closing
	// the old ones makes it reinject their data on one already on its way.
	actions = append(create, actions...)
	for i := range actions {
		actions[i].Mapped = c.Mapped && actions[i].Local.Addr().Is4()
	}
	slices.SortStableFunc(actions, func(a, b Action) int { return cmp.Compare(phase(a), phase(b)) })
	return actions, wake
}

func (s *State) unwantedReason(k pathKey) string {
	l, ok := s.Ifaces.Link(k.link)
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
func (s *State) announce(c *ConnState) []Action {
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
