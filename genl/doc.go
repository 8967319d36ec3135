// Package genl is a typed client for the Linux kernel's MPTCP path-manager
// generic netlink family, "mptcp_pm".
//
// A Client sends commands: the endpoints and limits of the in-kernel path
// manager (what `ip mptcp endpoint` and `ip mptcp limits` do), and the
// commands of the userspace path manager, which act on one connection
// named by its token: Announce (ADD_ADDR), Remove (REMOVE_ADDR),
// CreateSubflow, DestroySubflow and SetFlags (MP_PRIO). Events is a socket
// joined to the family's event group; it delivers every event the kernel
// sends as an Event, keeping attributes and types it does not know.
//
// Kernel refusals come back as *Error with the operation, the errno and the
// kernel's extended-ack message. Both Client and Events can be opened in
// another network namespace (Config.NetNS) without moving any thread of the
// caller there.
//
// Out of scope: listing connections (the family has no such command; see
// package sockdiag), policy, and retries. The numbers of the uapi are in
// uapi_linux.go, cited from include/uapi/linux/mptcp_pm.h.
package genl
