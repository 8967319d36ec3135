package engine

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// candidate is a link a connection may use, with its address.
type candidate struct {
	link ifmon.Link
	addr netip.Addr
	rank int
}

// wanted computes the subflows c should have now, and when it wants to
// be looked at again.
func (s *State) wanted(c *connState, now time.Time) ([]want, time.Time) {
	p := c.Policy
	cands := s.candidates(c)
	w := wantList{c: c, now: now}
	if usesQuality(p.Mode) {
		w.wake = c.refreshHealth(now)
	}
	switch p.Mode {
	case policy.ModeSingle:
		s.wantSingle(&w)
	case policy.ModeInteractive, policy.ModeAggregate:
		var buf [MaxSubflows]netip.AddrPort
		w.wantEvery(cands, remotes(c, len(cands), buf[:0]))
	case policy.ModeHandover:
		s.wantHandover(&w, cands)
	}
	return w.wants, w.wake
}

// wantList is the wanted subflows of one connection being worked out.
type wantList struct {
	c     *connState
	now   time.Time
	wants []want
	wake  time.Time
}

// candidates are the links c may use, best first: usable, allowed by its
// policy, with an address of its family.
func (s *State) candidates(c *connState) []candidate {
	p := c.Policy
	is4 := c.Remote.Addr().Is4()
	var cands []candidate
	for _, l := range s.ifaces.Links {
		a, ex := s.consider(c, l, is4)
		if ex != included {
			continue
		}
		cands = append(cands, candidate{link: l, addr: a, rank: p.Paths.Rank(l.Class)})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.link.Index, b.link.Index))
	})
	return cands
}

// exclusion is why a link is not a candidate of a connection (explain.go
// words it).
type exclusion uint8

const (
	included   exclusion = iota
	exclDown             // the link is down
	exclNoAddr           // it has no address
	exclClass            // its class is not among the policy's paths
	exclFamily           // it has no address of the connection's family
)

// consider says whether link l is a candidate of c (is4: c is IPv4), and
// with which local address.
func (s *State) consider(c *connState, l ifmon.Link, is4 bool) (netip.Addr, exclusion) {
	switch {
	case !l.Up:
		return netip.Addr{}, exclDown
	case len(l.Addrs) == 0:
		return netip.Addr{}, exclNoAddr
	case !c.Policy.Paths.Allowed(l.Class):
		return netip.Addr{}, exclClass
	}
	a, ok := s.addrFor(c, l, is4)
	if !ok {
		return netip.Addr{}, exclFamily
	}
	return a, included
}

// remotes are the peer addresses c's subflows go to: its own, and those
// the peer announced when the policy accepts announcements and takes them
// (not in handover mode).
// A subflow from every one of n candidates to every remote, within
// MaxSubflows: the announcements that do not fit are left out, lowest IDs
// first in. They are appended to buf.
func remotes(c *connState, n int, buf []netip.AddrPort) []netip.AddrPort {
	p := c.Policy
	is4 := c.Remote.Addr().Is4()
	remotes := append(buf, c.Remote)
	room := max(1, MaxSubflows/max(1, n))
	if !p.AcceptAnnouncements || p.Mode == policy.ModeHandover {
		return remotes
	}
	ids := make([]uint8, 0, len(c.Announced))
	for id := range c.Announced {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := c.Announced[id]
		if !takes(p, r) {
			continue
		}
		if r.Port() == 0 {
			r = netip.AddrPortFrom(r.Addr(), c.Remote.Port())
		}
		if len(remotes) >= room {
			break
		}
		if r.Addr().Is4() == is4 && !slices.Contains(remotes, r) {
			remotes = append(remotes, r)
		}
	}
	return remotes
}

// probe adds, for a bad path whose probe is due, a fresh backup subflow;
// it reports whether the path is bad.
func (w *wantList) probe(cd candidate, r netip.AddrPort) bool {
	h, bad := w.c.bad(cd.link.Index)
	if !bad {
		return false
	}
	due, next := h.probeDue(w.now)
	w.wake = earliest(w.wake, next)
	if due {
		w.wants = append(w.wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true, freshAfter: h.probeAt,
			reason: fmt.Sprintf("%s: probing %s (bad: %s)", w.c.Policy.Mode, cd.link.Name, h.reason)})
	}
	return true
}

// wantSingle: never a new subflow; of those there are (more than one
// after a reload from another mode), keep one: the initial subflow if it
// is still there, else the first.
func (s *State) wantSingle(w *wantList) {
	c := w.c
	for _, sf := range c.Subflows {
		k, ok := s.keyOf(sf)
		if !ok {
			continue
		}
		if len(w.wants) == 0 || (sf.Local == c.Local && sf.Remote == c.Remote) {
			w.wants = []want{{key: k, local: sf.Local.Addr(), backup: sf.Backup, reason: "single: one subflow"}}
		}
	}
}

// wantEvery (interactive and aggregate modes): a subflow from every
// candidate to every remote. In interactive mode a slow or lossy path is
// demoted while bad; one that timed out is closed (its data reinjected on
// the others at once: a demotion leaves it stuck there until the kernel's
// RTO), unless every path is bad. Either is replaced by a fresh probe when
// due.
func (w *wantList) wantEvery(cands []candidate, remotes []netip.AddrPort) {
	c, mode := w.c, w.c.Policy.Mode
	allBad := !slices.ContainsFunc(cands, func(cd candidate) bool { _, bad := c.bad(cd.link.Index); return !bad })
	for _, cd := range cands {
		for _, r := range remotes {
			if h, bad := c.bad(cd.link.Index); bad && mode == policy.ModeInteractive {
				probed := w.probe(cd, r) && slices.ContainsFunc(w.wants, func(x want) bool { return x.key == pathKey{cd.link.Index, r} })
				if !probed && (!timedOut(h.reason) || allBad) {
					w.wants = append(w.wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true,
						reason: fmt.Sprintf("interactive: %s is bad (%s)", cd.link.Name, h.reason)})
				}
				continue
			}
			w.wants = append(w.wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr,
				reason: fmt.Sprintf("%s: every allowed path (%s)", mode, cd.link.Name)})
		}
	}
}

// wantHandover: one subflow on the best preferred path that has been
// usable for the hold-down (else the best backup path), a warm standby
// if asked, and probes of the bad paths.
func (s *State) wantHandover(w *wantList, cands []candidate) {
	c, p := w.c, w.c.Policy
	pref, back, bad := splitPaths(c, cands)
	add := func(cd candidate, backup bool, reason string) {
		w.wants = append(w.wants, want{key: pathKey{cd.link.Index, c.Remote}, local: cd.addr, backup: backup, reason: reason})
	}
	switch {
	case len(pref) > 0 && s.settled(pref[0].link, p.Handover.HoldDown, w.now):
		add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
		if p.Handover.WarmStandby && len(back) > 0 {
			add(back[0], true, "handover: warm standby on "+back[0].link.Name)
		}
	case len(pref) > 0 && len(back) > 0:
		// The preferred path is back but not for the hold-down yet:
		// stay on the backup path, with the preferred one ready.
		w.wake = s.links[pref[0].link.Index].usableSince.Add(p.Handover.HoldDown)
		add(back[0], false, "handover: "+pref[0].link.Name+" in hold-down, staying on "+back[0].link.Name)
		add(pref[0], true, "handover: "+pref[0].link.Name+" back, in hold-down")
	case len(pref) > 0:
		add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
	case len(back) > 0:
		add(back[0], false, "handover: no preferred path, backup "+back[0].link.Name)
	}
	for _, cd := range bad {
		w.probe(cd, c.Remote)
	}
}

// splitPaths sorts the candidates of a connection in handover mode into
// preferred, backup and bad paths. When every path is bad, the best of
// them is still better than none: it counts as preferred.
func splitPaths(c *connState, cands []candidate) (pref, back, bad []candidate) {
	p := c.Policy
	for _, cd := range cands {
		switch _, isBad := c.bad(cd.link.Index); {
		case isBad:
			bad = append(bad, cd)
		case p.Paths.Preferred(cd.link.Class):
			pref = append(pref, cd)
		default:
			back = append(back, cd)
		}
	}
	if len(pref) == 0 && len(back) == 0 && len(bad) > 0 {
		pref, back, bad = bad[:1], nil, bad[1:]
	}
	return pref, back, bad
}

// addrFor picks the local address of c on link l: the initial subflow's
// address when it is on l, else the first address of the connection's
// family.
func (s *State) addrFor(c *connState, l ifmon.Link, is4 bool) (netip.Addr, bool) {
	if slices.Contains(l.Addrs, c.Local.Addr()) {
		return c.Local.Addr(), true
	}
	for _, a := range l.Addrs {
		if a.Is4() == is4 {
			return a, true
		}
	}
	return netip.Addr{}, false
}
