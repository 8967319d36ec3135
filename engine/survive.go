package engine

import (
	"cmp"
	"net/netip"
	"time"
)

// Survival (issue 14). Whatever the links, the policy or the kernel do, a
// connection that has data to move always has, or is getting, a subflow on
// a usable path:
//   - its last established subflow is replaced before it is destroyed,
//     unless its address is gone (it cannot carry anything then): a link
//     that is down may come back, and a connection left with no subflow
//     had nothing creating one (2 runs in 3 of a churn test lost their
//     stream that way);
//   - a connection with no established subflow on a usable path (stranded)
//     gets the one subflow it needs at once, whatever the path's back-off,
//     the creation rate limit and MaxSubflows say: those hold back extra
//     subflows, not the one that keeps the connection alive (with them the
//     connections that recovered stalled 1.1 to 1.6 s instead of ~12 ms).
//
// Rescues are paced on their own, so that a kernel that refuses at once is
// not asked again at every event, and a link flapping for ever does not
// make a connection create subflows without bound: the first after
// rescueQuiet without one goes at once, then they are spaced rescueMin,
// doubling each time, up to rescueMax. Over any span T a connection gets
// at most RescueBurst + T/rescueMax rescues (0, 50, 100, 200, 400 and
// 800 ms apart: six in 1.55 s, then one a second).
const (
	rescueMin   = 50 * time.Millisecond
	rescueMax   = CreateInterval
	rescueQuiet = 10 * time.Second
	// RescueBurst is how many rescues can go faster than one every
	// rescueMax.
	RescueBurst = 6
)

// rescueReason opens the reason of a rescue's creation.
const rescueReason = "no subflow can carry the connection: "

// keepsLast reports whether the unwanted subflows of c must stay: none of
// the subflows it keeps (wanted, established, not being closed) can carry
// its data, so closing them could leave it with none that does (they may
// be all it has, or the subflow a rescue opened while the wanted ones are
// on a link that is down). They are closed once a replacement is up.
func (s *State) keepsLast(c *connState, kept map[pathKey]bool) bool {
	for k := range kept {
		if !s.cannotCarry(c, k.link) {
			return false
		}
	}
	return true
}

// cannotCarry reports whether link l cannot carry c's data: it is gone,
// down or has no address, or c found the path broken (timeouts or loss;
// only slow is still a path).
func (s *State) cannotCarry(c *connState, link int32) bool {
	l, ok := s.ifaces.Link(link)
	if !ok || !usable(l) {
		return true
	}
	h, bad := c.bad(link)
	return bad && h.reason != "rtt"
}

// stranded reports whether c has no established subflow that can carry
// its data (see cannotCarry); subflows being closed do not count.
func (s *State) stranded(c *connState) bool {
	for _, sf := range c.Subflows {
		if _, closing := c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}]; closing {
			continue
		}
		if k, ok := s.keyOf(sf); ok && !s.cannotCarry(c, k.link) {
			return false
		}
	}
	return true
}

// stale reports whether creation p on path k can no longer give c a
// subflow: it timed out, its link cannot carry data, or the link went down
// and up again after it was sent (its SYN was lost with the link, and the
// kernel retransmits it only after a second or more).
func (s *State) stale(c *connState, k pathKey, p pendingCreate, now time.Time) bool {
	return now.Sub(p.since) >= pendingTimeout || s.cannotCarry(c, k.link) || p.since.Before(s.links[k.link].usableSince)
}

// rescue returns the creation a stranded connection needs, if it needs one
// now, and when to look again otherwise (zero: no need). It is called
// after the ordinary creations of reconcile, with the same wants.
func (s *State) rescue(c *connState, wants []want, now time.Time) (*Action, time.Time) {
	if !s.stranded(c) {
		return nil, time.Time{}
	}
	for k, p := range c.pending {
		if !s.stale(c, k, p, now) {
			// Being created: the kernel answers. An ordinary creation
			// sent while stranded counts as a rescue for the pace.
			if p.since.After(c.rescueAt) {
				c.rescued(p.since)
			}
			return nil, time.Time{}
		}
	}
	w, ok := s.rescueWant(c, wants)
	if !ok {
		// No usable path: InterfacesChanged brings the connection back
		// here when one is.
		return nil, time.Time{}
	}
	if next := c.nextRescue(); now.Before(next) {
		return nil, next
	}
	c.rescued(now)
	if c.pending == nil {
		c.pending = map[pathKey]pendingCreate{}
	}
	id := s.idFor(c, w.local)
	c.pending[w.key] = pendingCreate{since: now, backup: w.backup, id: id}
	return &Action{Kind: CreateSubflow, Token: c.Token, Local: netip.AddrPortFrom(w.local, 0), ID: id, IfIndex: w.key.link,
		Remote: w.key.remote, Backup: w.backup, Reason: rescueReason + w.reason}, now.Add(pendingTimeout)
}

// nextRescue is when c may have its next rescue.
func (c *connState) nextRescue() time.Time {
	if c.rescueN == 0 {
		return time.Time{}
	}
	return c.rescueAt.Add(min(rescueMin<<min(c.rescueN-1, 10), rescueMax))
}

// rescued counts a rescue sent at t.
func (c *connState) rescued(t time.Time) {
	if t.Sub(c.rescueAt) >= rescueQuiet {
		c.rescueN = 0
	}
	c.rescueAt = t
	c.rescueN++
}

// rescueWant picks the path of a rescue: the first wanted path that can
// carry data, else the first on a usable link (every path is bad: the best
// of them is better than none). Single mode wants no subflow but the one
// it has, and opens no other while it has one (the link may come back);
// with none left (its address went) it gets one on its best allowed path.
func (s *State) rescueWant(c *connState, wants []want) (want, bool) {
	for _, anyBad := range []bool{false, true} {
		for _, w := range wants {
			l, ok := s.ifaces.Link(w.key.link)
			if ok && usable(l) && (anyBad || !s.cannotCarry(c, w.key.link)) {
				return w, true
			}
		}
	}
	if c.Policy == nil || len(c.Subflows) > 0 {
		return want{}, false
	}
	var best *want
	bestRank := 0
	for _, l := range s.ifaces.Links {
		if !usable(l) || !c.Policy.Paths.Allowed(l.Class) {
			continue
		}
		a, _ := s.pathAddr(c, l, c.Remote.Addr())
		if !a.IsValid() {
			continue
		}
		r := c.Policy.Paths.Rank(l.Class)
		if best == nil || cmp.Compare(r, bestRank) < 0 {
			best, bestRank = &want{key: pathKey{l.Index, c.Remote}, local: a, reason: "best allowed path " + l.Name}, r
		}
	}
	if best == nil {
		return want{}, false
	}
	return *best, true
}
