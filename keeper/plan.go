package keeper

import (
	"net/netip"
	"path"
	"slices"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The plan: which endpoints the kernel should have for a snapshot of the
// interfaces (Desired), which of its endpoints are the keeper's (Manages),
// and the commands that get there (Diff). All pure.

// Allows reports whether the keeper may put endpoints on
// interface l: never on loopback; with an allow-list, when a pattern
// matches its name; without one, when it is not virtual.
func Allows(c *policy.EndpointConfig, l ifmon.Link) bool {
	if l.Class == ifmon.ClassLoopback {
		return false
	}
	if len(c.Interfaces) == 0 {
		return l.Class != ifmon.ClassVirtual
	}
	return slices.ContainsFunc(c.Interfaces, func(p string) bool {
		ok, err := path.Match(p, l.Name)
		return ok && err == nil
	})
}

// Manages reports whether endpoint ep of the kernel is the keeper's to
// delete or change, in snapshot snap:
//
//   - an implicit endpoint (the kernel made it for a peer-initiated
//     subflow) never is: the kernel owns it, and replaces it by itself when
//     an endpoint for its address is added;
//   - an endpoint whose address is on an interface is managed when the
//     interface is allowed (Allows), whoever added it: on the allowed
//     interfaces the keeper is authoritative, and an endpoint for an
//     address of another interface is left alone;
//   - an endpoint whose address is on no interface any more (removed, or
//     its interface deleted) is stale: it is managed when it names an
//     interface (dev) that is allowed or that no longer exists, as every
//     endpoint the keeper adds does. So stale endpoints are removed even
//     after a restart of the daemon, while an endpoint without dev for an
//     address the namespace does not have (perhaps added in advance by
//     hand) is left alone.
//
// The keeper also manages the endpoints it added itself while it runs,
// whatever Manages says (an address that moved to another interface).
func Manages(c *policy.EndpointConfig, snap ifmon.Snapshot, ep genl.Endpoint) bool {
	if ep.Flags&genl.FlagImplicit != 0 {
		return false
	}
	if l, ok := snap.ByAddr(ep.Addr); ok {
		return Allows(c, l)
	}
	if ep.IfIndex == 0 {
		return false
	}
	l, ok := snap.Link(ep.IfIndex)
	return !ok || Allows(c, l)
}

// usableAddr reports whether a may be an endpoint's address. ifmon already
// leaves out loopback, link-local and tentative addresses; this guards
// against a hand-built Snapshot.
func usableAddr(a netip.Addr) bool {
	return a.IsValid() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsMulticast() &&
		!a.IsUnspecified() && !a.IsLinkLocalMulticast()
}

// Desired returns the endpoints the kernel should have in snapshot
// snap: one per usable address of every interface that is up and allowed
// (Allows), in interface index then address order, each with IfIndex
// set to its interface, the flags of cfg (plus genl.FlagBackup for the
// classes of cfg.Backup) and ID 0 (the kernel picks). An interface that is
// down has none, so its endpoints are removed until it comes back. A nil
// cfg is policy.DefaultEndpointConfig. Desired is pure.
func Desired(cfg *policy.EndpointConfig, snap ifmon.Snapshot) []genl.Endpoint {
	if cfg == nil {
		cfg = policy.DefaultEndpointConfig()
	}
	links := slices.Clone(snap.Links)
	slices.SortStableFunc(links, func(a, b ifmon.Link) int { return int(a.Index) - int(b.Index) })
	var out []genl.Endpoint
	seen := make(map[netip.Addr]bool)
	for _, l := range links {
		if !l.Up || !Allows(cfg, l) {
			continue
		}
		flags := cfg.Flags
		if slices.Contains(cfg.Backup, l.Class) {
			flags |= genl.FlagBackup
		}
		addrs := slices.Clone(l.Addrs)
		slices.SortFunc(addrs, netip.Addr.Compare)
		for _, a := range addrs {
			a = a.Unmap()
			if !usableAddr(a) || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, genl.Endpoint{Addr: a, Flags: flags, IfIndex: l.Index})
		}
	}
	return out
}

// FlagChange is a kernel endpoint whose address is right but whose
// changeable flags (backup, fullmesh) are not.
type FlagChange struct {
	Endpoint genl.Endpoint // as the kernel has it, with its ID
	Flags    genl.Flags    // the flags it should have
}

// changeableFlags are the flags the kernel changes on a live endpoint
// (MPTCP_PM_CMD_SET_FLAGS); any other difference means delete and add.
const changeableFlags = genl.FlagBackup | genl.FlagFullmesh

// Change returns the update of c for genl.Client.ChangeEndpoint.
func (c FlagChange) Change() genl.EndpointChange {
	var ch genl.EndpointChange
	if (c.Endpoint.Flags^c.Flags)&genl.FlagBackup != 0 {
		b := c.Flags&genl.FlagBackup != 0
		ch.Backup = &b
	}
	if (c.Endpoint.Flags^c.Flags)&genl.FlagFullmesh != 0 {
		f := c.Flags&genl.FlagFullmesh != 0
		ch.Fullmesh = &f
	}
	return ch
}

// Diff returns what turns the endpoints current into desired,
// keyed by address (IPv4-mapped addresses count as IPv4):
//
//   - del: the endpoints of current whose address is not desired, the
//     second and later endpoints of one address, and those that differ
//     from the desired one in port, interface, or a flag the kernel cannot
//     change in place (subflow, signal, …);
//   - change: those that differ only in backup or fullmesh;
//   - add: the desired endpoints not in current, and the replacements of
//     those deleted for a difference.
//
// current must hold only the endpoints the caller manages
// (Manages): anything else in it is deleted. Applying del,
// then change, then add, and diffing again gives nothing: the diff is
// stable. Diff is pure.
func Diff(current, desired []genl.Endpoint) (add []genl.Endpoint, del []genl.Endpoint, change []FlagChange) {
	want := make(map[netip.Addr]genl.Endpoint, len(desired))
	for _, d := range desired {
		a := d.Addr.Unmap()
		if _, dup := want[a]; !dup {
			want[a] = d
		}
	}
	kept := make(map[netip.Addr]bool)
	for _, cur := range current {
		a := cur.Addr.Unmap()
		d, ok := want[a]
		switch {
		case !ok || kept[a]:
			del = append(del, cur)
		case cur.Port != d.Port || cur.IfIndex != d.IfIndex || (cur.Flags^d.Flags)&^changeableFlags != 0:
			del = append(del, cur)
		default:
			kept[a] = true
			if cur.Flags != d.Flags {
				change = append(change, FlagChange{Endpoint: cur, Flags: d.Flags})
			}
		}
	}
	for _, d := range desired {
		a := d.Addr.Unmap()
		if kept[a] {
			continue
		}
		kept[a] = true // once per address
		d.Addr = a
		add = append(add, d)
	}
	return add, del, change
}
