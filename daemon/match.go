package daemon

import (
	"net/netip"
	"slices"

	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// matchInfo is what a connection was matched on.
type matchInfo struct {
	conn     policy.Conn
	cgroupID uint64
	// owner is true when conn's owner fields were looked up (they are
	// only when some policy matches on them).
	owner   bool
	process bool // the process name was looked up too
}

// kernelMatcher matches the connections the kernel reports (ConnReported)
// for the engine, which asks only for those it needs a policy for.
type kernelMatcher struct{ d *Daemon }

func (m kernelMatcher) Match(token uint32, local, remote netip.AddrPort, serverSide bool) *policy.Policy {
	return m.d.match(token, local, remote, serverSide, nil)
}

// dumpMatcher matches a connection adopted from the kernel dump c: the
// dump already says who owns it, no lookup per connection.
type dumpMatcher struct {
	d *Daemon
	c *sockdiag.Conn
}

func (m dumpMatcher) Match(token uint32, local, remote netip.AddrPort, serverSide bool) *policy.Policy {
	return m.d.match(token, local, remote, serverSide, m.c)
}

// reloadMatcher matches the connections again after a reload, on what
// they were matched on before.
type reloadMatcher struct{ d *Daemon }

func (m reloadMatcher) Match(tok uint32, local, remote netip.AddrPort, serverSide bool) *policy.Policy {
	d := m.d
	mi, ok := d.matched[tok]
	if !ok {
		mi = matchInfo{conn: policy.Conn{ServerSide: serverSide, Local: local, Remote: remote, UID: policy.NoUID}}
	}
	// The new policies may match on owner fields the old ones did not
	// need: look them up now.
	d.lookupOwner(tok, &mi)
	mi.conn.Cgroup = d.owners.cgroupOf(mi.cgroupID)
	if mi.owner {
		d.matched[tok] = mi
	}
	return d.set.Lookup(mi.conn)
}

// match finds the policy of a new connection. known is the connection's
// socket when a sock_diag dump already reported it (adoption), nil when
// its owner must be looked up.
func (d *Daemon) match(token uint32, local, remote netip.AddrPort, serverSide bool, known *sockdiag.Conn) *policy.Policy {
	mi := matchInfo{conn: policy.Conn{ServerSide: serverSide,
		Local:  netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		Remote: netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()), UID: policy.NoUID}}
	if known != nil && needsOwner(d.set) {
		withProcess := needsProcess(d.set)
		mi.cgroupID = d.owners.fromConn(*known, &mi.conn, withProcess)
		mi.owner, mi.process = true, withProcess
	}
	d.lookupOwner(token, &mi)
	if mi.owner {
		// Kept for reloads; without owner fields, the engine's view of
		// the connection says all it was matched on.
		d.matched[token] = mi
	}
	mc := mi.conn
	p := d.set.Lookup(mc)
	d.log.Debug("connection matched", "token", tokenString(token), "policy", p.Name, "mode", p.Mode,
		"remote", mc.Remote.String(), "uid", mc.UID, "cgroup", mc.Cgroup, "process", mc.Process)
	return p
}

// lookupOwner fills mi's owner fields if the policies match on them and
// they were not looked up yet.
func (d *Daemon) lookupOwner(token uint32, mi *matchInfo) {
	withProcess := needsProcess(d.set)
	if !needsOwner(d.set) || (mi.owner && (mi.process || !withProcess)) {
		return
	}
	cgid, err := d.owners.fill(token, &mi.conn, withProcess)
	if err != nil {
		d.log.Warn("owner of connection unknown: matching on addresses only", "token", tokenString(token), "err", err)
		return
	}
	mi.cgroupID, mi.owner, mi.process = cgid, true, withProcess
}

func needsOwner(s *policy.Set) bool {
	return slices.ContainsFunc(s.Policies, func(p *policy.Policy) bool {
		return len(p.Match.UIDs) > 0 || p.Match.Cgroup != "" || p.Match.Process != ""
	})
}

func needsProcess(s *policy.Set) bool {
	return slices.ContainsFunc(s.Policies, func(p *policy.Policy) bool { return p.Match.Process != "" })
}
