//go:build linux

// Package links maps interface names to indexes and back inside a chosen
// network namespace, with one rtnetlink dump and a socket bound into that
// namespace (no thread of the caller is moved).
package links

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Table is a snapshot of the interfaces of one namespace.
type Table struct {
	byIndex map[int32]string
	byName  map[string]int32
}

// Dump reads the interfaces of the namespace netnsFD (0: the caller's).
func Dump(netnsFD int) (*Table, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return nil, fmt.Errorf("links: dial rtnetlink: %w", err)
	}
	defer c.Close()
	// struct ifinfomsg: family, pad, type, index, flags, change (16 bytes).
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfInfomsg),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("links: dump links: %w", err)
	}
	return parse(msgs)
}

func parse(msgs []netlink.Message) (*Table, error) {
	t := &Table{byIndex: map[int32]string{}, byName: map[string]int32{}}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		idx := int32(binary.NativeEndian.Uint32(m.Data[4:8]))
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			return nil, fmt.Errorf("links: decode link %d: %w", idx, err)
		}
		for ad.Next() {
			if ad.Type() == unix.IFLA_IFNAME {
				name := ad.String()
				t.byIndex[idx] = name
				t.byName[name] = idx
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("links: decode link %d: %w", idx, err)
		}
	}
	return t, nil
}

// Name returns the name of interface index, or "" if there is none.
func (t *Table) Name(index int32) string { return t.byIndex[index] }

// Index returns the index of the interface named name.
func (t *Table) Index(name string) (int32, bool) {
	i, ok := t.byName[name]
	return i, ok
}
