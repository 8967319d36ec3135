// Package policy holds what the path manager is told to do: the daemon's
// configuration, the per-application policies, the matching of a
// connection to its application, and the parsing and validation of the
// files they come from.
//
// # Layout
//
// The package is in layers, a file each:
//
//   - policy.go, the types: Policy (Match, Mode, Paths, Handover) and its
//     Conn matching, Config (with ControlPath), and Set (a Config and its
//     policies, with Lookup). They are what the rest of the daemon reads.
//   - errors.go: Error, one mistake with its file:line:column and dotted
//     field path, and ErrNotRegular.
//   - load.go: reading files and directories: Load (a configuration and
//     its policy directory), LoadConfig (the configuration alone), Check
//     (files one by one). A file is opened so that a FIFO never blocks.
//   - yamlvalue.go: a strict reader of YAML values that knows no schema:
//     one document, mappings without unknown or duplicate keys (with a
//     "did you mean" for each unknown one), scalars, lists, numbers,
//     durations.
//   - policyfile.go: the schema of a policy file (ParsePolicy), also used
//     for the default policy of the configuration file.
//   - configfile.go: the schema of the configuration file (ParseConfig).
//   - endpoints.go: endpoint mode (PM, EndpointConfig, DesiredEndpoints,
//     DiffEndpoints).
//
// engine.go, quality.go and silence.go hold the decision engine (State,
// its Events and Actions), which is to move to a package of its own.
//
// # Policies
//
// A policy says, for one application, which MPTCP connections are its
// (Match: remote ports and prefixes, owner uid, cgroup, process name) and
// how they use the interfaces (Mode: handover, interactive, aggregate or
// single; Paths: the preferred and the backup interface classes; Handover:
// the thresholds that fail or degrade a path and the hold-down before
// traffic moves back). Every condition of a Match must hold; within a list
// any element may. Policies are tried in file name order and the first
// that matches wins; a connection no policy matches gets the default policy
// of the configuration file. A Policy is not changed once parsed and may be
// shared between goroutines.
//
// # Files
//
// The configuration file (installed as /etc/mptcp-pm/config.yaml; every
// key is optional, and the comments give the defaults):
//
//	policy_dir: policies.d          # default policies.d, relative to this file's directory
//	pm: userspace                   # userspace (the default) or kernel: endpoint mode, see below
//	set_pm_type: true               # set net.mptcp.pm_type at start (1, or 0 with pm: kernel); default false
//	control_socket: /run/mptcp-pm/control.sock   # the default (netns-NETNS.sock there with -n); absolute, at most 107 bytes
//	control_group: netdev           # may use the read-only queries; default "" (root only)
//	log_level: debug                # debug, info, warn, error; default info
//	interfaces:                     # name pattern (path.Match) → class; first match wins; default none
//	  - { name: "wlan*", class: wifi }
//	  - { name: "wwan*", class: cellular }
//	default:                        # the policy of connections no application matches
//	  mode: handover                # default handover; same keys as a policy, except name and match
//	  handover: { hold_down: 10s }  # default: as in a policy file
//	endpoints:                      # endpoint mode only (pm: kernel or daemon --endpoints)
//	  interfaces: ["wlan*", "eth*", "wwan*"]  # allow-list of name patterns; default: every interface not loopback or virtual
//	  flags: [subflow]              # of every endpoint: subflow, signal, backup, fullmesh; default subflow
//	  backup: [cellular]            # classes whose endpoints get backup too; default none
//	  limits: { subflows: 2, add_addr_accepted: 2 }  # each 0..8, set at start; default: left as they are
//
// An empty configuration file, or one with only comments, gives every
// default. A relative policy_dir is taken from the configuration file's
// directory; every *.yaml and *.yml file in it is one application policy
// (hidden files and directories are skipped):
//
//	name: voice                     # required; [a-z0-9][a-z0-9_.-]*, at most 64 bytes, unique
//	match:                          # required; at least one condition
//	  ports: [5060, "10000-20000"]  # the service's ports 1..65535 and "A-B" ranges: remote port of
//	                                # connections this host opens, local port of those it accepts
//	  prefixes: [192.0.2.0/24, "2001:db8::/32", 198.51.100.7]  # bare address = /32, /128
//	  uids: [1000, 1001]            # socket owners 0..4294967294 (numbers, not names)
//	  cgroup: /system.slice/voice.service   # cgroup v2 path: this cgroup and those below
//	  process: voice-app            # process name (comm), 1..15 bytes
//	mode: handover                  # required: handover, interactive, aggregate, single
//	paths:                          # default: prefer [wifi, wired], backup [cellular]
//	  prefer: [wifi, wired]         # classes: wifi, cellular, wired, virtual
//	  backup: [cellular]
//	handover:                       # each key defaults to the value shown
//	  rto: 1                        # RTOs in a row that fail a path, 0..100 (0 = off)
//	  loss_percent: 10              # retransmitted share that degrades a path, 0..100 (0 = off)
//	  rtt_ms: 400                   # smoothed RTT that degrades a path, 0..60000 (0 = off)
//	  hold_down: 5s                 # Go duration 0..1h; a unit is required
//	  warm_standby: false           # keep the backup subflow open at all times
//	accept_announcements: true     # use the peer's ADD_ADDR for subflows (default false)
//	announcements_from: [10.0.4.0/24]  # with accept_announcements: only addresses in these
//	                                # prefixes (default: any; never loopback, link-local,
//	                                # multicast or this host's own)
//	announce: [192.0.2.7, "192.0.2.7:5301"]  # server side: ADD_ADDR these to every connection
//	                                # accepted (no port: the connection's own); the daemon
//	                                # listens on each ADDR:PORT for the joins
//
// A list of one may be written as its element (ports: 443, uids: 1000,
// prefer: wifi). When paths is given it replaces the default entirely: a
// class left out of both lists is not used. A class is preferred or backup,
// not both; handover mode needs a preferred class, and every mode at least
// one class. Prefixes must have no host bits set (10.0.0.1/8 is refused)
// and are written in their IPv4 form, not IPv4-mapped IPv6, since
// connections are matched on their unmapped remote address. Fields left
// out of a policy take the built-in defaults (DefaultPaths,
// DefaultHandover), never the values of the configuration's default policy.
//
// On the side that accepted a connection (a server) the daemon opens no
// subflows: mode, paths and handover do not apply there; announce does.
//
// # Endpoint mode
//
// With pm: kernel (or `mptcp-pm daemon --endpoints`) the daemon is not the
// path manager: the kernel's own one (net.mptcp.pm_type=0) runs the
// connections, the policies are not used, and the daemon keeps the
// kernel's endpoints in line with the interfaces, as NetworkManager does.
// DesiredEndpoints gives one endpoint per usable address (no link-local,
// no tentative IPv6) of every allowed interface that is up, with the dev
// of its interface, the configured flags, backup for the classes of
// endpoints.backup, and the ID left to the kernel. DiffEndpoints compares
// that with the kernel's endpoints by address: in-place changes of backup
// and fullmesh, delete and add for anything else. Both are pure.
//
// Which endpoints are the daemon's (EndpointConfig.Manages): those whose
// address is on an allowed interface, whoever added them; those whose
// address is gone and whose dev is an allowed interface or one that no
// longer exists, so that no stale endpoint outlives its address, even
// across a restart; and those it added while it runs. An endpoint for an
// address of an interface outside the allow-list, one without dev for an
// address the namespace does not have, and the kernel's implicit
// endpoints are left alone. An interface that goes down loses its
// endpoints; they come back when it is up. The daemon leaves the endpoints
// in place when it stops (as NetworkManager does: connections keep their
// subflows), and reconciles them when it starts again. It has no control
// socket; `mptcp-pm endpoint show` shows its work.
//
// # Validation
//
// Parsing is strict: unknown and duplicate keys, values of the wrong type,
// out-of-range numbers, empty lists and files, and files that are not a
// single YAML mapping are all mistakes. Each is an *Error whose message
// names the file, line, column and dotted field path, e.g.
//
//	voice.yaml:3:7: mode: unknown mode "handovr" (want handover, interactive, aggregate, single)
//	voice.yaml:9:1: unknown field "hanover" (did you mean "handover"?)
//
// and ParsePolicy, ParseConfig, Load, LoadConfig and Check report every
// mistake found, joined with errors.Join, not only the first. Load reads a
// configuration and its policy directory into a Set; LoadConfig reads the
// configuration alone (endpoint mode); Check validates files one by one, as
// the CLI's check command does.
//
// Fields the configuration file leaves out take their defaults when it is
// parsed, except control_socket, which stays "" so that Config.ControlPath
// can resolve it per namespace (DefaultControlSocket).
//
// # Out of scope
//
// This package does no I/O beyond reading the files it is given: it does
// not look up user or group names, check that a cgroup or an interface
// exists, watch files for changes, or talk to the kernel. Deciding which
// subflows a connection should have is the job of the package's decision
// engine, which is pure as well; executing decisions belongs to the daemon.
package policy
