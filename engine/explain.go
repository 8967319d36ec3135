package engine

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// PathUse is what the engine does with one interface for one connection,
// now: a subflow it wants there (Used), or why it wants none. The reasons
// are those of the decision itself: Explain and ExplainNew run the code
// Step runs (candidates, wanted), on a copy of the connection.
type PathUse struct {
	Interface string
	Class     ifmon.Class
	// Local is the address a subflow from the interface uses; invalid
	// when the interface is excluded before an address is picked.
	Local netip.Addr
	// Remote is the peer address of a wanted subflow.
	Remote netip.AddrPort
	Used   bool
	Backup bool // a wanted subflow that is a backup
	// Why is the reason for the subflow (the engine's own, as in the
	// log's actions), or why the interface has none.
	Why string
}

// Explain returns the paths the engine wants now for connection token,
// and why the other interfaces are not used; false if the engine does not
// have the connection. The connection itself is left as it was (the
// decision runs on a copy of it), so Explain may be called at any time
// from the goroutine that owns the State.
func (s *State) Explain(token uint32, now time.Time) ([]PathUse, bool) {
	c, ok := s.conns[token]
	if !ok {
		return nil, false
	}
	cp := c.scratch()
	return s.explain(cp, now), true
}

// ExplainNew returns the paths the engine would want now for a new client
// connection from local (its port and even its address may be zero: the
// kernel's route picks the first subflow's) to remote with policy p, and
// why the other interfaces would not be used. The model is not changed.
func (s *State) ExplainNew(p *policy.Policy, local, remote netip.AddrPort, now time.Time) []PathUse {
	c := &connState{Local: unmapAP(local), Remote: unmapAP(remote), Policy: p, Established: true}
	return s.explain(c, now)
}

// scratch is a copy of c that the decision may change (it forgets
// recovered paths and marks probes as started) without changing c.
func (c *connState) scratch() *connState {
	cp := *c
	cp.health = make(map[int32]*pathHealth, len(c.health))
	for k, h := range c.health {
		hc := *h
		cp.health[k] = &hc
	}
	cp.recovered = maps.Clone(c.recovered)
	return &cp
}

func (s *State) explain(c *connState, now time.Time) []PathUse {
	var out []PathUse
	if c.Policy == nil {
		return nil
	}
	is4 := c.Remote.Addr().Is4()
	var wants []want
	if !c.ServerSide {
		wants, _ = s.wanted(c, now)
	}
	for _, l := range s.ifaces.Links {
		u := PathUse{Interface: l.Name, Class: l.Class}
		a, ex := s.consider(c, l, is4)
		if ex != included {
			u.Why = describeExclusion(ex, l, c.Policy, is4)
			out = append(out, u)
			continue
		}
		u.Local = a
		used := false
		for _, w := range wants {
			if w.key.link == l.Index {
				used = true
				out = append(out, PathUse{Interface: l.Name, Class: l.Class, Local: w.local, Remote: w.key.remote,
					Used: true, Backup: w.backup, Why: w.reason})
			}
		}
		if !used {
			u.Why = s.unusedReason(c, l, wants, now)
			out = append(out, u)
		}
	}
	return out
}

// describeExclusion words why link l is not a candidate of a connection
// with policy p.
func describeExclusion(ex exclusion, l ifmon.Link, p *policy.Policy, is4 bool) string {
	switch ex {
	case exclDown:
		return "down"
	case exclNoAddr:
		return "no address"
	case exclClass:
		return fmt.Sprintf("class %s is not among the paths of policy %s (%s)", l.Class, p.Name, describePaths(p.Paths))
	case exclFamily:
		if is4 {
			return "no IPv4 address (the connection is IPv4)"
		}
		return "no IPv6 address (the connection is IPv6)"
	}
	return ""
}

func describePaths(p policy.Paths) string {
	names := func(cs []ifmon.Class) string {
		s := make([]string, len(cs))
		for i, c := range cs {
			s[i] = string(c)
		}
		return strings.Join(s, ", ")
	}
	out := "prefer " + names(p.Prefer)
	if len(p.Backup) > 0 {
		out += "; backup " + names(p.Backup)
	}
	return out
}

// unusedReason says why candidate l gets no subflow of c.
func (s *State) unusedReason(c *connState, l ifmon.Link, wants []want, now time.Time) string {
	p := c.Policy
	if c.ServerSide {
		return "the peer opened this connection: it opens the subflows, mptcp-pm opens none"
	}
	if h, bad := c.bad(l.Index); bad {
		if now.Before(h.nextProbe) {
			return fmt.Sprintf("measured bad (%s); probed again in %s", h.reason, h.nextProbe.Sub(now).Round(time.Millisecond))
		}
		return fmt.Sprintf("measured bad (%s)", h.reason)
	}
	switch p.Mode {
	case policy.ModeSingle:
		return "single mode: no subflow besides the first"
	case policy.ModeHandover:
		if !p.Paths.Preferred(l.Class) {
			return "backup path: used only while no preferred path is usable"
		}
		for _, w := range wants {
			if !w.backup {
				if cl, ok := s.ifaces.Link(w.key.link); ok {
					return "handover mode uses one path, and " + cl.Name + " comes first"
				}
			}
		}
		return "preferred path, not wanted now"
	}
	return fmt.Sprintf("not wanted now (at most %d subflows)", MaxSubflows)
}
