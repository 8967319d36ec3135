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
	// Temporary are the IPv6 temporary (privacy, RFC 8981) addresses of
	// Addrs (IFA_F_TEMPORARY), and Deprecated those whose preferred
	// lifetime ended (IFA_F_DEPRECATED, either family). Both are subsets
	// of Addrs, sorted: whether a connection may use them is the
	// engine's choice (its policy's addresses key).
	Temporary, Deprecated []netip.Addr
}

// Snapshot is the state of every interface of a namespace at one time,
// sorted by index. A Snapshot is a value: it is never changed after it is
// built, and may be shared between goroutines.
type Snapshot struct {
	Links []Link
	// Routes is a digest of every route (of every table) and every
	// policy-routing rule of the namespace: it changes when any of them
	// does, so that a route that appears or goes, not only a default
	// one, is a new Snapshot. What a route change means for a peer is
	// the kernel's route lookup's answer (Monitor.Route); 0 in a
	// Snapshot built by hand.
	Routes uint64
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
	return s.Routes == o.Routes && slices.EqualFunc(s.Links, o.Links, func(a, b Link) bool {
		return a.Index == b.Index && a.Name == b.Name && a.Class == b.Class && a.Up == b.Up &&
			slices.Equal(a.Addrs, b.Addrs) && slices.Equal(a.Temporary, b.Temporary) &&
			slices.Equal(a.Deprecated, b.Deprecated)
	})
}

// Delta is one change: the snapshot before and after.
type Delta struct {
	Old, New Snapshot
}
