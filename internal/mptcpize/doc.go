// Package mptcpize makes the TCP sockets of a program that never asked for
// MPTCP into MPTCP sockets, in one of three ways, and decides which way fits
// a given executable.
//
//   - BPF: an fmod_ret program on the kernel's update_socket_protocol hook
//     (Linux 6.6, "mptcpify" in tools/testing/selftests/bpf/progs) rewrites
//     the protocol of socket(AF_INET{,6}, SOCK_STREAM, 0|IPPROTO_TCP) to
//     IPPROTO_MPTCP, but only for tasks in one cgroup made for the command
//     (StartBPF). Kernels that refuse fmod_ret programs (lockdown, no
//     CAP_BPF/CAP_PERFMON, no BTF, no hook) make StartBPF fail.
//   - GODEBUG: a Go program built with Go 1.21 or later reads
//     GODEBUG=multipathtcp=1 at run time and then uses MPTCP for its
//     net.Dialer and net.ListenConfig sockets unless the code turned it off
//     with SetMultipathTCP(false). Go 1.24 added the values 2 (listeners
//     only, the default for modules declaring go >= 1.24) and 3 (dialers
//     only); 1 means both in every version (doc/godebug.md).
//   - LD_PRELOAD: libmptcpwrap, the library of mptcpd's mptcpize(8)
//     (Debian package libmptcpwrap0), wraps libc's socket(). It only reaches
//     dynamically linked programs that create sockets through libc, so not
//     static executables and not Go's net package, which makes system calls
//     itself.
//
// Inspect reads what matters about an executable (Go? which Go? dynamically
// linked? for which machine?), Choose turns that and the requested method
// into a Plan, and Plan.Environ applies it to an environment. Inspect and
// Choose do no other I/O, so the decision is table-tested without a kernel.
//
// Out of scope: running the program (cmd/mptcp-pm run does, with signal
// forwarding and exit status), entering network namespaces, and making
// sockets MPTCP after they were created.
package mptcpize
