// Package neighbours finds the other managers of MPTCP in a network
// namespace: NetworkManager and mptcpd (by their process names), and other
// mptcp-pm daemons (by the abstract unix socket each binds in the
// namespace it manages, which also makes endpoint mode exclusive).
//
// Out of scope: what to do about them (the daemon warns, endpoint mode
// refuses) and managers in other namespaces.
package neighbours

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Names of the neighbours Scan finds.
const (
	NetworkManager = "NetworkManager"
	Mptcpd         = "mptcpd"
	MptcpPM        = "mptcp-pm"
)

// Roles of an mptcp-pm daemon.
const (
	RoleKeeper = "keeper" // endpoint mode
	RoleDaemon = "daemon" // the userspace path manager
)

// Neighbour is another manager of MPTCP in the namespace.
type Neighbour struct {
	Name string `json:"name"` // NetworkManager, Mptcpd or MptcpPM
	PID  int    `json:"pid"`
	Role string `json:"role,omitempty"` // RoleKeeper or RoleDaemon for mptcp-pm
}

// String is "mptcpd pid 42" or "mptcp-pm keeper pid 7".
func (n Neighbour) String() string {
	if n.Role != "" {
		return fmt.Sprintf("%s %s pid %d", n.Name, n.Role, n.PID)
	}
	return fmt.Sprintf("%s pid %d", n.Name, n.PID)
}

// KeepsEndpoints reports whether n manages the in-kernel path manager's
// endpoints: NetworkManager does for its devices unless
// connection.mptcp-flags is "disabled" (NetworkManager 1.40 and later),
// mptcpd does with the in-kernel path manager (its addr_adv plugin), and
// an mptcp-pm in endpoint mode does.
func (n Neighbour) KeepsEndpoints() bool {
	return n.Name == NetworkManager || n.Name == Mptcpd || (n.Name == MptcpPM && n.Role == RoleKeeper)
}

// Note says what n means for a daemon in role (RoleKeeper or RoleDaemon),
// for the log and status.
func (n Neighbour) Note(role string) string {
	switch {
	case n.Name == MptcpPM && n.Role == role && role == RoleKeeper:
		return "another endpoint keeper: both add and delete the same endpoints"
	case n.Name == MptcpPM && n.Role == role:
		return "another userspace path manager: both act on every connection"
	case n.Name == MptcpPM:
		return "an mptcp-pm in the other mode: they need different net.mptcp.pm_type values"
	case role == RoleKeeper:
		return "manages endpoints too: both add and delete them"
	case n.Name == Mptcpd:
		return "a path manager too: with pm_type=1 both act on every connection"
	}
	return "manages endpoints, which the userspace path manager does not use"
}

// Lines describes ns for role, one line each, sorted.
func Lines(ns []Neighbour, role string) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.String()+": "+n.Note(role))
	}
	slices.Sort(out)
	return out
}

// markerPrefix starts the abstract socket names of mptcp-pm daemons:
// "@mptcp-pm/ROLE/PID", and "@mptcp-pm/keeper" for the lock of endpoint
// mode.
const markerPrefix = "@mptcp-pm/"

// markerName is the abstract name of a daemon of role with pid.
func markerName(role string, pid int) string {
	return markerPrefix + role + "/" + strconv.Itoa(pid)
}

// lockName is the abstract name only one keeper per namespace can bind.
const lockName = markerPrefix + RoleKeeper

// parseUnix returns the mptcp-pm daemons in /proc/net/unix text: the
// sockets bound to "@mptcp-pm/ROLE/PID".
func parseUnix(text string) []Neighbour {
	var out []Neighbour
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		rest, ok := strings.CutPrefix(f[len(f)-1], markerPrefix)
		if !ok {
			continue
		}
		role, pidText, ok := strings.Cut(rest, "/")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || (role != RoleKeeper && role != RoleDaemon) {
			continue
		}
		out = append(out, Neighbour{Name: MptcpPM, PID: pid, Role: role})
	}
	return out
}

// watched are the process names (as /proc/PID/comm has them) Scan looks
// for.
var watched = []string{NetworkManager, Mptcpd}
