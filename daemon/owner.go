package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// owners finds who owns a connection: its uid and cgroup from sock_diag,
// and, only when a policy matches on it, the process name from /proc.
type owners struct {
	diag  *sockdiag.Client
	mount string // cgroup2 mount, "" if none
	// cgroups are the cgroup paths the policies name; a connection's
	// cgroup is reported as the deepest of them that contains it.
	cgroups []string
}

func newOwners(diag *sockdiag.Client) *owners {
	m, _ := cgroup.Mount()
	return &owners{diag: diag, mount: m}
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
	return o.fromConn(c, mc, withProcess), nil
}

// fromConn sets mc's owner fields from a socket sock_diag reported, and
// returns its cgroup ID.
func (o *owners) fromConn(c sockdiag.Conn, mc *policy.Conn, withProcess bool) uint64 {
	mc.UID = c.UID
	mc.Cgroup = o.cgroupOf(c.CgroupID)
	if withProcess && c.Inode != 0 {
		mc.Process = processOfSocket(c.Inode)
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

// processOfSocket returns the comm of a process holding socket inode, ""
// if none is found. It reads every process's file descriptors: only used
// when a policy matches on process names.
func processOfSocket(inode uint32) string {
	want := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == want {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return strings.TrimSpace(string(comm))
			}
		}
	}
	return ""
}
