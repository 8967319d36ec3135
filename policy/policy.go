package policy

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// Mode is how the connections of an application use their paths.
type Mode string

// Modes.
const (
	// ModeHandover keeps one subflow on the preferred path and adds one on
	// a backup path only while the preferred one is down or degraded.
	ModeHandover Mode = "handover"
	// ModeInteractive opens a subflow on every allowed path; measured
	// quality decides which are backups.
	ModeInteractive Mode = "interactive"
	// ModeAggregate opens a subflow on every allowed path, none backup.
	ModeAggregate Mode = "aggregate"
	// ModeSingle opens no extra subflow.
	ModeSingle Mode = "single"
)

// Modes lists every mode.
var Modes = []Mode{ModeHandover, ModeInteractive, ModeAggregate, ModeSingle}

// Measured reports whether connections in mode m act on measurements of
// their subflows: the daemon samples only those (and, for its metrics,
// every client-side one).
func (m Mode) Measured() bool { return m == ModeHandover || m == ModeInteractive }

// Policy is what one application gets: which connections are its, and how
// they use the paths. A Policy is not changed once parsed.
type Policy struct {
	Name   string
	Source string // the file it came from, for messages
	Match  Match
	Mode   Mode
	Paths  Paths
	// Handover holds the thresholds and timers of handover mode (the
	// thresholds also mark a path degraded in interactive mode).
	Handover Handover
	// AcceptAnnouncements lets the peer's ADD_ADDR be used for subflows.
	// Off by default: announced addresses are ignored.
	AcceptAnnouncements bool
	// AnnouncementsFrom, if set, are the prefixes an announced address
	// must be in to be used (with AcceptAnnouncements); nil: any. The
	// daemon never follows an announcement of a loopback, link-local,
	// multicast or own address, whatever they say.
	AnnouncementsFrom []netip.Prefix
	// Announce are addresses sent with ADD_ADDR to every connection this
	// host accepts (the server side); a port of 0 means the connection's
	// own. The daemon listens on each ADDR:PORT with a port, since the
	// kernel opens no listener for announced ports.
	Announce []netip.AddrPort
	// Mptcpify makes the TCP sockets of the processes of Match.Cgroup
	// MPTCP, with an eBPF program on the kernel's update_socket_protocol,
	// for applications that never ask for MPTCP. Kernels that refuse
	// fmod_ret programs (lockdown) cannot: `mptcp-pm run --policy NAME`
	// starts such an application instead.
	Mptcpify bool
	// Addresses are the kinds of local address (temporary, deprecated,
	// ULA towards a global peer) the engine may open subflows from; by
	// default none.
	Addresses Addresses
}

// Match selects connections. Every field that is set must match (and);
// within a list any element may (or). An empty Match matches nothing: only
// the default policy applies to every connection.
type Match struct {
	// Ports are the service's ports: the remote port of a connection this
	// host opens, the local port of one it accepts.
	Ports    []PortRange
	Prefixes []netip.Prefix // destination (remote) address
	UIDs     []uint32       // owner of the socket
	Cgroup   string         // cgroup v2 path; the cgroup and those below it
	Process  string         // the owning process's name (comm)
}

// PortRange is an inclusive range of ports; a single port has From == To.
type PortRange struct{ From, To uint16 }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.From && p <= r.To }

// Paths says which interface classes an application uses. Handover mode
// starts on Prefer and falls back to Backup; interactive and aggregate
// modes use both.
type Paths struct {
	Prefer []ifmon.Class
	Backup []ifmon.Class
}

// Allowed reports whether class c may carry subflows.
func (p Paths) Allowed(c ifmon.Class) bool {
	return slices.Contains(p.Prefer, c) || slices.Contains(p.Backup, c)
}

// Rank orders classes: 0 for the first preferred class, then the others
// in order, backups after every preferred class; -1 for a class not
// allowed.
func (p Paths) Rank(c ifmon.Class) int {
	if i := slices.Index(p.Prefer, c); i >= 0 {
		return i
	}
	if i := slices.Index(p.Backup, c); i >= 0 {
		return len(p.Prefer) + i
	}
	return -1
}

// Preferred reports whether c is one of the preferred classes.
func (p Paths) Preferred(c ifmon.Class) bool { return slices.Contains(p.Prefer, c) }

// Handover holds the thresholds and timers of handover mode.
type Handover struct {
	// RTO is the number of retransmission timeouts in a row after which
	// the preferred path counts as failed; 0 turns the check off.
	RTO int
	// LossPercent is the retransmitted share of segments over the window
	// above which the path counts as degraded; 0 turns it off.
	LossPercent float64
	// RTT is the smoothed round-trip time above which the path counts as
	// degraded; 0 turns it off.
	RTT time.Duration
	// HoldDown is how long the preferred path must be good again before
	// traffic moves back to it and the backup subflow is closed. A link
	// that comes back is held down for exactly HoldDown (0: move back at
	// once); a path that measured bad uses ProbeHold.
	HoldDown time.Duration
	// WarmStandby keeps a backup subflow open (flagged backup) at all
	// times, so that a handover costs no handshake.
	WarmStandby bool
}

// minProbeHold is the shortest ProbeHold.
const minProbeHold = time.Second

// ProbeHold is the hold-down of a path that measured bad (over a
// threshold, or silent) while its link stayed up: how long before it is
// probed again with a fresh subflow, the base the probe back-off doubles,
// and how long a probe must measure good before traffic moves back. It is
// HoldDown, but at least a second: a hold_down of 0 means "move back as
// soon as the link is back", and must not become a probe subflow on every
// measurement of a path that is still bad, nor a back-off that doubles 0.
func (h Handover) ProbeHold() time.Duration { return max(h.HoldDown, minProbeHold) }

// Defaults of a policy's fields that the file leaves out.
var (
	DefaultPaths    = Paths{Prefer: []ifmon.Class{ifmon.ClassWifi, ifmon.ClassWired}, Backup: []ifmon.Class{ifmon.ClassCellular}}
	DefaultHandover = Handover{RTO: 1, LossPercent: 10, RTT: 400 * time.Millisecond, HoldDown: 5 * time.Second}
)

// InterfaceRule classifies interfaces by name, before anything the kernel
// says about them. Name is a shell pattern (path.Match), e.g. "wlan*".
type InterfaceRule struct {
	Name  string
	Class ifmon.Class
}

// Config is the daemon's main configuration file.
type Config struct {
	Source string // the file it came from
	// PolicyDir holds one policy file per application (*.yaml). Relative
	// paths are relative to the configuration file's directory.
	PolicyDir string
	// Default is the policy of connections that match no application. Its
	// Match is empty.
	Default Policy
	// Interfaces classify interfaces by name; the first match wins.
	Interfaces []InterfaceRule
	// SetPMType sets net.mptcp.pm_type=1 (the userspace path manager) at
	// start when it is not already.
	SetPMType bool
	// ControlSocket is the path of the unix control socket as the file
	// gives it; "" when it does not. ControlPath resolves it.
	ControlSocket string
	// ControlGroup, if set, is a group whose members may use the read-only
	// queries of the control socket; changes always need root.
	ControlGroup string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// PM is the path manager the daemon drives (the pm key); default
	// PMUserspace.
	PM PM
	// Endpoints is the endpoints section, or DefaultEndpointConfig when
	// the file has none (HasEndpoints false). It is used in endpoint mode
	// (pm: kernel, or `mptcp-pm daemon --endpoints`) and ignored
	// otherwise.
	Endpoints    *EndpointConfig
	HasEndpoints bool
}

// ControlPath is the control socket of a daemon with configuration c that
// manages namespace netnsName ("" for its own): ControlSocket, or
// DefaultControlSocket(netnsName) when the file does not set it. A
// ControlSocket that is the default of the host's own namespace counts as
// unset, so that a configuration spelling the default out still gives the
// daemon of each namespace its own socket. The daemon's --control flag
// overrides both (the daemon, not the configuration, knows of it).
func (c *Config) ControlPath(netnsName string) string {
	if p := c.ControlSocket; p != "" && p != DefaultControlSocket("") {
		return p
	}
	return DefaultControlSocket(netnsName)
}

// DefaultControlSocket is the control socket of a daemon that manages
// namespace netnsName ("" for its own) when neither its configuration nor
// its command line names one: /run/mptcp-pm/control.sock, or
// /run/mptcp-pm/netns-NAME.sock for a named namespace (given with -n, or
// the one `ip netns exec NAME` runs it in). The CLI looks for the daemon
// there.
func DefaultControlSocket(netnsName string) string {
	if netnsName == "" {
		return "/run/mptcp-pm/control.sock"
	}
	return "/run/mptcp-pm/netns-" + filepath.Base(netnsName) + ".sock"
}

// Set is a configuration with the policies of its directory, in the order
// they are tried (file name order).
type Set struct {
	Config   *Config
	Policies []*Policy
	// Warnings are the files of the policy directory that Load skipped
	// without failing: those that are not regular files (a FIFO, a
	// device, a socket), each an *Error wrapping ErrNotRegular.
	Warnings []error
}

// Conn is what a policy matches a connection on.
type Conn struct {
	// ServerSide is true for a connection this host accepted; Local is
	// then its service address.
	ServerSide bool
	Local      netip.AddrPort
	Remote     netip.AddrPort
	UID        uint32 // NoUID if unknown
	Cgroup     string // cgroup v2 path, "" if unknown
	Process    string // comm of the owner, "" if unknown
}

// NoUID is a Conn's UID when its owner is unknown: (uid_t)-1, which no
// process has and no policy file can name, so that a policy for uid 0
// never matches a connection whose owner was not found.
const NoUID = math.MaxUint32

// Lookup returns the first policy whose Match matches c, or the default.
func (s *Set) Lookup(c Conn) *Policy {
	p, _ := s.lookup(c, nil)
	return p
}

// Tried is one policy Lookup tried for a connection, and why it did not
// match (Mismatch is nil for the one that did).
type Tried struct {
	Policy   *Policy
	Mismatch *Mismatch
}

// Explain is Lookup that also says, for every policy tried before the one
// found, why it did not match. The default (when no policy matches) is
// not in the list.
func (s *Set) Explain(c Conn) (*Policy, []Tried) {
	var tried []Tried
	p, _ := s.lookup(c, &tried)
	return p, tried
}

// lookup is Lookup, noting what it tried in tried unless nil.
func (s *Set) lookup(c Conn, tried *[]Tried) (*Policy, bool) {
	for _, p := range s.Policies {
		mm := p.Match.mismatch(c)
		if tried != nil {
			*tried = append(*tried, Tried{Policy: p, Mismatch: mm})
		}
		if mm == nil {
			return p, true
		}
	}
	return &s.Config.Default, false
}

// Empty reports whether m has no condition.
func (m Match) Empty() bool {
	return len(m.Ports) == 0 && len(m.Prefixes) == 0 && len(m.UIDs) == 0 && m.Cgroup == "" && m.Process == ""
}

// MatchField names a condition of a Match.
type MatchField string

// The conditions of a Match, as the policy file names them.
const (
	FieldNone    MatchField = "" // an empty match, which matches nothing
	FieldPort    MatchField = "port"
	FieldDest    MatchField = "destination"
	FieldUID     MatchField = "uid"
	FieldCgroup  MatchField = "cgroup"
	FieldProcess MatchField = "process"
)

// Mismatch is the first condition of a Match a connection does not meet.
type Mismatch struct {
	Field MatchField
	// Why says it for people: "port 443 is not in 5060-5061".
	Why string
}

// Matches reports whether c meets every condition of m.
func (m Match) Matches(c Conn) bool { return m.mismatch(c) == nil }

// mismatch returns the first condition of m that c does not meet, nil if
// it meets them all. Lookup decides with it: Explain's reasons are the
// decision's own. The reasons are formatted only for a mismatch, and the
// daemon looks up only a new connection's policy.
func (m Match) mismatch(c Conn) *Mismatch {
	if m.Empty() {
		return &Mismatch{FieldNone, "matches nothing (no condition)"}
	}
	port := c.Remote.Port()
	if c.ServerSide {
		port = c.Local.Port()
	}
	if len(m.Ports) > 0 && !slices.ContainsFunc(m.Ports, func(r PortRange) bool { return r.Contains(port) }) {
		return &Mismatch{FieldPort, fmt.Sprintf("port %d is not %s", port, listOf(m.Ports))}
	}
	if len(m.Prefixes) > 0 {
		a := c.Remote.Addr().Unmap()
		if !slices.ContainsFunc(m.Prefixes, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return &Mismatch{FieldDest, fmt.Sprintf("destination %s is not in %s", a, listOf(m.Prefixes))}
		}
	}
	if len(m.UIDs) > 0 && !slices.Contains(m.UIDs, c.UID) {
		return &Mismatch{FieldUID, fmt.Sprintf("uid %d is not %s", c.UID, listOf(m.UIDs))}
	}
	if m.Cgroup != "" && !underCgroup(c.Cgroup, m.Cgroup) {
		return &Mismatch{FieldCgroup, fmt.Sprintf("cgroup %q is not %s or below it", c.Cgroup, m.Cgroup)}
	}
	if m.Process != "" && c.Process != m.Process {
		return &Mismatch{FieldProcess, fmt.Sprintf("process %q is not %q", c.Process, m.Process)}
	}
	return nil
}

// String writes a port range as the policy file does: 443 or 5060-5061.
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// listOf writes the values a condition accepts: "x", "x or y", "one of x, y, z".
func listOf[T any](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " or " + s[1]
	}
	return "one of " + strings.Join(s, ", ")
}

// underCgroup reports whether cgroup path c is want or below it.
func underCgroup(c, want string) bool {
	want = strings.TrimSuffix(want, "/")
	if want == "" {
		return true // "/" is the root: everything is below it
	}
	return c == want || strings.HasPrefix(c, want+"/")
}
