package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
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

// peerAddrs are the followable addresses peers announced, by connection
// and remote ID.
type peerAddrs map[uint32]map[uint8]netip.AddrPort

// takes reports whether policy p uses announced address ap: with
// announcements_from, only addresses in its prefixes.
func takes(p *policy.Policy, ap netip.AddrPort) bool {
	if p == nil || len(p.AnnouncementsFrom) == 0 {
		return true
	}
	a := ap.Addr().Unmap()
	return slices.ContainsFunc(p.AnnouncementsFrom, func(pfx netip.Prefix) bool { return pfx.Contains(a) })
}

// announced handles the peer's ADD_ADDR ev: the engine gets it unless the
// address is never followed or the connection's policy does not take it.
// Those a policy does not take are kept, for a reload to a policy that
// does.
func (d *Daemon) announced(ev genl.Event, base engine.EventBase) {
	c, known := d.state.Conn(ev.Token)
	prev, had := d.peerAddrs[ev.Token][ev.RemID]
	// The ID named prev before: the engine forgets it if it had it.
	forget := func() {
		if had && known && takes(c.Policy, prev) {
			d.step(engine.PeerRemoved{EventBase: base, Token: ev.Token, RemID: ev.RemID})
		}
	}
	if why := unfollowable(ev.Remote.Addr(), d.state.Interfaces()); why != "" {
		d.logAnnouncement(ev, base.At, slog.LevelWarn, "peer announcement refused: never followed", "why", why)
		delete(d.peerAddrs[ev.Token], ev.RemID)
		forget()
		return
	}
	if !known {
		return // not a connection the daemon knows (the engine would drop it)
	}
	if d.peerAddrs[ev.Token] == nil {
		d.peerAddrs[ev.Token] = map[uint8]netip.AddrPort{}
	}
	d.peerAddrs[ev.Token][ev.RemID] = ev.Remote
	switch {
	case c.Policy != nil && !c.Policy.AcceptAnnouncements:
		d.logAnnouncement(ev, base.At, slog.LevelInfo, "peer announcement ignored (accept_announcements is off)", "policy", c.Policy.Name)
	case !takes(c.Policy, ev.Remote):
		d.logAnnouncement(ev, base.At, slog.LevelInfo, "peer announcement ignored (not in announcements_from)", "policy", c.Policy.Name)
		forget()
		return
	}
	d.step(engine.PeerAnnounced{EventBase: base, Token: ev.Token, RemID: ev.RemID, Remote: ev.Remote})
}

// repolicy gives connection tok policy p instead of old, and the engine
// the announced addresses p takes and no others.
func (d *Daemon) repolicy(tok uint32, old, p *policy.Policy) {
	at := now()
	ids := slices.Sorted(maps.Keys(d.peerAddrs[tok]))
	for _, id := range ids {
		if ap := d.peerAddrs[tok][id]; takes(old, ap) && !takes(p, ap) {
			d.step(engine.PeerRemoved{EventBase: at, Token: tok, RemID: id})
		}
	}
	d.step(engine.PolicyChanged{EventBase: at, Token: tok, Policy: p})
	for _, id := range ids {
		if ap := d.peerAddrs[tok][id]; !takes(old, ap) && takes(p, ap) {
			d.step(engine.PeerAnnounced{EventBase: at, Token: tok, RemID: id, Remote: ap})
		}
	}
}

// logAnnouncement logs what became of the peer's ADD_ADDR ev. A peer can
// send them as fast as it likes: the log gets a few per connection and
// interval.
func (d *Daemon) logAnnouncement(ev genl.Event, at time.Time, level slog.Level, msg string, more ...any) {
	ok, suppressed, last := d.announceLog.allow(ev.Token, at)
	if !ok {
		return
	}
	args := append([]any{"token", tokenString(ev.Token), "remote", ev.Remote.String(), "remid", ev.RemID}, more...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	if last {
		args = append(args, "more", fmt.Sprintf("further ones of this connection are not logged for %v", announceLogInterval))
	}
	d.log.Log(context.Background(), level, msg, args...)
}
