// Package bpf measures MPTCP subflows from inside the kernel: per-subflow
// RTT, loss and retransmission counters, keyed by the connection's MPTCP
// token and the subflow's addresses, plus events when a subflow is
// established, hits a retransmission timeout or changes state.
//
// A cgroup sockops program (probe.c), attached to the root of the cgroup2
// hierarchy, enables the RTT, retransmission, RTO and state callbacks on
// every MPTCP subflow of one network namespace when it is established and
// keeps its metrics in a BPF hash map, updated in place about once per
// round trip. RTOs, state changes and establishment are also sent through
// a ring buffer. An iter/tcp program seeds the subflows that existed before
// the probes were attached. Probes wraps both: Load, Metrics, Events, Seed,
// Close.
//
// The probes need root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON), kernel BTF
// and a kernel with iter/tcp and bpf_setsockopt in iterators; Load's errors
// wrap ErrUnavailable so that a caller can fall back to polling sock_diag
// (package sockdiag), which reports the same counters without events.
//
// Out of scope: deciding anything from the metrics (package policy and
// the daemon do), the MPTCP-level socket (msk), which gets no sockops
// callbacks, and plain TCP.
//
// The compiled programs are committed (probe_bpfel.o, probe_bpfeb.o and
// their Go wrappers), so building needs no C toolchain; `go generate
// ./bpf/` rebuilds them with clang, llvm-strip and libbpf's headers. See
// README.md.
package bpf
