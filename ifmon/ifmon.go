package ifmon

import (
	"net/netip"
	"slices"
)

// Class is what kind of network an interface reaches.
type Class string

// Interface classes.
const (
	ClassWifi     Class = "wifi"
	ClassCellular Class = "cellular"
	ClassWired    Class = "wired"
	ClassVirtual  Class = "virtual"
	ClassLoopback Class = "loopback"
)

// Classes lists every class, in the order above.
var Classes = []Class{ClassWifi, ClassCellular, ClassWired, ClassVirtual, ClassLoopback}

// Valid reports whether c is one of Classes.
func (c Class) Valid() bool { return slices.Contains(Classes, c) }

// Link is one interface of the namespace as the path manager sees it.
type Link struct {
	Index int32
	Name  string
	Class Class
	// Up is true when the interface is administratively up and has carrier
	// (IFF_UP and IFF_LOWER_UP / operstate up or unknown): it can carry
	// traffic.
	Up bool
	// Addrs are the addresses subflows may use: no loopback, no
	// link-local, no tentative or DAD-failed IPv6 address. Sorted.
	Addrs []netip.Addr
	// DefaultRoute4 and DefaultRoute6 are true when a default route of that
	// family leaves through this interface, in any routing table.
	DefaultRoute4, DefaultRoute6 bool
}

// Snapshot is the state of every interface of a namespace at one time,
// sorted by index. A Snapshot is a value: it is never changed after it is
// built, and may be shared between goroutines.
type Snapshot struct {
	Links []Link
}

// Link returns the interface with index i.
func (s Snapshot) Link(i int32) (Link, bool) {
	for _, l := range s.Links {
		if l.Index == i {
			return l, true
		}
	}
	return Link{}, false
}

// ByName returns the interface named name.
func (s Snapshot) ByName(name string) (Link, bool) {
	for _, l := range s.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// ByAddr returns the interface that holds address a.
func (s Snapshot) ByAddr(a netip.Addr) (Link, bool) {
	a = a.Unmap()
	for _, l := range s.Links {
		if slices.Contains(l.Addrs, a) {
			return l, true
		}
	}
	return Link{}, false
}

// Equal reports whether two snapshots are the same.
func (s Snapshot) Equal(o Snapshot) bool {
	return slices.EqualFunc(s.Links, o.Links, func(a, b Link) bool {
		return a.Index == b.Index && a.Name == b.Name && a.Class == b.Class && a.Up == b.Up &&
			a.DefaultRoute4 == b.DefaultRoute4 && a.DefaultRoute6 == b.DefaultRoute6 &&
			slices.Equal(a.Addrs, b.Addrs)
	})
}

// Delta is one change: the snapshot before and after.
type Delta struct {
	Old, New Snapshot
}
