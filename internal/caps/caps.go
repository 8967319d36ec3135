// Package caps names the Linux capabilities the daemon keeps after start,
// says which a configuration needs (For, ForEndpoints: pure), and drops
// the others from every thread of the process, switching it to an
// unprivileged user if asked (Drop, Linux only, with libcap's cap and psx
// packages).
//
// Out of scope: deciding when to drop (the caller does it once its
// sockets are open) and file capabilities.
package caps

import (
	"fmt"
	"net"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Capability is a Linux capability, numbered as in
// include/uapi/linux/capability.h.
type Capability int

// The capabilities the daemon may keep after start.
const (
	CapDACOverride    Capability = 1
	CapNetBindService Capability = 10
	CapNetAdmin       Capability = 12
	CapSysPtrace      Capability = 19
	CapSysAdmin       Capability = 21
	CapPerfmon        Capability = 38
	CapBPF            Capability = 39
)

var capNames = map[Capability]string{
	0: "cap_chown", 1: "cap_dac_override", 2: "cap_dac_read_search", 3: "cap_fowner", 4: "cap_fsetid",
	5: "cap_kill", 6: "cap_setgid", 7: "cap_setuid", 8: "cap_setpcap", 9: "cap_linux_immutable",
	10: "cap_net_bind_service", 11: "cap_net_broadcast", 12: "cap_net_admin", 13: "cap_net_raw",
	14: "cap_ipc_lock", 15: "cap_ipc_owner", 16: "cap_sys_module", 17: "cap_sys_rawio", 18: "cap_sys_chroot",
	19: "cap_sys_ptrace", 20: "cap_sys_pacct", 21: "cap_sys_admin", 22: "cap_sys_boot", 23: "cap_sys_nice",
	24: "cap_sys_resource", 25: "cap_sys_time", 26: "cap_sys_tty_config", 27: "cap_mknod", 28: "cap_lease",
	29: "cap_audit_write", 30: "cap_audit_control", 31: "cap_setfcap", 32: "cap_mac_override",
	33: "cap_mac_admin", 34: "cap_syslog", 35: "cap_wake_alarm", 36: "cap_block_suspend", 37: "cap_audit_read",
	38: "cap_perfmon", 39: "cap_bpf", 40: "cap_checkpoint_restore",
}

// String returns the capability's name as capabilities(7) and
// systemd.exec(5) write it in lower case (cap_net_admin).
func (c Capability) String() string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return "cap_" + strconv.Itoa(int(c))
}

// Need is a capability a daemon keeps after start, and why.
type Need struct {
	Cap Capability
	Why string
}

// Config is what For reads of a daemon's start: its policies and the
// options that need a capability.
type Config struct {
	Set *policy.Set
	// MetricsListen is the --metrics address ("" for none).
	MetricsListen string
	// NetNS is true with -n: the daemon runs in another namespace.
	NetNS bool
}

// For lists what a daemon running c needs once it has opened its
// sockets, loaded its eBPF probes and written its sysctls, and its control
// socket is set up (chowned to the control group): every other capability
// can be dropped. A policy with mptcpify, process matching, a port below
// 1024 to listen on, and -n each need one more. The quality source does
// not count: the probes are loaded before the drop, and reading their maps
// needs no capability. For is pure.
func For(c Config) []Need {
	set := c.Set
	out := []Need{{CapNetAdmin, "mptcp_pm commands (GENL_UNS_ADMIN_PERM, checked at every command)"}}
	low := lowAnnouncedPort(set)
	if _, port, err := net.SplitHostPort(c.MetricsListen); err == nil {
		if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 1024 {
			low = true
		}
	}
	if low {
		out = append(out, Need{CapNetBindService, "a listener on an announced port, or --metrics, below 1024"})
	}
	mptcpify, process := false, false
	for _, p := range set.Policies {
		mptcpify = mptcpify || p.Mptcpify
		process = process || p.Match.Process != ""
	}
	if mptcpify {
		out = append(out, Need{CapBPF, "mptcpify: the fmod_ret program of a policy's cgroup (loaded again on reloads)"},
			Need{CapPerfmon, "mptcpify: fmod_ret is a tracing program"})
	}
	if process {
		out = append(out, Need{CapSysPtrace, "match.process: reading the socket links in /proc/PID/fd of processes of other users or with more capabilities"})
	}
	if mptcpify || process {
		out = append(out, Need{CapDACOverride, "mptcpify: creating the policy's cgroup (the cgroup2 root directory is mode 0555); " +
			"match.process: listing /proc/PID/fd (mode 0500) of processes of other users"})
	}
	if c.NetNS {
		out = append(out, Need{CapSysAdmin, "setns into the -n namespace: the interface monitor opens rtnetlink sockets there after start " +
			"(every snapshot, and after a failed dump), and a reload opens announced-port listeners there"})
	}
	return out
}

// lowAnnouncedPort reports whether a policy of set (or its default)
// announces a port below 1024, which the daemon then listens on.
func lowAnnouncedPort(set *policy.Set) bool {
	for _, p := range append(slices.Clone(set.Policies), &set.Config.Default) {
		for _, ap := range p.Announce {
			if ap.Port() != 0 && ap.Port() < 1024 {
				return true
			}
		}
	}
	return false
}

// Missing describes what needs asks that kept lacks ("" when nothing,
// or when kept is nil: nothing was dropped).
func Missing(kept *[]Capability, needs []Need) string {
	if kept == nil {
		return ""
	}
	var miss []string
	for _, n := range needs {
		if !slices.Contains(*kept, n.Cap) {
			miss = append(miss, n.Cap.String()+" ("+n.Why+")")
		}
	}
	if miss == nil {
		return ""
	}
	return "it needs " + strings.Join(miss, ", ") + ", which the daemon dropped at start: restart it to run this configuration"
}

// ForEndpoints is For in endpoint mode (the endpoint keeper), after it
// has opened its sockets.
func ForEndpoints(netns bool) []Need {
	out := []Need{{CapNetAdmin, "mptcp_pm endpoint commands (GENL_UNS_ADMIN_PERM)"}}
	if netns {
		out = append(out, Need{CapSysAdmin, "setns into the -n namespace: the interface monitor opens its rtnetlink sockets there in Run"})
	}
	return out
}

// Identity is a user the daemon switches to, with its primary group and
// supplementary groups.
type Identity struct {
	Name     string
	UID, GID int
	Groups   []int
}

// LookupUser finds a user by name (or number) in the user database, with
// its groups. A user with uid 0 is refused: switching to it would keep
// root's ownership of every file.
func LookupUser(name string) (*Identity, error) {
	u, err := user.Lookup(name)
	if _, numeric := strconv.Atoi(name); err != nil && numeric == nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	id := &Identity{Name: u.Username}
	if id.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	if id.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	if id.UID == 0 {
		return nil, fmt.Errorf("user %q: uid 0 is root: name an unprivileged user", name)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: groups: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return nil, fmt.Errorf("user %q: group id %q: %w", name, g, err)
		}
		id.Groups = append(id.Groups, n)
	}
	return id, nil
}

// Dropped is what Drop left the process with.
type Dropped struct {
	// Capable is true when the process had capabilities to drop; without
	// any, Drop changes nothing.
	Capable bool
	// Kept is the permitted and effective set of every thread: the
	// capabilities asked for that the process had.
	Kept []Capability
	// Bounding is true when the bounding set was reduced to Kept too. It
	// needs CAP_SETPCAP; a process without it (not root) keeps its
	// bounding set, which then bounds nothing it can use.
	Bounding bool
}

// String describes the drop for a log: the kept capabilities.
func (c Dropped) String() string { return Join(c.Kept) }

// List returns the capabilities of needs.
func List(needs []Need) []Capability {
	out := make([]Capability, 0, len(needs))
	for _, n := range needs {
		out = append(out, n.Cap)
	}
	return out
}

// Join writes caps as "cap_net_admin,cap_bpf" ("none" if empty).
func Join(caps []Capability) string {
	if len(caps) == 0 {
		return "none"
	}
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = c.String()
	}
	return strings.Join(s, ",")
}
