package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrUnavailable is wrapped by every error of Load: the probes cannot run
// here (no privilege, a kernel without the needed BPF features, or another
// operating system). The error also wraps the cause, so errors.Is(err,
// os.ErrPermission) and the like work. A caller that can do without the
// probes (polling sock_diag instead) falls back on it.
var ErrUnavailable = errors.New("eBPF probes unavailable")

// Key identifies one MPTCP subflow as seen by its own host.
type Key struct {
	// Token is the connection's local MPTCP token (msk->token, the
	// mptcpi_token of MPTCP_INFO and sock_diag's TokenLoc): the two ends
	// of one connection have different tokens.
	Token uint32
	// Local and Remote are the subflow's addresses; IPv4-mapped IPv6
	// addresses are unmapped.
	Local, Remote netip.AddrPort
}

// String formats k as "TOKEN LOCAL->REMOTE" with the token in hex.
func (k Key) String() string {
	return fmt.Sprintf("%08x %v->%v", k.Token, k.Local, k.Remote)
}

// Metrics are the last values the probes recorded for one subflow. The
// counters are the kernel's own (struct tcp_sock), copied at every sockops
// callback; RTTSamples, RTOs and RetransEvents count callbacks. The kernel
// updates the entry in place without locking against the reader, so the
// fields of one Metrics value may come from two successive callbacks.
type Metrics struct {
	// SRTT is the smoothed RTT (tcp_sock.srtt_us >> 3, µs resolution).
	SRTT time.Duration
	// RTTVar is the RTT mean deviation (tcp_sock.mdev_us >> 2), the value
	// tcp_info reports as tcpi_rttvar.
	RTTVar time.Duration
	// LastRTT is the last raw RTT sample; 0 until the first RTT callback.
	LastRTT time.Duration
	// RTTSamples counts RTT callbacks: the kernel calls the probe once per
	// round trip per subflow (when snd_una passes rtt_seq), not per ACK.
	RTTSamples uint64
	// TotalRetrans counts retransmitted segments (tcpi_total_retrans).
	TotalRetrans uint32
	// Lost is the number of segments currently considered lost (tcpi_lost).
	Lost uint32
	// RTOs counts retransmission timeouts seen (RTO callbacks).
	RTOs uint32
	// RetransEvents counts retransmission callbacks: one per retransmitted
	// skb, which can carry several segments.
	RetransEvents uint32
	// SegsOut counts data segments sent (tcpi_data_segs_out).
	SegsOut uint32
	// BytesAcked counts bytes acknowledged (tcpi_bytes_acked).
	BytesAcked uint64
	// BytesReceived counts payload bytes received in order
	// (tcpi_bytes_received).
	BytesReceived uint64
	// DataSegsIn counts segments with payload received, out of order ones
	// included (tcpi_data_segs_in). On subflows this host opened it is
	// current at every segment received; on the others it is as of the
	// last callback.
	DataSegsIn uint32
	// OutOfOrder counts segments received out of order, with a hole
	// before them (tcpi_rcv_ooopack).
	OutOfOrder uint32
	// RcvRTT is the receiver's RTT estimate (tcpi_rcv_rtt): a host that
	// only receives sends no data to measure SRTT with.
	RcvRTT time.Duration
	// Hole is true when segments wait beyond a hole in what was received
	// (as of the segment before the last one): the peer has sent more than
	// arrived, and is not done.
	Hole bool
	// Cwnd is the congestion window in segments.
	Cwnd uint32
	// State is the subflow's TCP state (1 = TCP_ESTABLISHED, ... as in
	// include/net/tcp_states.h).
	State uint8
	// LocID and RemID are the subflow's MPTCP address IDs (the initial
	// subflow has LocID 0). LocID 255 means the kernel did not know it.
	LocID, RemID uint8
	// Updated is when the probe last wrote the entry. The kernel's
	// monotonic clock is converted to wall time with an offset measured
	// once at Load.
	Updated time.Time
}

// EventKind says why an Event was sent.
type EventKind uint8

// Event kinds.
const (
	// EventEstablished: a subflow was established (active or passive
	// open) and its callbacks were enabled.
	EventEstablished EventKind = 1
	// EventRTO: the subflow's retransmission timer fired.
	EventRTO EventKind = 2
	// EventState: the subflow changed TCP state. When the new state is
	// TCP_CLOSE (7) the subflow's entry is removed from Metrics.
	EventState EventKind = 3
)

func (k EventKind) String() string {
	switch k {
	case EventEstablished:
		return "established"
	case EventRTO:
		return "rto"
	case EventState:
		return "state"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one subflow event from the kernel, with the subflow's metrics
// right after the update that caused it.
type Event struct {
	Kind    EventKind
	Key     Key
	Metrics Metrics
	// State is the subflow's TCP state after the event: for EventState the
	// state entered, otherwise the current state.
	State uint8
	// OldState is the state left, for EventState; otherwise State.
	OldState uint8
}

// Config says what Load observes.
type Config struct {
	// NetNS is a file descriptor of the network namespace to observe (for
	// example an open /run/netns/NAME). Only subflows of that namespace are
	// measured, and the ones that already exist are seeded from it. Zero
	// means the namespace of the thread calling Load.
	NetNS int
	// CgroupPath is the cgroup v2 directory the sockops program is attached
	// to. Empty means the root of the cgroup2 mount (found in
	// /proc/self/mountinfo), which covers every socket of the host; when
	// none is visible, Load mounts the hierarchy privately for the time of
	// the attachment (it needs CAP_SYS_ADMIN then).
	CgroupPath string
}

// Probes is a loaded and attached set of probes. Its methods are safe for
// concurrent use.
type Probes struct {
	p *probes
}

// Load loads the probes into the kernel, attaches the sockops program to
// the cgroup (not pinned: the kernel detaches it when the process exits,
// even when it is killed), and seeds the subflows of the namespace that
// were established before (see Seed). It needs root (CAP_BPF,
// CAP_NET_ADMIN and CAP_PERFMON) and a kernel with BTF, iter/tcp and
// bpf_setsockopt in iterators (5.15 or later; tested on 6.18). Every error
// wraps ErrUnavailable and the cause, and reads "eBPF probes unavailable:
// STEP: CAUSE".
func Load(cfg Config) (*Probes, error) {
	p, err := load(cfg)
	if err != nil {
		return nil, err
	}
	return &Probes{p: p}, nil
}

// Seed enables the callbacks on the MPTCP subflows of the network
// namespace netnsFD (0: the caller's) that exist already, and creates their
// entries: a subflow established before Load gets no callback otherwise.
// Load calls it; call it again only for a namespace whose subflows appeared
// while the probes were not attached. It runs the seeding iterator on a
// locked thread switched into the namespace and back; if switching back
// fails the thread is never reused. Only subflows that Load's namespace
// filter accepts are seeded. An error names the subflows that could not
// be seeded; the others are seeded all the same.
func (p *Probes) Seed(netnsFD int) error { return p.p.seed(netnsFD) }

// Metrics returns the metrics of every subflow the probes know, keyed by
// subflow. Closed subflows are absent.
func (p *Probes) Metrics() (map[Key]Metrics, error) { return p.p.metrics() }

// EachMetrics calls fn with the metrics of every subflow the probes know
// (fn must not keep the pointer). It allocates nothing per subflow, which
// matters at tens of thousands of subflows read every few milliseconds.
func (p *Probes) EachMetrics(fn func(Key, *Metrics)) error { return p.p.eachMetrics(fn) }

// Cgroup says where the sockops program is attached: the cgroup2 mount's
// path, Config.CgroupPath, or "private cgroup2 mount (none visible)" when
// Load mounted the hierarchy itself (as under `ip netns exec`, which hides
// the host's mount).
func (p *Probes) Cgroup() string { return p.p.cgroup }

// Events returns the event channel. There is one channel per Probes, with
// a buffer of 256 events; it is closed when Close has been called. When the
// receiver falls behind, the kernel's ring buffer (256 KiB, about 2300
// events) fills and further events are dropped and counted by EventsLost.
func (p *Probes) Events() <-chan Event { return p.p.events }

// EventsLost returns the number of events the kernel dropped because the
// ring buffer was full.
func (p *Probes) EventsLost() (uint64, error) { return p.p.eventsLost() }

// Close detaches the programs, stops the event reader (Events is closed
// once it has stopped) and frees the maps. It may be called more than once.
func (p *Probes) Close() error { return p.p.close() }
