//go:build linux

package ifmon

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// errDumpInterrupted reports a dump whose messages kept carrying
// NLM_F_DUMP_INTR: the kernel's tables changed while it was being walked,
// every time it was taken.
var errDumpInterrupted = errors.New("dump interrupted by concurrent changes")

// dumper takes the dumps of a snapshot with vishvananda/netlink, on one
// rtnetlink socket that lives in the watched namespace.
type dumper struct {
	h *netlink.Handle
}

// openDumper opens the dump socket in the namespace nsfd (0: the calling
// thread's). The socket is created on a thread that internal/netns.Do
// switches into the namespace (a socket stays in the namespace it was
// created in); netlink.NewHandleAt would do the same but ignores a failure
// to switch the thread back.
func openDumper(nsfd int) (*dumper, error) {
	var h *netlink.Handle
	err := netns.Do(nsfd, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &dumper{h: h}, nil
}

// Close closes the dump socket.
func (d *dumper) Close() { d.h.Close() }

// dump takes the three dumps of a snapshot: links, addresses of every
// family, and routes of every family and table. The three are not atomic
// together; a change between them also reaches the event socket, which
// triggers another snapshot. A dump the kernel marks as interrupted
// (NLM_F_DUMP_INTR: its tables changed during the walk) is taken again.
func (d *dumper) dump() (dump, error) {
	for attempt := 1; ; attempt++ {
		out, err := d.dumpOnce()
		if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < maxDumpAttempts {
			continue
		}
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			return dump{}, fmt.Errorf("%w (%d attempts)", errDumpInterrupted, attempt)
		}
		return out, err
	}
}

// dumpOnce takes the three dumps once; its error matches
// netlink.ErrDumpInterrupted when one of them was interrupted.
//
// The library reads fixed-size attribute values by slicing them
// (attr.Value[0:4]), so an attribute that a future kernel shortens would
// panic inside it; such a panic becomes an error here, that is a failed
// snapshot that Run retries and reports, not a crashed daemon.
func (d *dumper) dumpOnce() (out dump, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = dump{}, fmt.Errorf("dump: vishvananda/netlink panicked: %v", p)
		}
	}()
	links, err := d.h.LinkList()
	if err != nil {
		return dump{}, fmt.Errorf("dump links: %w", err)
	}
	for _, l := range links {
		out.links = append(out.links, linkEntryOf(l))
	}
	addrs, err := d.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return dump{}, fmt.Errorf("dump addresses: %w", err)
	}
	for _, a := range addrs {
		if am, ok := addrEntryOf(a); ok {
			out.addrs = append(out.addrs, am)
		}
	}
	// Every table: a zero filter with RT_FILTER_TABLE keeps routes of all
	// tables (without it the library drops those outside main). The
	// per-interface routes of source-policy routing live in other tables.
	routes, err := d.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return dump{}, fmt.Errorf("dump routes: %w", err)
	}
	for _, r := range routes {
		out.routes = append(out.routes, routeLine(r))
	}
	rules, err := d.h.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		return dump{}, fmt.Errorf("dump rules: %w", err)
	}
	for _, r := range rules {
		out.routes = append(out.routes, ruleLine(r))
	}
	return out, nil
}

// routeLine is the canonical text of a route: what decides where it
// sends, without its cache info (expiry, use counts), which changes
// without the route changing. The library drops cloned routes.
func routeLine(r netlink.Route) string {
	line := fmt.Sprintf("route %d %d t%d %v %v %v %v oif%d m%d p%d s%d f%x", r.Family, r.Type, r.Table,
		r.Dst, r.Src, r.Gw, r.Via, r.LinkIndex, r.Priority, r.Protocol, r.Scope, r.Flags)
	for _, nh := range r.MultiPath {
		line += fmt.Sprintf(" nh%d %v %v f%x w%d", nh.LinkIndex, nh.Gw, nh.Via, nh.Flags, nh.Hops)
	}
	return line
}

// ruleLine is the canonical text of a policy-routing rule.
func ruleLine(r netlink.Rule) string {
	var mask uint32
	if r.Mask != nil {
		mask = *r.Mask
	}
	return fmt.Sprintf("rule %d %d t%d %v %v %d/%d %q %q %d %v %v %v %v %d %d %d %d", r.Family, r.Priority, r.Table,
		r.Src, r.Dst, r.Mark, mask, r.IifName, r.OifName, r.Tos, r.Invert, r.UIDRange, r.Sport, r.Dport,
		r.IPProto, r.Goto, r.SuppressPrefixlen, r.Type)
}

// linkEntryOf keeps what the monitor uses of a link.
func linkEntryOf(l netlink.Link) linkEntry {
	a := l.Attrs()
	return linkEntry{
		Index:     int32(a.Index),
		Type:      arphrdOf(a.EncapType),
		Flags:     a.RawFlags,
		Name:      a.Name,
		OperState: uint8(a.OperState),
		Kind:      linkKind(l),
	}
}

// arphrdOf maps the library's name of ifi_type back to its number, for the
// one type the monitor tests.
func arphrdOf(encap string) uint16 {
	if encap == "loopback" {
		return arphrdLoopback
	}
	return 0
}

// linkKind is IFLA_INFO_KIND as far as the library keeps it: "" for a
// device without one (*netlink.Device), the kernel's kind for the types the
// library does not know (wwan, rmnet, …), and the library's type name for
// the others, which is the kernel's kind except "tuntap" for "tun".
func linkKind(l netlink.Link) string {
	switch l.(type) {
	case *netlink.Device:
		return ""
	case *netlink.Tuntap:
		return "tun"
	}
	return l.Type()
}

// addrEntryOf keeps what the monitor uses of an address. The library takes
// IFA_LOCAL when present, else IFA_ADDRESS, and the flags from IFA_FLAGS,
// which the kernel sends with every address since 3.14 (the u8 ifa_flags
// cannot hold IFA_F_MANAGETEMPADDR and later flags).
func addrEntryOf(a netlink.Addr) (addrEntry, bool) {
	if a.IPNet == nil {
		return addrEntry{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return addrEntry{}, false
	}
	return addrEntry{Index: int32(a.LinkIndex), Flags: uint32(a.Flags), Addr: ip.Unmap()}, true
}
