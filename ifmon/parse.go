package ifmon

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/mdlayher/netlink"
)

// This file holds the pure half of the monitor: parsers for the payloads of
// RTM_NEWLINK, RTM_NEWADDR and RTM_NEWROUTE (the bytes after struct nlmsghdr),
// and the assembly of a Snapshot from them. Nothing here does I/O, so it is
// unit-tested with bytes captured from a kernel (testdata/) and fuzzed.
//
// Fixed C headers are read field by field after a length check; attributes
// only through netlink.AttributeDecoder, which accumulates errors instead of
// panicking on a short value.

// errDumpInterrupted reports a dump whose messages carry NLM_F_DUMP_INTR: the
// kernel's tables changed while it was being walked, so it may be
// inconsistent and must be taken again.
var errDumpInterrupted = errors.New("dump interrupted by a concurrent change")

// linkMsg is what the monitor uses of one RTM_NEWLINK message.
type linkMsg struct {
	Index        int32  // ifi_index
	Type         uint16 // ifi_type: ARPHRD_*
	Flags        uint32 // ifi_flags: IFF_*
	Name         string // IFLA_IFNAME
	OperState    uint8  // IFLA_OPERSTATE (RFC 2863 IF_OPER_*)
	HasOperState bool
	Kind         string // IFLA_LINKINFO/IFLA_INFO_KIND: "veth", "bridge", …
}

// loopback reports IFF_LOOPBACK or ARPHRD_LOOPBACK.
func (l linkMsg) loopback() bool {
	return l.Flags&iffLoopback != 0 || l.Type == arphrdLoopback
}

// up reports whether the link can carry traffic: administratively up
// (IFF_UP), with carrier (IFF_LOWER_UP), and operationally up or unknown.
// The operational state matters: while a veth comes up the kernel announces
// IFF_UP|IFF_LOWER_UP with operstate DOWN (iproute2 prints NO-CARRIER), and a
// Wi-Fi link that is associated but not yet authenticated is DORMANT with
// IFF_LOWER_UP set. Devices without a carrier notion (lo, tun, wireguard)
// report IF_OPER_UNKNOWN. Without IFLA_OPERSTATE, IFF_RUNNING (which the
// kernel derives from the same states) decides.
func (l linkMsg) up() bool {
	if l.Flags&iffUp == 0 || l.Flags&iffLowerUp == 0 {
		return false
	}
	if l.HasOperState {
		return l.OperState == ifOperUp || l.OperState == ifOperUnknown
	}
	return l.Flags&iffRunning != 0
}

// parseLink decodes the payload of an RTM_NEWLINK message: struct ifinfomsg
// then attributes.
func parseLink(b []byte) (linkMsg, error) {
	if len(b) < sizeofIfInfomsg {
		return linkMsg{}, fmt.Errorf("parse link: message of %d bytes, ifinfomsg needs %d", len(b), sizeofIfInfomsg)
	}
	l := linkMsg{
		Type:  binary.NativeEndian.Uint16(b[2:4]),
		Index: int32(binary.NativeEndian.Uint32(b[4:8])),
		Flags: binary.NativeEndian.Uint32(b[8:12]),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfInfomsg:])
	if err != nil {
		return linkMsg{}, fmt.Errorf("parse link %d: %w", l.Index, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case iflaIfname:
			l.Name = ad.String()
		case iflaOperstate:
			l.OperState = ad.Uint8()
			l.HasOperState = true
		case iflaLinkinfo:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == iflaInfoKind {
						l.Kind = nad.String()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return linkMsg{}, fmt.Errorf("parse link %d: %w", l.Index, err)
	}
	return l, nil
}

// addrMsg is what the monitor uses of one RTM_NEWADDR message.
type addrMsg struct {
	Family    uint8  // ifa_family: AF_INET or AF_INET6
	PrefixLen uint8  // ifa_prefixlen
	Scope     uint8  // ifa_scope: RT_SCOPE_*
	Index     int32  // ifa_index
	Flags     uint32 // IFA_F_*: IFA_FLAGS if present, else ifa_flags
	Addr      netip.Addr
}

// usable reports whether a subflow may use the address: not loopback, not
// link-local (169.254/16, fe80::/10: they need a zone and do not leave the
// link), not tentative or DAD-failed (the kernel will not bind it yet, or
// ever). Deprecated IPv6 addresses (preferred lifetime 0) stay usable: RFC
// 4862 §5.5.4 keeps them valid for existing communication, so dropping them
// would make the daemon tear down working subflows; the kernel removes them
// when their valid lifetime ends, and that is reported.
func (a addrMsg) usable() bool {
	ip := a.Addr
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() {
		return false
	}
	return a.Flags&(ifaFTentative|ifaFDadfailed) == 0
}

// parseAddr decodes the payload of an RTM_NEWADDR message: struct ifaddrmsg
// then attributes. The address is IFA_LOCAL when present, else IFA_ADDRESS:
// on a point-to-point link IFA_ADDRESS is the peer's (if_addr.h).
func parseAddr(b []byte) (addrMsg, error) {
	if len(b) < sizeofIfAddrmsg {
		return addrMsg{}, fmt.Errorf("parse address: message of %d bytes, ifaddrmsg needs %d", len(b), sizeofIfAddrmsg)
	}
	a := addrMsg{
		Family:    b[0],
		PrefixLen: b[1],
		Flags:     uint32(b[2]),
		Scope:     b[3],
		Index:     int32(binary.NativeEndian.Uint32(b[4:8])),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfAddrmsg:])
	if err != nil {
		return addrMsg{}, fmt.Errorf("parse address on link %d: %w", a.Index, err)
	}
	var local, address netip.Addr
	for ad.Next() {
		switch ad.Type() {
		case ifaAddress:
			ad.Do(func(v []byte) error {
				var err error
				address, err = ipFromBytes(a.Family, v)
				return err
			})
		case ifaLocal:
			ad.Do(func(v []byte) error {
				var err error
				local, err = ipFromBytes(a.Family, v)
				return err
			})
		case ifaFlags:
			// The u8 in ifaddrmsg cannot hold IFA_F_MANAGETEMPADDR and
			// later flags; IFA_FLAGS carries all of them.
			a.Flags = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return addrMsg{}, fmt.Errorf("parse address on link %d: %w", a.Index, err)
	}
	a.Addr = local
	if !a.Addr.IsValid() {
		a.Addr = address
	}
	return a, nil
}

// routeMsg is what the monitor uses of one RTM_NEWROUTE message.
type routeMsg struct {
	Family uint8  // rtm_family
	DstLen uint8  // rtm_dst_len
	SrcLen uint8  // rtm_src_len
	Table  uint32 // RTA_TABLE if present, else rtm_table
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
func (r routeMsg) isDefault() bool {
	return (r.Family == afInet || r.Family == afInet6) && r.DstLen == 0 &&
		r.Type == rtnUnicast && r.Flags&rtmFCloned == 0
}

// parseRoute decodes the payload of an RTM_NEWROUTE message: struct rtmsg
// then attributes.
func parseRoute(b []byte) (routeMsg, error) {
	if len(b) < sizeofRtMsg {
		return routeMsg{}, fmt.Errorf("parse route: message of %d bytes, rtmsg needs %d", len(b), sizeofRtMsg)
	}
	r := routeMsg{
		Family: b[0],
		DstLen: b[1],
		SrcLen: b[2],
		Table:  uint32(b[4]),
		Type:   b[7],
		Flags:  binary.NativeEndian.Uint32(b[8:12]),
	}
	ad, err := netlink.NewAttributeDecoder(b[sizeofRtMsg:])
	if err != nil {
		return routeMsg{}, fmt.Errorf("parse route: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case rtaTable:
			r.Table = ad.Uint32()
		case rtaOif:
			r.OIFs = append(r.OIFs, int32(ad.Uint32()))
		case rtaMultipath:
			ad.Do(func(v []byte) error {
				oifs, err := parseMultipath(v)
				r.OIFs = append(r.OIFs, oifs...)
				return err
			})
		}
	}
	if err := ad.Err(); err != nil {
		return routeMsg{}, fmt.Errorf("parse route: %w", err)
	}
	return r, nil
}

// parseMultipath returns the interfaces of the live nexthops in the value of
// RTA_MULTIPATH: packed struct rtnexthop { u16 rtnh_len; u8 rtnh_flags; u8
// rtnh_hops; s32 rtnh_ifindex; } each followed by its own attributes, rtnh_len
// covering both, aligned to 4 (RTNH_ALIGN). It is a struct array, not an
// attribute list, so it is walked here with explicit bounds checks.
func parseMultipath(b []byte) ([]int32, error) {
	var oifs []int32
	for len(b) > 0 {
		if len(b) < sizeofRtNexthop {
			return oifs, fmt.Errorf("multipath: %d trailing bytes, rtnexthop needs %d", len(b), sizeofRtNexthop)
		}
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < sizeofRtNexthop || n > len(b) {
			return oifs, fmt.Errorf("multipath: rtnh_len %d with %d bytes left", n, len(b))
		}
		if flags := b[2]; flags&rtnhFDead == 0 {
			oifs = append(oifs, int32(binary.NativeEndian.Uint32(b[4:8])))
		}
		n = (n + 3) &^ 3 // RTNH_ALIGN
		if n > len(b) {
			break // the last nexthop need not be padded
		}
		b = b[n:]
	}
	return oifs, nil
}

// ipFromBytes converts an address attribute of the given family.
func ipFromBytes(family uint8, b []byte) (netip.Addr, error) {
	switch {
	case family == afInet && len(b) == 4:
		return netip.AddrFrom4([4]byte(b)), nil
	case family == afInet6 && len(b) == 16:
		return netip.AddrFrom16([16]byte(b)).Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("address of %d bytes for family %d", len(b), family)
}

// dump is a parsed dump of links, addresses and routes.
type dump struct {
	links  []linkMsg
	addrs  []addrMsg
	routes []routeMsg
}

// parseMessages parses the messages of one or more dumps, by type. Deletions
// and unknown types are ignored (a dump carries none); a message with
// NLM_F_DUMP_INTR fails the whole dump with errDumpInterrupted.
func parseMessages(msgs []netlink.Message) (dump, error) {
	var d dump
	for _, m := range msgs {
		if m.Header.Flags&netlink.DumpInterrupted != 0 {
			return dump{}, errDumpInterrupted
		}
		switch m.Header.Type {
		case rtmNewLink:
			l, err := parseLink(m.Data)
			if err != nil {
				return dump{}, err
			}
			d.links = append(d.links, l)
		case rtmNewAddr:
			a, err := parseAddr(m.Data)
			if err != nil {
				return dump{}, err
			}
			d.addrs = append(d.addrs, a)
		case rtmNewRoute:
			r, err := parseRoute(m.Data)
			if err != nil {
				return dump{}, err
			}
			d.routes = append(d.routes, r)
		}
	}
	return d, nil
}

// assemble builds the Snapshot of a dump: links sorted by index, each with
// its class (from classify), state, usable addresses (sorted, without
// duplicates) and default-route flags. Addresses and routes of links absent
// from the dump (a link created or removed between the dumps) are dropped;
// the change that raced the dump also pokes the monitor, which dumps again.
func assemble(d dump, classify func(linkMsg) Class) Snapshot {
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
