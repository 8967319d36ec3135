package ifmon

import (
	"net/netip"
	"slices"
)

// LinkDown returns the links that could carry traffic in d.Old and cannot
// in d.New: Up went false, or the link vanished. Each is returned as it was
// in d.Old, so its Addrs are the addresses that were usable through it.
// Sorted by index.
func (d Delta) LinkDown() []Link {
	var out []Link
	for _, o := range d.Old.Links {
		if !o.Up {
			continue
		}
		if n, ok := d.New.Link(o.Index); !ok || !n.Up {
			out = append(out, o)
		}
	}
	return out
}

// LinkUp returns the links that can carry traffic in d.New and could not in
// d.Old: Up became true, or the link appeared up. Each is returned as it is
// in d.New. Sorted by index.
func (d Delta) LinkUp() []Link {
	var out []Link
	for _, n := range d.New.Links {
		if !n.Up {
			continue
		}
		if o, ok := d.Old.Link(n.Index); !ok || !o.Up {
			out = append(out, n)
		}
	}
	return out
}

// AddrsGone returns the usable addresses of d.Old that no link has in d.New,
// sorted. An address that moved to another link is not gone; one whose link
// went down but kept it (IPv4 does) is not gone either: see LinkDown.
func (d Delta) AddrsGone() []netip.Addr { return addrsMinus(d.Old, d.New) }

// AddrsAdded returns the usable addresses of d.New that no link had in
// d.Old, sorted.
func (d Delta) AddrsAdded() []netip.Addr { return addrsMinus(d.New, d.Old) }

// addrsMinus returns the addresses of a that are not in b, sorted, without
// duplicates.
func addrsMinus(a, b Snapshot) []netip.Addr {
	in := allAddrs(b)
	var out []netip.Addr
	for _, x := range allAddrs(a) {
		if _, ok := slices.BinarySearchFunc(in, x, netip.Addr.Compare); !ok {
			out = append(out, x)
		}
	}
	return out
}

// allAddrs returns every address of s, sorted, without duplicates.
func allAddrs(s Snapshot) []netip.Addr {
	var all []netip.Addr
	for _, l := range s.Links {
		all = append(all, l.Addrs...)
	}
	slices.SortFunc(all, netip.Addr.Compare)
	return slices.Compact(all)
}
