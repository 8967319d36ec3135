package daemon

import (
	"context"
	"log/slog"
	"os"
	"strconv"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// owners finds who owns a connection: its uid and cgroup from sock_diag,
// and, only when a policy matches on it, the process name from /proc, off
// the loop (procFinder). Its methods are the loop's.
type owners struct {
	diag  *sockdiag.Client
	mount string // cgroup2 mount, "" if none
	// cgroups are the cgroup paths the policies name; a connection's
	// cgroup is reported as the deepest of them that contains it.
	cgroups []string
	log     *slog.Logger
	// finder finds the process of a socket off the loop; pending are
	// the inodes asked for, by token, whose answer has not come; dropped
	// counts the sockets not queued (the queue was full).
	finder  *procFinder
	pending map[uint32]uint32
	dropped int
}

// procDropLog: one line in this many for the sockets not queued.
const procDropLog = 100

// newOwners returns the owners of the connections of the namespace of fd
// netns (0: the daemon's own).
func newOwners(diag *sockdiag.Client, netns int, log *slog.Logger) *owners {
	m, _ := cgroup.Mount()
	link := "/proc/self/ns/net"
	if netns != 0 {
		link = "/proc/self/fd/" + strconv.Itoa(netns)
	}
	ns, _ := os.Readlink(link)
	return &owners{diag: diag, mount: m, log: log, finder: newProcFinder(ns)}
}

// setPolicies records the cgroup paths the policies match on.
func (o *owners) setPolicies(s *policy.Set) {
	o.cgroups = o.cgroups[:0]
	for _, p := range s.Policies {
		if p.Match.Cgroup != "" {
			o.cgroups = append(o.cgroups, p.Match.Cgroup)
		}
	}
}

// fill looks the connection token up (one exact sock_diag lookup, not a
// dump of every socket) and sets mc's owner fields; it returns the
// connection's cgroup ID, for matching again after a reload.
func (o *owners) fill(token uint32, mc *policy.Conn, withProcess bool) (uint64, error) {
	c, err := o.diag.Socket(token)
	if err != nil {
		return 0, err
	}
	c.Token = token
	return o.fromConn(c, mc, withProcess), nil
}

// fromConn sets mc's owner fields from a socket sock_diag reported, and
// returns its cgroup ID. The process name is not among them: when
// withProcess, the socket is queued for the finder (off the loop) and the
// connection is matched again when its answer comes (Daemon.processFound).
func (o *owners) fromConn(c sockdiag.Conn, mc *policy.Conn, withProcess bool) uint64 {
	mc.UID = c.UID
	mc.Cgroup = o.cgroupOf(c.CgroupID)
	if withProcess && c.Inode != 0 && !o.queueProcess(c) && o.dropped%procDropLog == 1 {
		o.log.Warn("process lookups queue full: connection matched without its process",
			"token", tokenString(c.Token), "dropped", o.dropped)
	}
	return c.CgroupID
}

// cgroupOf names cgroup id by the deepest cgroup path of the policies
// that contains it ("" if none does): that is all matching needs, and it
// spares a walk of the whole cgroup tree.
func (o *owners) cgroupOf(id uint64) string {
	best := ""
	if id == 0 || o.mount == "" {
		return best
	}
	for _, p := range o.cgroups {
		if ok, _ := cgroup.Contains(o.mount, p, id); ok && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// queueProcess asks the finder for the process holding connection c's
// socket; the answer comes back on found(). False if the queue is full:
// the connection keeps the policy it matched without its process.
func (o *owners) queueProcess(c sockdiag.Conn) bool {
	if o.finder == nil {
		o.finder = newProcFinder("")
	}
	if !o.finder.submit(procReq{token: c.Token, inode: c.Inode, uid: c.UID}) {
		o.dropped++
		return false
	}
	if o.pending == nil {
		o.pending = map[uint32]uint32{}
	}
	o.pending[c.Token] = c.Inode
	return true
}

// found is where the finder's results come; nil (never ready) until a
// process was asked for.
func (o *owners) found() <-chan procResult {
	if o.finder == nil {
		return nil
	}
	return o.finder.out
}

// start runs the finder's worker until ctx ends.
func (o *owners) start(ctx context.Context) {
	if o.finder == nil {
		o.finder = newProcFinder("")
	}
	go o.finder.run(ctx)
}

// current reports whether r answers the last request for its connection
// (a token can be reused by a new connection), and forgets the request.
func (o *owners) current(r procResult) bool {
	inode, ok := o.pending[r.token]
	if !ok || inode != r.inode {
		return false
	}
	delete(o.pending, r.token)
	return true
}

// processFound takes in the process the finder found for a connection: if
// it changes the connection's match, the connection gets its new policy.
func (d *Daemon) processFound(r procResult) {
	if !d.owners.current(r) {
		return
	}
	mi, ok := d.matched[r.token]
	c, known := d.state.Conn(r.token)
	if !ok || !known {
		return
	}
	mi.conn.Process = r.process
	d.matched[r.token] = mi
	p := d.set.Lookup(mi.conn)
	d.log.Debug("connection's process found", "token", tokenString(r.token), "process", r.process, "policy", p.Name)
	if p != c.Policy {
		d.step(engine.PolicyChanged{EventBase: now(), Token: r.token, Policy: p})
	}
}
