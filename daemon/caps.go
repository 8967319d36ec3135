package daemon

import (
	"net"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

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

// CapabilityNeed is a capability a daemon keeps after start, and why.
type CapabilityNeed struct {
	Cap Capability
	Why string
}

// Capabilities lists what the daemon still needs once New has opened its
// sockets, loaded its eBPF probes and written its sysctls, and its control
// socket is set up (chowned to the control group): every other capability
// is dropped. What is kept follows the configuration at start: a policy
// with mptcpify, process matching, a port below 1024 to listen on, -n. A
// reload to a configuration that needs more is refused (see reload),
// naming what is missing: restarting the daemon gives it. The quality
// source does not count: the probes are loaded by New, and reading their
// maps needs no capability.
func (d *Daemon) Capabilities() []CapabilityNeed { return d.capsFor(d.set) }

// capsFor lists what running set needs after start.
func (d *Daemon) capsFor(set *policy.Set) []CapabilityNeed {
	out := []CapabilityNeed{{CapNetAdmin, "mptcp_pm commands (GENL_UNS_ADMIN_PERM, checked at every command)"}}
	low := slices.ContainsFunc(announcedPorts(set), func(ap netip.AddrPort) bool { return ap.Port() < 1024 })
	if _, port, err := net.SplitHostPort(d.opts.MetricsListen); err == nil {
		if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 1024 {
			low = true
		}
	}
	if low {
		out = append(out, CapabilityNeed{CapNetBindService, "a listener on an announced port, or --metrics, below 1024"})
	}
	mptcpify := slices.ContainsFunc(set.Policies, func(p *policy.Policy) bool { return p.Mptcpify })
	if mptcpify {
		out = append(out, CapabilityNeed{CapBPF, "mptcpify: the fmod_ret program of a policy's cgroup (loaded again on reloads)"},
			CapabilityNeed{CapPerfmon, "mptcpify: fmod_ret is a tracing program"})
	}
	process := needsProcess(set)
	if process {
		out = append(out, CapabilityNeed{CapSysPtrace, "match.process: reading the socket links in /proc/PID/fd of processes of other users or with more capabilities"})
	}
	if mptcpify || process {
		out = append(out, CapabilityNeed{CapDACOverride, "mptcpify: creating the policy's cgroup (the cgroup2 root directory is mode 0555); " +
			"match.process: listing /proc/PID/fd (mode 0500) of processes of other users"})
	}
	if d.opts.NetNS != 0 {
		out = append(out, CapabilityNeed{CapSysAdmin, "setns into the -n namespace: the interface monitor opens rtnetlink sockets there after start " +
			"(every snapshot, and after a failed dump), and a reload opens announced-port listeners there"})
	}
	return out
}

// missingCaps describes what set needs that the daemon dropped ("" when
// nothing, or when it dropped nothing).
func (d *Daemon) missingCaps(set *policy.Set) string {
	if d.kept == nil {
		return ""
	}
	var miss []string
	for _, n := range d.capsFor(set) {
		if !slices.Contains(*d.kept, n.Cap) {
			miss = append(miss, n.Cap.String()+" ("+n.Why+")")
		}
	}
	if miss == nil {
		return ""
	}
	return "it needs " + strings.Join(miss, ", ") + ", which the daemon dropped at start: restart it to run this configuration"
}

// EndpointCapabilities is Capabilities for endpoint mode (EndpointKeeper),
// after NewEndpointKeeper.
func EndpointCapabilities(opts EndpointOptions) []CapabilityNeed {
	out := []CapabilityNeed{{CapNetAdmin, "mptcp_pm endpoint commands (GENL_UNS_ADMIN_PERM)"}}
	if opts.NetNS != 0 {
		out = append(out, CapabilityNeed{CapSysAdmin, "setns into the -n namespace: the interface monitor opens its rtnetlink sockets there in Run"})
	}
	return out
}

// CapabilityDrop is what DropCapabilities left the process with.
type CapabilityDrop struct {
	// Kept is the permitted and effective set of every thread: the
	// capabilities asked for that the process had.
	Kept []Capability
	// Bounding is true when the bounding set was reduced to Kept too. It
	// needs CAP_SETPCAP; a process without it (not root) keeps its
	// bounding set, which then bounds nothing it can use.
	Bounding bool
}

// DropCapabilities drops every capability but what Capabilities lists. Call
// it after New, once ControlReady, and before Run.
func (d *Daemon) DropCapabilities() (CapabilityDrop, error) {
	drop, err := DropCapabilities(capList(d.Capabilities()))
	if err == nil && drop.Bounding {
		d.kept = &drop.Kept
	}
	return drop, err
}

// String describes the drop for a log: the kept capabilities.
func (c CapabilityDrop) String() string { return capString(c.Kept) }

// EndpointCapabilityList is the capabilities of EndpointCapabilities.
func EndpointCapabilityList(opts EndpointOptions) []Capability {
	return capList(EndpointCapabilities(opts))
}

// capList returns the capabilities of needs.
func capList(needs []CapabilityNeed) []Capability {
	out := make([]Capability, 0, len(needs))
	for _, n := range needs {
		out = append(out, n.Cap)
	}
	return out
}

// capString writes caps as "cap_net_admin,cap_bpf" ("none" if empty).
func capString(caps []Capability) string {
	if len(caps) == 0 {
		return "none"
	}
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = c.String()
	}
	return strings.Join(s, ",")
}

// ControlReady reports whether ServeControl has set its socket up: it
// accepts connections and has its final mode and group. Until then
// ServeControl may need CAP_CHOWN (the control group), so capabilities are
// dropped after it.
func (d *Daemon) ControlReady() bool {
	path := d.controlPath()
	fi, err := os.Lstat(path) // the socket itself, never what a link points to
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return false
	}
	mode, gid := os.FileMode(0o600), -1
	if g := d.set.Config.ControlGroup; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			return false
		}
		gid, _ = strconv.Atoi(grp.Gid)
		mode = 0o660
	}
	if fi.Mode().Perm() != mode {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); gid >= 0 && (!ok || int(st.Gid) != gid) {
		return false
	}
	// A socket left by a daemon that died has the right mode too: only a
	// listening one accepts.
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
