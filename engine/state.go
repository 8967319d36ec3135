package engine

import (
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// linkState is what the engine remembers of an interface.
type linkState struct {
	usableSince time.Time // zero: usable since before the daemon started
}

// State is the engine's model of the kernel: the connections, their
// subflows and paths, and the interfaces. Its zero value is not usable;
// make one with NewState.
//
// A State is owned by one goroutine (the daemon's loop): Step and the
// views (Conn, Conns, Tokens, Len, Counts, Interfaces) must all be called
// from it, with no lock. Nothing outside the engine writes the model:
// events go in through Step, which says in its Result what happened, and
// the views return copies.
type State struct {
	ifaces ifmon.Snapshot
	conns  map[uint32]*connState
	// routes are the route lookups the daemon fed in (paths.go), and
	// reachSince when a pair's route came back, for the hold-down.
	routes     map[routeKey]Route
	reachSince map[routeKey]time.Time
	// learned are the peers of the last RoutesLearned, whose connections
	// Step looks at again.
	learned map[netip.Addr]bool

	links map[int32]linkState
	// addrIDs are the IDs of local addresses, by address and port (port 0
	// for subflows): the kernel tells ADDR:PORT entries apart by port.
	addrIDs map[netip.AddrPort]uint8
	nextID  uint8
	// closed are tokens closed in the last closedTTL, with when: the
	// kernel can report a connection that closes at once as CREATED,
	// CLOSED, ESTABLISHED (6.18), and that late ESTABLISHED must not
	// bring it back, to be managed (and its commands refused with
	// "invalid token") forever.
	closed     map[uint32]time.Time
	closedPrun time.Time
	// peak is the most connections since conns was last made: a Go map
	// keeps the memory of its largest size, and a host that had ten
	// thousand connections should not keep their room when they are gone.
	peak int
}

// shrink makes m anew when it holds less than a quarter of *peak (and the
// peak was worth it); it returns m, or the new map.
func shrink[K comparable, V any](m map[K]V, peak *int) map[K]V {
	*peak = max(*peak, len(m))
	if *peak < 1024 || len(m) > *peak/4 {
		return m
	}
	*peak = len(m)
	return rebuilt(m)
}

// rebuilt copies m into a map of its size (maps.Clone keeps the old one's
// room).
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	n := make(map[K]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// closedTTL is how long a closed token is remembered.
const closedTTL = 10 * time.Second

// NewState returns a model that starts with the interfaces ifaces; the
// links in it count as usable since before any connection (no hold-down).
func NewState(ifaces ifmon.Snapshot) *State {
	s := &State{
		ifaces:  ifaces,
		conns:   map[uint32]*connState{},
		links:   map[int32]linkState{},
		addrIDs: map[netip.AddrPort]uint8{},
		nextID:  1,
		closed:  map[uint32]time.Time{},
	}
	for _, l := range ifaces.Links {
		s.links[l.Index] = linkState{}
	}
	return s
}

// forget drops connection token, closed at now, from the model.
func (s *State) forget(token uint32, now time.Time) {
	delete(s.conns, token)
	s.conns = shrink(s.conns, &s.peak)
	s.closed[token] = now
	if now.Sub(s.closedPrun) >= closedTTL {
		s.closedPrun = now
		for tok, t := range s.closed {
			if now.Sub(t) >= closedTTL {
				delete(s.closed, tok)
			}
		}
		s.closed = rebuilt(s.closed)
	}
}

func (s *State) setIfaces(snap ifmon.Snapshot, now time.Time) {
	old := s.ifaces
	s.ifaces = snap
	next := map[int32]linkState{}
	for _, l := range snap.Links {
		ls, known := s.links[l.Index]
		ol, _ := old.Link(l.Index)
		switch {
		case !known:
			ls = linkState{usableSince: now}
		case usable(l) && !usable(ol):
			ls.usableSince = now
		}
		next[l.Index] = ls
	}
	s.links = next
}

func usable(l ifmon.Link) bool { return l.Up && len(l.Addrs) > 0 }

// keyOf names the path of a subflow: the link holding its local address.
func (s *State) keyOf(sf Subflow) (pathKey, bool) {
	l, ok := s.ifaces.ByAddr(sf.Local.Addr())
	if !ok {
		return pathKey{}, false
	}
	return pathKey{link: l.Index, remote: sf.Remote}, true
}

// settled reports whether path cd towards dst has been usable for at least
// hold: its link up with an address, and its route to dst there.
func (s *State) settled(cd candidate, dst netip.Addr, hold time.Duration, now time.Time) bool {
	since := s.usableSince(cd, dst)
	return since.IsZero() || !now.Before(since.Add(hold))
}

// usableSince is when path cd towards dst became usable: the later of its
// link's coming up and its route's appearing (zero: before the daemon
// started, or before the route was first looked up).
func (s *State) usableSince(cd candidate, dst netip.Addr) time.Time {
	since := s.links[cd.link.Index].usableSince
	if r := s.reachSince[routeKey{cd.addr, dst}]; r.After(since) {
		since = r
	}
	return since
}

// idFor returns the local address ID for a, stable across connections:
// the initial subflow's address keeps ID 0.
func (s *State) idFor(c *connState, a netip.Addr) uint8 {
	if a == c.Local.Addr() {
		return 0
	}
	return s.addrID(netip.AddrPortFrom(a, 0))
}

// addrID returns the ID of local address a (never 0), the same for every
// connection.
func (s *State) addrID(a netip.AddrPort) uint8 {
	if id, ok := s.addrIDs[a]; ok {
		return id
	}
	used := map[uint8]bool{}
	for _, id := range s.addrIDs {
		used[id] = true
	}
	for range 255 {
		id := s.nextID
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if !used[id] {
			s.addrIDs[a] = id
			return id
		}
	}
	// All 255 IDs are taken by addresses seen before: reuse the first.
	return 1
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}
