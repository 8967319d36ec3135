// Package daemon is mptcp-pm's path manager: one loop that owns the state,
// fed by the kernel's MPTCP events (genl), the interface monitor (ifmon)
// and timers, that asks the decision engine (engine.State) what to do and
// sends the resulting commands to the kernel's userspace path manager.
//
// The kernel is the truth: at start, and whenever the event socket
// overflows, the view of the connections is rebuilt from a sock_diag dump
// (connections that exist are adopted with the subflows they have). The
// model changes only on what the kernel reports, so a refused command
// leaves it true.
//
// A unix control socket serves the daemon's view (Status, with warnings
// worked out from the configuration and the interfaces) and explanations
// of a connection's policy and paths (Explain, from the deciding code) to
// root and to an optional group, and reloads the policies for root only.
// A dry run (Options.DryRun) decides as usual and sends nothing.
//
// Start-up is owned here, as in mdlayher/corerad: New(set, Options) takes
// the configuration main read once and opens the sockets; Run serves the
// control socket, drops the capabilities once it is set up, and runs the
// loop; Ready is closed when the loop has its first view. The control
// protocol and its client are package control, endpoint mode package
// keeper, the capability sets internal/caps.
//
// Out of scope here: matching decisions (package policy), netlink
// encoding (genl, sockdiag, ifmon).
package daemon
