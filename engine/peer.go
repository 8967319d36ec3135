package engine

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The peer's announcements (ADD_ADDR). A connection keeps every address
// its peer announced that may be followed at all (unfollowable), whatever
// its policy says, so that a reload to a policy that takes it needs no
// word from the peer; the policy decides which it uses (remotes: accept
// announcements, and takes).

// Announcement is what became of a peer's announcement (PeerAnnounced),
// in Result.Announcement.
type Announcement int

const (
	// AnnouncementFollowed: the connection's policy takes the address.
	AnnouncementFollowed Announcement = iota + 1
	// AnnouncementRefused: the address is never followed (Result.Why).
	AnnouncementRefused
	// AnnouncementOff: the policy does not accept announcements; the
	// address is kept for a reload.
	AnnouncementOff
	// AnnouncementNotFrom: the address is not in the policy's
	// announcements_from; it is kept for a reload.
	AnnouncementNotFrom
)

// limitedBroadcast is 255.255.255.255, which netip has no test for.
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// unfollowable says why the client must not open a subflow to an address
// a peer announced (ADD_ADDR), or "" if it may. A peer chooses what it
// announces: following it to a loopback, link-local or own address, or to
// one that is no single host, would let the peer make this host connect
// to its own services or to its link's neighbours (RFC 8684 section 5.1
// leaves the validation of ADD_ADDR to the implementation). own is the
// host's interfaces (in the managed namespace).
func unfollowable(a netip.Addr, own ifmon.Snapshot) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "not an address"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a == limitedBroadcast:
		return "broadcast"
	}
	for _, l := range own.Links {
		for _, la := range l.Addrs {
			if la.Unmap() == a {
				return "an address of this host (" + l.Name + ")"
			}
		}
	}
	return ""
}

// takes reports whether policy p uses announced address ap: with
// announcements_from, only addresses in its prefixes.
func takes(p *policy.Policy, ap netip.AddrPort) bool {
	if p == nil || len(p.AnnouncementsFrom) == 0 {
		return true
	}
	a := ap.Addr().Unmap()
	return slices.ContainsFunc(p.AnnouncementsFrom, func(pfx netip.Prefix) bool { return pfx.Contains(a) })
}

// peerAnnounced takes in the peer's ADD_ADDR and says in r what became of
// it; it returns c when c's subflows may change.
func (s *State) peerAnnounced(ev PeerAnnounced, r *Result) *connState {
	c := s.conns[ev.Token]
	if c != nil {
		r.Policy = c.Policy
	}
	// The ID named prev before: the connection forgets it.
	prev, had := netip.AddrPort{}, false
	if c != nil {
		prev, had = c.Announced[ev.RemID]
	}
	changed := had && takes(c.Policy, prev)
	if why := unfollowable(ev.Remote.Addr(), s.ifaces); why != "" {
		r.Announcement, r.Why = AnnouncementRefused, why
		if c != nil {
			delete(c.Announced, ev.RemID)
		}
		return ifChanged(c, changed)
	}
	if c == nil {
		return nil
	}
	if c.Announced == nil {
		c.Announced = map[uint8]netip.AddrPort{}
	}
	c.Announced[ev.RemID] = unmapAP(ev.Remote)
	switch {
	case c.Policy != nil && !c.Policy.AcceptAnnouncements:
		// Looked at all the same, as when the policy accepts them.
		r.Announcement = AnnouncementOff
	case !takes(c.Policy, ev.Remote):
		r.Announcement = AnnouncementNotFrom
		return ifChanged(c, changed)
	default:
		r.Announcement = AnnouncementFollowed
	}
	return c
}

// ifChanged is c if changed, else nil.
func ifChanged(c *connState, changed bool) *connState {
	if !changed {
		return nil
	}
	return c
}

// rematch gives every connection the policy m finds for it (after a
// reload).
func (s *State) rematch(m Matcher) {
	for _, tok := range slices.Sorted(maps.Keys(s.conns)) {
		c := s.conns[tok]
		c.Policy = m.Match(c.Token, c.Local, c.Remote, c.ServerSide)
	}
}
