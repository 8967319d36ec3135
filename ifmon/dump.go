package ifmon

import (
	"cmp"
	"hash/fnv"
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

// temporary reports an IPv6 temporary (privacy) address. IFA_F_TEMPORARY
// shares its value with IFA_F_SECONDARY, which is what it means for IPv4.
func (a addrEntry) temporary() bool { return a.Addr.Is6() && a.Flags&ifaFTemporary != 0 }

// deprecated reports an address whose preferred lifetime ended: the kernel
// sets IFA_F_DEPRECATED then, and at once for an address added with
// preferred_lft 0 (both families).
func (a addrEntry) deprecated() bool { return a.Flags&ifaFDeprecated != 0 }

// routesDigest sums the FNV-1a hashes of the canonical lines of the routes
// and rules: equal sets give equal digests whatever their order, and a
// route that appears, goes or changes changes the digest.
func routesDigest(lines []string) uint64 {
	var sum uint64
	for _, l := range lines {
		h := fnv.New64a()
		h.Write([]byte(l))
		sum += h.Sum64()
	}
	return sum
}

// dump is one dump of links, addresses, routes and rules.
type dump struct {
	links []linkEntry
	addrs []addrEntry
	// routes holds one canonical line for each route (of every table)
	// and each rule: what the monitor keeps of them is whether they
	// changed (Snapshot.Routes).
	routes []string
}

// assemble builds the Snapshot of a dump: links sorted by index, each with
// its class (from classify), state and usable addresses (sorted, without
// duplicates; the temporary and deprecated ones also listed apart), and
// the digest of the routes and rules. Addresses and routes of links absent
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
		l := find(a.Index)
		if l == nil || !a.usable() {
			continue
		}
		l.Addrs = append(l.Addrs, a.Addr)
		if a.temporary() {
			l.Temporary = append(l.Temporary, a.Addr)
		}
		if a.deprecated() {
			l.Deprecated = append(l.Deprecated, a.Addr)
		}
	}
	for i := range links {
		for _, as := range []*[]netip.Addr{&links[i].Addrs, &links[i].Temporary, &links[i].Deprecated} {
			slices.SortFunc(*as, netip.Addr.Compare)
			*as = slices.Compact(*as)
		}
	}
	return Snapshot{Links: links, Routes: routesDigest(d.routes)}
}
