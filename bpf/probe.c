//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
//
// Per-subflow MPTCP metrics from a cgroup sockops program.
//
// mptcp_sockops runs on every TCP socket of the cgroup it is attached to
// (the cgroup2 root: every network namespace of the host). It keeps only
// MPTCP subflows (tcp_sock.is_mptcp) of one network namespace (netns_ino),
// enables the RTT/RETRANS/STATE/RTO callbacks on them when they are
// established (and, on subflows this host opened, the callback for every
// segment received: a receiver sends only ACKs, so what it receives is the
// only sign of a path's health it has), and keeps one struct metrics per subflow in the LRU hash
// `subflows`, keyed by struct key (local token + 4-tuple), updated in place.
// RTO, state changes and establishment also send a struct event to the ring
// buffer `events`; RTT and retransmission callbacks never do (a ring buffer
// record per RTT callback costs ~10% of bulk throughput, a map update ~1%).
//
// seed_subflows (iter/tcp) does the same for subflows that were established
// before the sockops program was attached: those never get the established
// callback, so the iterator enables their callbacks with bpf_setsockopt and
// creates their map entries.

#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual MIT/GPL";

#define EEXIST 17

#define CB_FLAGS (BPF_SOCK_OPS_RTO_CB_FLAG | BPF_SOCK_OPS_RETRANS_CB_FLAG | \
		  BPF_SOCK_OPS_STATE_CB_FLAG | BPF_SOCK_OPS_RTT_CB_FLAG)

// RX_FLAGS adds a PARSE_HDR_OPT callback for every segment received in the
// established state (tcp_validate_incoming, before the payload is queued;
// tcp_sock.data_segs_in already counts the segment). Only subflows this
// host opened get it: the daemon judges paths on the side that opens
// subflows, and a server's subflows stay at one callback per RTT.
#define RX_FLAGS (CB_FLAGS | BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG)

// Set by the loader before loading: the inode number of the network
// namespace to observe (net->ns.inum, the st_ino of /proc/PID/ns/net).
// 0 observes every namespace.
volatile const __u64 netns_ino = 0;

// Ring buffer records that could not be reserved (the reader is too slow).
__u64 events_lost = 0;

// One subflow. Ports in host byte order; addresses in network byte order,
// IPv6 or, for AF_INET, IPv4-mapped IPv6 (::ffff:a.b.c.d).
struct key {
	__u32 token; // the connection's local MPTCP token (msk->token)
	__u16 family; // AF_INET or AF_INET6 (of the subflow socket)
	__u16 lport;
	__u16 rport;
	__u16 _pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

// Per-subflow metrics. Times in µs (the kernel's units, already divided by
// the fixed-point factors), counters as the kernel's tcp_sock has them.
struct metrics {
	__u64 rtt_samples; // RTT callbacks seen (about one per RTT)
	__u64 bytes_acked; // tcp_sock.bytes_acked
	__u64 bytes_received; // tcp_sock.bytes_received: payload received in order
	__u64 last_update_ns; // bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last update
	__u32 srtt_us; // smoothed RTT, µs (tcp_sock.srtt_us >> 3)
	__u32 mdev_us; // RTT mean deviation, µs (tcp_sock.mdev_us >> 2, tcpi_rttvar)
	__u32 last_rtt_us; // last raw RTT sample, µs (0 before the first RTT callback)
	__u32 total_retrans; // tcp_sock.total_retrans: segments retransmitted
	__u32 lost_out; // tcp_sock.lost_out: segments currently considered lost
	__u32 rto_count; // RTO callbacks seen (retransmission timer expiries)
	__u32 retrans_cb; // RETRANS callbacks seen (one per retransmitted skb)
	__u32 data_segs_out; // tcp_sock.data_segs_out: data segments sent
	__u32 snd_cwnd; // congestion window, segments
	__u32 data_segs_in; // tcp_sock.data_segs_in: segments with payload received (out of order too)
	__u32 rcv_ooopack; // tcp_sock.rcv_ooopack: segments received out of order (a hole before them)
	__u32 rcv_rtt_us; // the receiver's RTT estimate, µs (tcp_sock.rcv_rtt_est.rtt_us >> 3, tcpi_rcv_rtt)
	__u8 state; // TCP state (TCP_ESTABLISHED = 1, ...)
	__u8 local_id; // MPTCP local address ID (255: unknown)
	__u8 remote_id; // MPTCP remote address ID
	__u8 hole; // segments wait beyond a hole (tcp_sock.out_of_order_queue not empty)
};

enum event_type {
	EVENT_ESTABLISHED = 1,
	EVENT_RTO = 2,
	EVENT_STATE = 3,
};

struct event {
	__u8 type; // enum event_type
	__u8 old_state; // EVENT_STATE: the state left; otherwise the current state
	__u8 new_state; // EVENT_STATE: the state entered; otherwise the current state
	__u8 _pad;
	struct key key;
	struct metrics metrics; // snapshot after the update
};

// One record per MPTCP subflow the iterator saw, for the loader.
struct seed {
	__u32 token;
	__s32 setsockopt_err; // bpf_setsockopt(TCP_BPF_SOCK_OPS_CB_FLAGS) result
	__s32 update_err; // bpf_map_update_elem result (0 if the entry existed)
	__u8 state;
	__u8 _pad[3];
};

// For bpf2go -type: types only used by user space must be referenced.
const struct event *unused_event __attribute__((unused));
const struct seed *unused_seed __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key);
	__type(value, struct metrics);
} subflows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline bool netns_match(struct tcp_sock *tp)
{
	if (!netns_ino)
		return true;
	struct net *net = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net;
	return BPF_CORE_READ(net, ns.inum) == netns_ino;
}

// subflow_ctx returns the ULP data of an MPTCP subflow (struct
// mptcp_subflow_context), or NULL if tp is not one.
static __always_inline struct mptcp_subflow_context *subflow_ctx(struct tcp_sock *tp)
{
	if (!BPF_CORE_READ_BITFIELD(tp, is_mptcp))
		return 0;
	return tp->inet_conn.icsk_ulp_data;
}

static __always_inline void fill_key(struct key *k, struct tcp_sock *tp, __u32 token)
{
	struct sock_common *skc = &tp->inet_conn.icsk_inet.sk.__sk_common;

	__builtin_memset(k, 0, sizeof(*k));
	k->token = token;
	k->family = skc->skc_family;
	k->lport = skc->skc_num;
	k->rport = bpf_ntohs(skc->skc_dport);
	if (k->family == AF_INET6) {
		__u32 *l = (__u32 *)k->laddr, *r = (__u32 *)k->raddr;
		l[0] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		l[1] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		l[2] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		l[3] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		r[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		r[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		r[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		r[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		k->laddr[10] = 0xff;
		k->laddr[11] = 0xff;
		k->raddr[10] = 0xff;
		k->raddr[11] = 0xff;
		*(__u32 *)&k->laddr[12] = skc->skc_rcv_saddr;
		*(__u32 *)&k->raddr[12] = skc->skc_daddr;
	}
}

// fill_metrics copies the tcp_sock fields (plain loads through the BTF
// pointer, no helper calls).
static __always_inline void fill_metrics(struct metrics *m, struct tcp_sock *tp)
{
	m->srtt_us = tp->srtt_us >> 3;
	m->mdev_us = tp->mdev_us >> 2;
	m->total_retrans = tp->total_retrans;
	m->lost_out = tp->lost_out;
	m->data_segs_out = tp->data_segs_out;
	m->bytes_acked = tp->bytes_acked;
	m->bytes_received = tp->bytes_received;
	m->data_segs_in = tp->data_segs_in;
	m->rcv_ooopack = tp->rcv_ooopack;
	m->rcv_rtt_us = tp->rcv_rtt_est.rtt_us >> 3;
	// At a PARSE_HDR_OPT callback the segment is not queued yet: this is
	// the queue the segments before it left.
	m->hole = tp->out_of_order_queue.rb_node != 0;
	m->snd_cwnd = tp->snd_cwnd;
	m->state = tp->inet_conn.icsk_inet.sk.__sk_common.skc_state;
}

static __always_inline void new_metrics(struct metrics *m, struct tcp_sock *tp,
					struct mptcp_subflow_context *ctx)
{
	__builtin_memset(m, 0, sizeof(*m));
	fill_metrics(m, tp);
	__s64 lid = BPF_CORE_READ_BITFIELD_PROBED(ctx, local_id);
	m->local_id = lid < 0 ? 255 : (__u8)lid;
	m->remote_id = BPF_CORE_READ_BITFIELD_PROBED(ctx, remote_id);
	m->last_update_ns = bpf_ktime_get_ns();
}

static __always_inline void emit(__u8 type, struct key *k, struct metrics *m, __u8 old_state, __u8 new_state)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&events_lost, 1);
		return;
	}
	e->type = type;
	e->old_state = old_state;
	e->new_state = new_state;
	e->_pad = 0;
	__builtin_memcpy(&e->key, k, sizeof(*k));
	__builtin_memcpy(&e->metrics, m, sizeof(*m));
	bpf_ringbuf_submit(e, 0);
}

SEC("sockops")
int mptcp_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;

	switch (op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_RTT_CB:
	case BPF_SOCK_OPS_RETRANS_CB:
	case BPF_SOCK_OPS_RTO_CB:
	case BPF_SOCK_OPS_STATE_CB:
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		break;
	default:
		return 1;
	}

	// Keep skops->sk in a local: if the compiler re-read it after the NULL
	// check, the verifier would see sock_or_null at the helper call.
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;
	struct mptcp_subflow_context *ctx = subflow_ctx(tp);
	if (!ctx)
		return 1;

	struct key k;
	fill_key(&k, tp, BPF_CORE_READ(ctx, token));

	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		if (!netns_match(tp))
			return 1;
		__u32 flags = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ? RX_FLAGS : CB_FLAGS;
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | flags);
		struct metrics m;
		new_metrics(&m, tp, ctx);
		bpf_map_update_elem(&subflows, &k, &m, BPF_ANY);
		emit(EVENT_ESTABLISHED, &k, &m, m.state, m.state);
		return 1;
	}

	// Only the namespace filter admits entries, so a hit needs no netns
	// check (which costs a bpf_probe_read_kernel per RTT callback).
	struct metrics *m = bpf_map_lookup_elem(&subflows, &k);
	if (!m) {
		// Evicted from the LRU, the iterator could not create the entry,
		// or the callbacks were enabled by another program (or another
		// instance of this one, for another namespace).
		if (!netns_match(tp))
			return 1;
		if (op == BPF_SOCK_OPS_STATE_CB && skops->args[1] == TCP_CLOSE)
			return 1;
		struct metrics init;
		new_metrics(&init, tp, ctx);
		bpf_map_update_elem(&subflows, &k, &init, BPF_NOEXIST);
		m = bpf_map_lookup_elem(&subflows, &k);
		if (!m)
			return 1;
	}

	fill_metrics(m, tp);
	m->last_update_ns = bpf_ktime_get_ns();

	switch (op) {
	case BPF_SOCK_OPS_RTT_CB:
		// tcp_rtt_estimator: args[0] is the sample (mrtt_us), args[1]
		// the new srtt_us << 3; tcp_sock.srtt_us is written after the
		// callback, so it still holds the previous value.
		m->rtt_samples++;
		m->last_rtt_us = skops->args[0];
		m->srtt_us = skops->args[1] >> 3;
		break;
	case BPF_SOCK_OPS_RETRANS_CB:
		m->retrans_cb++;
		break;
	case BPF_SOCK_OPS_RTO_CB:
		m->rto_count++;
		emit(EVENT_RTO, &k, m, m->state, m->state);
		break;
	case BPF_SOCK_OPS_STATE_CB: {
		// Called before the state is written: args = (old, new).
		__u8 old_state = skops->args[0], new_state = skops->args[1];
		m->state = new_state;
		emit(EVENT_STATE, &k, m, old_state, new_state);
		if (new_state == TCP_CLOSE)
			bpf_map_delete_elem(&subflows, &k);
		break;
	}
	}
	return 1;
}

static __always_inline bool seed_state(__u8 state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return true;
	}
	return false;
}

SEC("iter/tcp")
int seed_subflows(struct bpf_iter__tcp *ictx)
{
	struct sock_common *skc = ictx->sk_common;
	if (!skc)
		return 0;
	// NULL for request and timewait sockets.
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	struct mptcp_subflow_context *ctx = subflow_ctx(tp);
	if (!ctx || !netns_match(tp))
		return 0;
	__u8 state = tp->inet_conn.icsk_inet.sk.__sk_common.skc_state;
	if (!seed_state(state))
		return 0;

	struct seed rec;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.token = BPF_CORE_READ(ctx, token);
	rec.state = state;

	// The iterator holds the socket lock, which bpf_setsockopt needs.
	// Whether this host opened the subflow is not known here: every one
	// gets the receive callback.
	int flags = tp->bpf_sock_ops_cb_flags | RX_FLAGS;
	rec.setsockopt_err = bpf_setsockopt(tp, SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags));
	if (rec.setsockopt_err == 0) {
		struct key k;
		struct metrics m;
		fill_key(&k, tp, rec.token);
		new_metrics(&m, tp, ctx);
		rec.update_err = bpf_map_update_elem(&subflows, &k, &m, BPF_NOEXIST);
		if (rec.update_err == -EEXIST)
			rec.update_err = 0;
	}
	bpf_seq_write(ictx->meta->seq, &rec, sizeof(rec));
	return 0;
}
