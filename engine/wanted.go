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

// wanted computes the subflows c should have now.
func (s *State) wanted(c *ConnState, now time.Time) ([]want, time.Time) {
	p := c.Policy
	is4 := c.Remote.Addr().Is4()
	var cands []candidate
	for _, l := range s.Ifaces.Links {
		if !usable(l) || !p.Paths.Allowed(l.Class) {
			continue
		}
		a, ok := s.addrFor(c, l, is4)
		if !ok {
			continue
		}
		cands = append(cands, candidate{link: l, addr: a, rank: p.Paths.Rank(l.Class)})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.link.Index, b.link.Index))
	})
	remotes := []netip.AddrPort{c.Remote}
	// A subflow from every candidate to every remote, within MaxSubflows:
	// the announcements that do not fit are left out, lowest IDs first in.
	room := max(1, MaxSubflows/max(1, len(cands)))
	if p.AcceptAnnouncements && p.Mode != policy.ModeHandover {
		ids := make([]uint8, 0, len(c.Announced))
		for id := range c.Announced {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r := c.Announced[id]
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
	}
	var wants []want
	wake := time.Time{}
	if usesQuality(p.Mode) {
		wake = c.refreshHealth(now)
	}
	// probe adds, for a bad path whose probe is due, a fresh backup subflow.
	probe := func(cd candidate, r netip.AddrPort) bool {
		h, bad := c.bad(cd.link.Index)
		if !bad {
			return false
		}
		due, next := h.probeDue(now)
		wake = earliest(wake, next)
		if due {
			wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true, freshAfter: h.probeAt,
				reason: fmt.Sprintf("%s: probing %s (bad: %s)", p.Mode, cd.link.Name, h.reason)})
		}
		return true
	}
	switch p.Mode {
	case policy.ModeSingle:
		// Never a new subflow; of those there are (more than one after a
		// reload from another mode), keep one: the initial subflow if it
		// is still there, else the first.
		for _, sf := range c.Subflows {
			k, ok := s.keyOf(sf)
			if !ok {
				continue
			}
			if len(wants) == 0 || (sf.Local == c.Local && sf.Remote == c.Remote) {
				wants = []want{{key: k, local: sf.Local.Addr(), backup: sf.Backup, reason: "single: one subflow"}}
			}
		}
	case policy.ModeInteractive, policy.ModeAggregate:
		allBad := !slices.ContainsFunc(cands, func(cd candidate) bool { _, bad := c.bad(cd.link.Index); return !bad })
		for _, cd := range cands {
			for _, r := range remotes {
				if h, bad := c.bad(cd.link.Index); bad && p.Mode == policy.ModeInteractive {
					// A slow or lossy path is demoted while bad; one that
					// timed out is closed (its data reinjected on the
					// others at once: a demotion leaves it stuck there
					// until the kernel's RTO), unless every path is bad.
					// Either is replaced by a fresh probe when due.
					probed := probe(cd, r) && slices.ContainsFunc(wants, func(w want) bool { return w.key == pathKey{cd.link.Index, r} })
					if !probed && (!timedOut(h.reason) || allBad) {
						wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true,
							reason: fmt.Sprintf("interactive: %s is bad (%s)", cd.link.Name, h.reason)})
					}
					continue
				}
				wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr,
					reason: fmt.Sprintf("%s: every allowed path (%s)", p.Mode, cd.link.Name)})
			}
		}
	case policy.ModeHandover:
		var pref, back, bad []candidate
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
			// Every path is bad: the best of them is still better than none.
			pref, back, bad = bad[:1], nil, bad[1:]
		}

		add := func(cd candidate, backup bool, reason string) {
			wants = append(wants, want{key: pathKey{cd.link.Index, c.Remote}, local: cd.addr, backup: backup, reason: reason})
		}
		switch {
		case len(pref) > 0 && s.settled(pref[0].link, p.Handover.HoldDown, now):
			add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
			if p.Handover.WarmStandby && len(back) > 0 {
				add(back[0], true, "handover: warm standby on "+back[0].link.Name)
			}
		case len(pref) > 0 && len(back) > 0:
			// The preferred path is back but not for the hold-down yet:
			// stay on the backup path, with the preferred one ready.
			until := s.links[pref[0].link.Index].usableSince.Add(p.Handover.HoldDown)
			wake = until
			add(back[0], false, "handover: "+pref[0].link.Name+" in hold-down, staying on "+back[0].link.Name)
			add(pref[0], true, "handover: "+pref[0].link.Name+" back, in hold-down")
		case len(pref) > 0:
			add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
		case len(back) > 0:
			add(back[0], false, "handover: no preferred path, backup "+back[0].link.Name)
		}
		for _, cd := range bad {
			probe(cd, c.Remote)
		}
	}
	return wants, wake
}

// addrFor picks the local address of c on link l: the initial subflow's
// address when it is on l, else the first address of the connection's
// family.
func (s *State) addrFor(c *ConnState, l ifmon.Link, is4 bool) (netip.Addr, bool) {
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
