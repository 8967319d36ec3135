package ifmon

import (
	"cmp"
	"net/netip"
	"slices"
)

// This file holds the pure half of a snapshot: the facts the monitor keeps
// of each link, address and route of a dump (dump_linux.go takes the dumps
// with vishvananda/netlink), the rules that judge them, and the assembly of
// a Snapshot. Nothing here does I/O, so it is tested on every GOOS.

// linkEntry is what the monitor uses of one link.
type linkEntry struct {
	Index     int32  // ifi_index
	Type      uint16 // ifi_type: ARPHRD_*
	Flags     uint32 // ifi_flags: IFF_*
	Name      string // IFLA_IFNAME
	OperState uint8  // IFLA_OPERSTATE (RFC 2863 IF_OPER_*)
	Kind      string // IFLA_LINKINFO/IFLA_INFO_KIND: "veth", "bridge", …
}

// loopback reports IFF_LOOPBACK or ARPHRD_LOOPBACK.
func (l linkEntry) loopback() bool {
	return l.Flags&iffLoopback != 0 || l.Type == arphrdLoopback
}

// up reports whether the link can carry traffic: administratively up
// (IFF_UP), with carrier (IFF_LOWER_UP), and operationally up or unknown.
// The operational state matters: while a veth comes up the kernel announces
// IFF_UP|IFF_LOWER_UP with operstate DOWN (iproute2 prints NO-CARRIER), and a
// Wi-Fi link that is associated but not yet authenticated is DORMANT with
// IFF_LOWER_UP set. Devices without a carrier notion (lo, tun, wireguard)
// report IF_OPER_UNKNOWN. The kernel sends IFLA_OPERSTATE with every link
// (rtnl_fill_ifinfo in net/core/rtnetlink.c).
func (l linkEntry) up() bool {
	if l.Flags&iffUp == 0 || l.Flags&iffLowerUp == 0 {
		return false
	}
	return l.OperState == ifOperUp || l.OperState == ifOperUnknown
}

// addrEntry is what the monitor uses of one address.
type addrEntry struct {
	Index int32  // ifa_index
	Flags uint32 // IFA_F_*, from IFA_FLAGS
	// Addr is IFA_LOCAL when present, else IFA_ADDRESS: on a
	// point-to-point link IFA_ADDRESS is the peer's (if_addr.h).
	Addr netip.Addr
}

// usable reports whether a subflow may use the address: not loopback, not
// link-local (169.254/16, fe80::/10: they need a zone and do not leave the
// link), not tentative or DAD-failed (the kernel will not bind it yet, or
// ever). Deprecated IPv6 addresses (preferred lifetime 0) stay usable: RFC
// 4862 §5.5.4 keeps them valid for existing communication, so dropping them
// would make the daemon tear down working subflows; the kernel removes them
// when their valid lifetime ends, and that is reported.
func (a addrEntry) usable() bool {
	ip := a.Addr
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() {
		return false
	}
	return a.Flags&(ifaFTentative|ifaFDadfailed) == 0
}

// routeEntry is what the monitor uses of one route.
type routeEntry struct {
	Family uint8  // rtm_family
	DstLen uint8  // rtm_dst_len
	Type   uint8  // rtm_type: RTN_*
	Flags  uint32 // rtm_flags: RTM_F_* and RTNH_F_*
	// OIFs are the output interfaces: RTA_OIF, and the ifindex of every
	// nexthop of RTA_MULTIPATH that is not RTNH_F_DEAD.
	OIFs []int32
}

// isDefault reports whether r is a unicast default route (0.0.0.0/0 or
// ::/0) of IPv4 or IPv6. A source-specific IPv6 default (`default from
// 2001:db8::/64`) counts: it is how IPv6 multihoming installs defaults.
// Unreachable, blackhole and prohibit defaults (IPv6 puts an "unreachable
// default dev lo" in some tables) and cached clones do not.
func (r routeEntry) isDefault() bool {
	return (r.Family == afInet || r.Family == afInet6) && r.DstLen == 0 &&
		r.Type == rtnUnicast && r.Flags&rtmFCloned == 0
}

// dump is one dump of links, addresses and routes.
type dump struct {
	links  []linkEntry
	addrs  []addrEntry
	routes []routeEntry
}

// assemble builds the Snapshot of a dump: links sorted by index, each with
// its class (from classify), state, usable addresses (sorted, without
// duplicates) and default-route flags. Addresses and routes of links absent
// from the dump (a link created or removed between the dumps) are dropped;
// the change that raced the dump also pokes the monitor, which dumps again.
func assemble(d dump, classify func(linkEntry) Class) Snapshot {
	links := make([]Link, 0, len(d.links))
	for _, lm := range d.links {
		links = append(links, Link{
			Index: lm.Index,
			Name:  lm.Name,
			Class: classify(lm),
			Up:    lm.up(),
		})
	}
	slices.SortStableFunc(links, func(a, b Link) int { return cmp.Compare(a.Index, b.Index) })
	// The kernel never reports an index twice in one dump; keep the first if
	// a forged or merged input does.
	links = slices.CompactFunc(links, func(a, b Link) bool { return a.Index == b.Index })
	find := func(i int32) *Link {
		j, ok := slices.BinarySearchFunc(links, i, func(l Link, i int32) int { return cmp.Compare(l.Index, i) })
		if !ok {
			return nil
		}
		return &links[j]
	}
	for _, a := range d.addrs {
		if l := find(a.Index); l != nil && a.usable() {
			l.Addrs = append(l.Addrs, a.Addr)
		}
	}
	for _, r := range d.routes {
		if !r.isDefault() {
			continue
		}
		for _, oif := range r.OIFs {
			l := find(oif)
			switch {
			case l == nil:
			case r.Family == afInet:
				l.DefaultRoute4 = true
			case r.Family == afInet6:
				l.DefaultRoute6 = true
			}
		}
	}
	for i := range links {
		slices.SortFunc(links[i].Addrs, netip.Addr.Compare)
		links[i].Addrs = slices.Compact(links[i].Addrs)
	}
	return Snapshot{Links: links}
}
