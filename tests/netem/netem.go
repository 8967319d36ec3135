// Package netem is a small link emulator for the testbed: an NFQUEUE
// client that holds the packets an iptables rule sends to its queue for a
// fixed delay (plus optional jitter) and then accepts them, or drops a
// random percentage. The testbed kernel has no sch_netem, and the nft
// "queue" statement is not built, but the xt NFQUEUE target is:
//
//	iptables -t mangle -A FORWARD -i rwlan0 -j NFQUEUE --queue-num 10 --queue-bypass
//
// The netlink protocol (nfnetlink_queue) is implemented here with
// golang.org/x/sys/unix only. A queue is bound in the network namespace of
// the calling thread at Listen time.
//
// Behaviour:
//
//   - Copy mode META: the kernel sends only each packet's metadata; a
//     verdict needs nothing but the packet id.
//   - Each packet is held until its arrival (when it is read from the
//     socket) plus Delay plus a uniform jitter in [-Jitter, +Jitter]
//     (never less than zero). Packets of one queue are never reordered: a
//     release time earlier than the previous packet's is raised to it. So
//     with packets closer together than the jitter, the delay is nearer
//     Delay+Jitter than Delay, and varies less.
//   - Due packets are accepted with one NFQNL_MSG_VERDICT_BATCH (which
//     accepts every queued packet up to an id; as release order is arrival
//     order, that is exactly the due ones).
//   - With DropPercent, each packet is dropped with that probability as
//     soon as it arrives (NF_DROP), independently of the others.
//   - The kernel queue holds at most MaxQueue packets and is configured
//     with NFQA_CFG_F_FAIL_OPEN: a packet that does not fit (queue full, or
//     our socket's receive buffer full) is accepted at once instead of
//     dropped. The choice: an emulator overrun should not look like
//     network loss to the protocol under test (loss is a separate,
//     explicit impairment), and the socket also sets NETLINK_NO_ENOBUFS
//     and an 8 MiB receive buffer so overruns stay rare. The price is that
//     such a packet skips the delay and may overtake held ones, so keep
//     MaxQueue above the packets in flight through the queue (rate times
//     delay).
//   - When Serve's context is cancelled, every held packet is accepted at
//     once (rather than dropped by the kernel when the socket closes), and
//     so is whatever arrives in the next moments, so that removing the
//     iptables rules first and then stopping the delayer loses nothing.
package netem

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Config configures one queue.
type Config struct {
	Queue       uint16        // NFQUEUE number (--queue-num)
	Delay       time.Duration // time each packet is held
	Jitter      time.Duration // uniform in [-Jitter, +Jitter] added to Delay
	DropPercent float64       // 0..100: probability in % to drop a packet
	MaxQueue    uint32        // kernel queue length; 0 means DefaultMaxQueue
}

// DefaultMaxQueue is the kernel queue length used when Config.MaxQueue is
// 0: 16384 packets of 1500 bytes is about 650 Mbit/s held for 300 ms.
const DefaultMaxQueue = 16384

// RecvBuffer is the receive buffer size requested for the netlink socket
// (with SO_RCVBUFFORCE, which ignores net.core.rmem_max when privileged).
const RecvBuffer = 8 << 20

// Stats counts what a queue did.
type Stats struct {
	Received      uint64 // packets read from the kernel
	Accepted      uint64 // packets released with NF_ACCEPT
	Dropped       uint64 // packets dropped at random (DropPercent)
	Held          int    // packets held now
	MaxHeld       int    // most packets held at once
	VerdictErrors uint64 // error replies to verdicts, e.g. for packets the kernel flushed when their interface went down
	Malformed     uint64 // datagrams that did not parse (or were truncated)
}

func (c Config) validate() (Config, error) {
	switch {
	case c.Delay < 0:
		return c, fmt.Errorf("netem: negative delay %v", c.Delay)
	case c.Jitter < 0:
		return c, fmt.Errorf("netem: negative jitter %v", c.Jitter)
	case math.IsNaN(c.DropPercent) || c.DropPercent < 0 || c.DropPercent > 100:
		return c, fmt.Errorf("netem: drop percentage %v out of 0..100", c.DropPercent)
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	return c, nil
}

// Run binds queue cfg.Queue in the calling thread's network namespace
// and serves it until ctx is done (then returns nil) or an error occurs.
// It is Listen followed by Serve.
func Run(ctx context.Context, cfg Config) error {
	q, err := Listen(cfg)
	if err != nil {
		return err
	}
	return q.Serve(ctx)
}
