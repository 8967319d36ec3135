// Package sockdiag lists the MPTCP connections of a network namespace, each
// with its TCP subflows, by polling the kernel's NETLINK_SOCK_DIAG (inet_diag)
// interface, the same source `ss -M` and `ss -tie` use.
//
// A Client sends two kinds of dumps per call to Connections, each for
// AF_INET and AF_INET6:
//
//   - an IPPROTO_MPTCP dump of the MPTCP sockets (msk), whose INET_DIAG_INFO
//     attribute is a struct mptcp_info carrying the connection token;
//   - an IPPROTO_TCP dump, whose sockets are kept only when their
//     INET_DIAG_ULP_INFO names the "mptcp" ULP, that is, when they are
//     subflows. Their INET_DIAG_INFO is a struct tcp_info (RTT, losses,
//     cwnd) and their MPTCP_SUBFLOW_ATTR_TOKEN_LOC names the connection.
//
// Subflows are grouped under the connection whose mptcpi_token equals their
// local token. It needs no BPF, no daemon and no privilege beyond being in
// (or holding an fd of) the namespace: on Linux 6.18 neither dump is gated
// by CAP_NET_ADMIN.
//
// Out of scope: events (see package genl for the path manager's multicast
// events), changing anything (sock_diag is read-only here; SOCK_DESTROY is
// not used), plain TCP sockets, per-socket filters (inet_diag bytecode), and
// getsockopt(SOL_MPTCP) on sockets the caller owns. A dump is a snapshot
// taken in two steps, so a subflow created or closed in between may be
// missing or, if its connection is not seen, dropped.
//
// The decoders are portable and tested everywhere; only the socket code is
// Linux-specific. On other systems New returns an error matching
// os.ErrNotExist.
package sockdiag
