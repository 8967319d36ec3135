package daemon

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
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

// acceptAnnouncement reports whether the loop passes the peer's ADD_ADDR
// ev on to the engine, and logs (thinned out per connection) the ones it
// drops.
func (d *Daemon) acceptAnnouncement(ev genl.Event, at time.Time) bool {
	why := unfollowable(ev.Remote.Addr(), d.state.Ifaces)
	if why == "" {
		return true
	}
	if ok, suppressed, last := d.announceLog.allow(ev.Token, at); ok {
		args := []any{"token", tokenString(ev.Token), "remote", ev.Remote.String(), "remid", ev.RemID, "why", why}
		if suppressed > 0 {
			args = append(args, "suppressed", suppressed)
		}
		if last {
			args = append(args, "more", fmt.Sprintf("further ones of this connection are not logged for %v", announceLogInterval))
		}
		d.log.Warn("peer announcement refused: never followed", args...)
	}
	return false
}
