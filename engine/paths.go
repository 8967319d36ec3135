package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Path selection: which local address of a link a connection may open a
// subflow from towards a peer address. Two rules, both pure: the kernel's
// route lookup from that address to the peer (a fact the daemon feeds in:
// Route) must leave through that link, and the address must not be of a
// kind the policy did not ask for (temporary, deprecated, a ULA towards a
// global peer).

// Route is the kernel's route lookup from a local address towards a peer
// (RTM_GETROUTE with the source, so policy routing applies), as the daemon
// learned it.
type Route struct {
	Src, Dst netip.Addr
	// Dev is the interface the packets leave through.
	Dev int32
	// Local is set when Dst is an address of this host: any source
	// reaches it.
	Local bool
	// Err, when set, is the kernel's refusal: there is no route (an
	// unreachable, prohibit or blackhole route counts as none).
	Err string
}

// RoutesLearned gives the engine the route lookups of peers it may not
// have yet (a new connection's peer, an announced address), or with
// Flush all of them anew (the daemon's cache was full); InterfacesChanged
// brings them after a change of the routes. The connections to those peers
// are looked at again.
type RoutesLearned struct {
	EventBase
	Routes []Route
	Flush  bool
}

// routeKey names a route lookup.
type routeKey struct{ src, dst netip.Addr }

// learn keeps routes learned at now; with flush the routes held before
// are dropped. A pair whose route through its source's link is back (it
// had none) is noted in reachSince: in handover mode a preferred path
// whose route came back waits out the hold-down like one whose link came
// back.
func (s *State) learn(routes []Route, flush bool, now time.Time) {
	old, oldSince := s.routes, s.reachSince
	if flush || s.routes == nil {
		s.routes = make(map[routeKey]Route, len(routes))
	}
	if flush {
		s.reachSince = nil
	}
	for _, r := range routes {
		r.Src, r.Dst = r.Src.Unmap(), r.Dst.Unmap()
		k := routeKey{r.Src, r.Dst}
		s.routes[k] = r
		if !s.reaches(r) {
			delete(s.reachSince, k)
			continue
		}
		was, known := old[k]
		switch {
		case known && !s.reaches(was):
			s.noteReach(k, now)
		case flush:
			if t, ok := oldSince[k]; ok {
				s.noteReach(k, t)
			}
		}
	}
}

// reaches reports whether r leads to its peer from its source's link.
func (s *State) reaches(r Route) bool {
	l, ok := s.ifaces.ByAddr(r.Src)
	return r.Err == "" && (r.Local || (ok && r.Dev == l.Index))
}

// noteReach records that pair k has had its route since t.
func (s *State) noteReach(k routeKey, t time.Time) {
	if s.reachSince == nil {
		s.reachSince = map[routeKey]time.Time{}
	}
	s.reachSince[k] = t
}

// reach says why a subflow from address a on link l cannot reach dst: no
// route, or a route through another interface (the subflow is bound to
// l, which then leads nowhere); "" when it can. A pair never looked up
// counts as reachable: the daemon looks up every pair before an event
// can need it, and a lookup that failed (not the kernel's "no route")
// must not cost the connection its paths.
func (s *State) reach(l ifmon.Link, a, dst netip.Addr) string {
	r, ok := s.routes[routeKey{a, dst}]
	switch {
	case !ok || r.Local:
		return ""
	case r.Err != "":
		return fmt.Sprintf("no route to %s from %s (%s)", dst, a, r.Err)
	case r.Dev != l.Index:
		dev := fmt.Sprintf("if%d", r.Dev)
		if o, ok := s.ifaces.Link(r.Dev); ok {
			dev = o.Name
		}
		return fmt.Sprintf("the route to %s from %s leaves through %s", dst, a, dev)
	}
	return ""
}

// ula is fc00::/7 (RFC 4193).
var ula = netip.MustParsePrefix("fc00::/7")

// avoided says why the policy p does not let a subflow use address a of
// link l towards dst ("" when it does): a temporary or deprecated address,
// or a unique local address towards a peer outside fc00::/7.
func avoided(p *policy.Policy, l ifmon.Link, a, dst netip.Addr) string {
	var kinds []string
	if slices.Contains(l.Temporary, a) && !p.Addresses.Temporary {
		kinds = append(kinds, string(policy.AddrTemporary))
	}
	if slices.Contains(l.Deprecated, a) && !p.Addresses.Deprecated {
		kinds = append(kinds, string(policy.AddrDeprecated))
	}
	if ula.Contains(a) && !ula.Contains(dst) && !p.Addresses.ULA {
		kinds = append(kinds, "unique local (towards a global peer)")
	}
	if len(kinds) == 0 {
		return ""
	}
	return fmt.Sprintf("%s is %s", a, strings.Join(kinds, " and "))
}

// pathAddr picks the address of link l that c's subflows towards dst use:
// an address c already uses on l (the initial subflow's, which the
// application or the kernel chose, then those of its other subflows) when
// it still reaches dst through l, whatever its kind: the policy's address
// kinds are for new subflows (RFC 4862 §5.5.4 keeps a deprecated address
// valid for the communications that use it). Else the first address of
// dst's family that the policy allows and whose route to dst leaves
// through l. When there is none, it says why ("" when l has no address of
// the family at all).
func (s *State) pathAddr(c *connState, l ifmon.Link, dst netip.Addr) (netip.Addr, string) {
	var why []string
	inUse := func(a netip.Addr) bool {
		return a == c.Local.Addr() || slices.ContainsFunc(c.Subflows, func(sf Subflow) bool { return sf.Local.Addr() == a })
	}
	for _, cand := range []bool{true, false} { // first the addresses in use
		if cand && !slices.ContainsFunc(l.Addrs, inUse) {
			continue
		}
		for _, a := range l.Addrs {
			if a.Is4() != dst.Is4() || inUse(a) != cand {
				continue
			}
			r := ""
			if !cand {
				r = avoided(c.Policy, l, a, dst)
			}
			if r == "" {
				r = s.reach(l, a, dst)
			}
			if r == "" {
				return a, ""
			}
			why = append(why, r)
		}
	}
	return netip.Addr{}, strings.Join(why, "; ")
}

// excluded says, for each usable link c's policy allows, why c does not
// use it towards its peer (consider's exclPath); nil when it uses them
// all. The side that accepted c opens no subflows: nothing is excluded
// there.
func (s *State) excluded(c *connState) map[int32]string {
	if c.Policy == nil || c.ServerSide {
		return nil
	}
	var out map[int32]string
	for _, l := range s.ifaces.Links {
		if _, ex, why := s.consider(c, l); ex == exclPath {
			if out == nil {
				out = map[int32]string{}
			}
			out[l.Index] = why
		}
	}
	return out
}

// Peers returns the peer addresses the engine may open subflows to, sorted:
// the remote address of every connection this host opened, and the
// addresses their peers announced. The daemon looks up their routes.
func (s *State) Peers() []netip.Addr {
	seen := map[netip.Addr]bool{}
	for _, c := range s.conns {
		if c.ServerSide {
			continue
		}
		seen[c.Remote.Addr()] = true
		for _, ap := range c.Announced {
			seen[ap.Addr().Unmap()] = true
		}
	}
	out := make([]netip.Addr, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// toPeers appends to touched the connections that may open subflows to one
// of dsts (their peer, or an address it announced), by token.
func (s *State) toPeers(touched []*connState, dsts map[netip.Addr]bool) []*connState {
	for _, c := range s.conns {
		hit := dsts[c.Remote.Addr()]
		for _, ap := range c.Announced {
			hit = hit || dsts[ap.Addr().Unmap()]
		}
		if hit && !c.ServerSide {
			touched = append(touched, c)
		}
	}
	slices.SortFunc(touched, byToken)
	return touched
}
