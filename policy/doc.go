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
//   - yamlsyntax.go: YAML syntax errors (from go.yaml.in/yaml/v4) placed
//     at the line and column of the mistake: an unclosed quote or bracket
//     where it opens, a tab or a byte that is not text where it is.
//   - policyfile.go: the schema of a policy file (ParsePolicy), also used
//     for the default policy of the configuration file.
//   - configfile.go: the schema of the configuration file (ParseConfig).
//   - endpoints.go: endpoint mode's configuration (PM, EndpointConfig);
//     its plan and reconciler are package keeper.
//
// The decision engine that turns these policies into subflows is package
// engine, which imports this one; nothing here knows of it.
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
// The configuration file (installed as /etc/mptcp-pm/config.yaml; Config)
// names a policy directory, relative to its own directory, in which every
// *.yaml and *.yml file is one application policy (Policy); hidden files
// and directories are skipped. The reference for both files, every key
// with its default and range, is docs/configuration.md in the repository:
// one source, whose two annotated examples TestDocExamples parses and
// checks for every key the parser accepts. Fields left out of a policy
// take the built-in defaults (DefaultPaths, DefaultHandover), never the
// values of the configuration's default policy.
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
// keeper.Desired gives one endpoint per usable address (no link-local,
// no tentative IPv6) of every allowed interface that is up, with the dev
// of its interface, the configured flags, backup for the classes of
// endpoints.backup, and the ID left to the kernel. keeper.Diff compares
// that with the kernel's endpoints by address: in-place changes of backup
// and fullmesh, delete and add for anything else. Both are pure.
//
// Which endpoints are the daemon's (keeper.Manages): those whose
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
// subflows a connection should have is the job of package engine, which is
// pure as well; executing decisions belongs to the daemon.
package policy
