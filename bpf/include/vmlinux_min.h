/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vmlinux_min.h: the few kernel types the probes use, instead of a full
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format c` (2.8 MB).
 *
 * Kernel-internal structs are declared with preserve_access_index and only
 * with the fields the programs read: the loader (cilium/ebpf) relocates each
 * field access against the running kernel's BTF, so the offsets written here
 * do not matter and members of anonymous unions/structs in the kernel can be
 * declared as plain members.
 *
 * uapi types (struct bpf_sock_ops, the BPF_* enums) are ABI and copied from
 * include/uapi/linux/bpf.h without relocation.
 */
#ifndef __VMLINUX_MIN_H__
#define __VMLINUX_MIN_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* include/uapi/linux/bpf.h */
enum bpf_map_type {
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_SOCK_OPS_RTO_CB_FLAG = (1 << 0),
	BPF_SOCK_OPS_RETRANS_CB_FLAG = (1 << 1),
	BPF_SOCK_OPS_STATE_CB_FLAG = (1 << 2),
	BPF_SOCK_OPS_RTT_CB_FLAG = (1 << 3),
	BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG = (1 << 4),
};

enum {
	BPF_SOCK_OPS_VOID = 0,
	BPF_SOCK_OPS_TCP_CONNECT_CB = 3,
	BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4,
	BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB = 5,
	BPF_SOCK_OPS_RTO_CB = 8,	/* args: icsk_retransmits, icsk_rto (jiffies), expired */
	BPF_SOCK_OPS_RETRANS_CB = 9,	/* args: seq, segs, err */
	BPF_SOCK_OPS_STATE_CB = 10,	/* args: old state, new state */
	BPF_SOCK_OPS_RTT_CB = 12,	/* args: mrtt_us, srtt_us << 3 */
	BPF_SOCK_OPS_PARSE_HDR_OPT_CB = 13,	/* a segment arrived (with PARSE_ALL_HDR_OPT) */
};

/* include/uapi/linux/bpf.h: union { T name; __u64 :64; } aligned(8) */
#define __bpf_md_ptr(type, name)	\
union {					\
	type name;			\
	__u64 :64;			\
} __attribute__((aligned(8)))

struct bpf_sock;

/* include/uapi/linux/bpf.h (a context struct: the verifier rewrites the
 * accesses, so this layout is the ABI, not the kernel's internal one). */
struct bpf_sock_ops {
	__u32 op;
	union {
		__u32 args[4];
		__u32 reply;
		__u32 replylong[4];
	};
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 is_fullsock;
	__u32 snd_cwnd;
	__u32 srtt_us;
	__u32 bpf_sock_ops_cb_flags;
	__u32 state;
	__u32 rtt_min;
	__u32 snd_ssthresh;
	__u32 rcv_nxt;
	__u32 snd_nxt;
	__u32 snd_una;
	__u32 mss_cache;
	__u32 ecn_flags;
	__u32 rate_delivered;
	__u32 rate_interval_us;
	__u32 packets_out;
	__u32 retrans_out;
	__u32 total_retrans;
	__u32 segs_in;
	__u32 data_segs_in;
	__u32 segs_out;
	__u32 data_segs_out;
	__u32 lost_out;
	__u32 sacked_out;
	__u32 sk_txhash;
	__u64 bytes_received;
	__u64 bytes_acked;
	__bpf_md_ptr(struct bpf_sock *, sk);
	__bpf_md_ptr(void *, skb_data);
	__bpf_md_ptr(void *, skb_data_end);
	__u32 skb_len;
	__u32 skb_tcp_flags;
};

/* Socket families and TCP states (include/linux/socket.h, include/net/tcp_states.h). */
#define AF_INET 2
#define AF_INET6 10

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_FIN_WAIT1 = 4,
	TCP_FIN_WAIT2 = 5,
	TCP_TIME_WAIT = 6,
	TCP_CLOSE = 7,
	TCP_CLOSE_WAIT = 8,
	TCP_LAST_ACK = 9,
	TCP_LISTEN = 10,
	TCP_CLOSING = 11,
	TCP_NEW_SYN_RECV = 12,
};

#define SOL_TCP 6
/* include/uapi/linux/bpf.h: bpf_setsockopt-only option to set the sockops
 * callback flags (the same as bpf_sock_ops_cb_flags_set). */
#define TCP_BPF_SOCK_OPS_CB_FLAGS 1008

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct seq_file;

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

/* include/net/sock.h. skc_daddr, skc_rcv_saddr, skc_dport and skc_num sit
 * in anonymous unions in the kernel; CO-RE finds them by name. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
};

struct inet_sock {
	struct sock sk;
};

struct inet_connection_sock {
	struct inet_sock icsk_inet;
	void *icsk_ulp_data;
};

/* include/linux/rbtree_types.h */
struct rb_node;
struct rb_root {
	struct rb_node *rb_node;
};

/* include/linux/tcp.h. is_mptcp was a 1-bit field before it became a bool;
 * declaring it as a bitfield and reading it with BPF_CORE_READ_BITFIELD
 * works with both. */
struct tcp_sock {
	struct inet_connection_sock inet_conn;
	__u32 snd_cwnd;
	__u32 lost_out;
	__u32 data_segs_out;
	__u32 mdev_us;		/* medium deviation, µs << 2 */
	__u32 srtt_us;		/* smoothed RTT, µs << 3 */
	__u64 bytes_acked;
	__u32 total_retrans;
	__u64 bytes_received;	/* in-order payload bytes received */
	__u32 data_segs_in;	/* segments with payload received (out of order too) */
	__u32 rcv_ooopack;	/* segments received out of order */
	struct {
		__u32 rtt_us;	/* the receiver's RTT estimate, µs << 3 */
	} rcv_rtt_est;
	struct rb_root out_of_order_queue;	/* segments received beyond a hole */
	__u8 bpf_sock_ops_cb_flags;
	__u8 is_mptcp:1;
};

/* net/mptcp/protocol.h: the ULP data of an MPTCP subflow. local_id is s16
 * (-1 until known) on recent kernels and was u8 before: read it with
 * BPF_CORE_READ_BITFIELD_PROBED, which adapts to size and signedness. */
struct mptcp_subflow_context {
	__u32 token;
	__s16 local_id;
	__u8 remote_id;
};

/* kernel/bpf/bpf_iter.c, net/ipv4/tcp_ipv4.c: context of iter/tcp. */
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
};

#pragma clang attribute pop

#endif /* __VMLINUX_MIN_H__ */
