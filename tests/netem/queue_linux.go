//go:build linux

package netem

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	bindTimeout = 5 * time.Second // for the kernel's answer to the bind
	drainIdle   = 20 * time.Millisecond
	drainMax    = 500 * time.Millisecond
)

// Queue is a bound NFQUEUE. Listen creates it; Serve runs it.
type Queue struct {
	cfg   Config
	f     *os.File // the netlink socket, non-blocking, in the runtime poller
	rc    syscall.RawConn
	sched scheduler
	seq   uint32
	rbuf  []byte
	wbuf  []byte
	msgs  []message
	serve atomic.Bool
	close sync.Once

	received, accepted, dropped, verdictErrors, malformed atomic.Uint64
	heldNow, maxHeld                                      atomic.Int64
}

// Listen opens a netlink socket in the calling thread's network namespace
// and binds it to queue cfg.Queue (copy mode META, queue length
// cfg.MaxQueue, fail-open). It fails if another socket has the queue
// (EPERM) or the kernel has no nfnetlink_queue.
func Listen(cfg Config) (*Queue, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netem: netlink socket: %w", err)
	}
	if err := setupSocket(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	q := &Queue{
		cfg:   cfg,
		f:     os.NewFile(uintptr(fd), "nfqueue"),
		sched: scheduler{delay: cfg.Delay, jitter: cfg.Jitter},
		rbuf:  make([]byte, 64<<10),
	}
	if q.rc, err = q.f.SyscallConn(); err != nil {
		q.f.Close()
		return nil, fmt.Errorf("netem: %w", err)
	}
	if err := q.bind(); err != nil {
		q.f.Close()
		return nil, err
	}
	return q, nil
}

func setupSocket(fd int) error {
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN, which binding a queue needs too;
	// fall back to SO_RCVBUF (capped by net.core.rmem_max) anyway.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, RecvBuffer) != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, RecvBuffer); err != nil {
			return fmt.Errorf("netem: SO_RCVBUF: %w", err)
		}
	}
	// An overrun must not turn into an ENOBUFS read error: the kernel has
	// already accepted the packets it could not report (fail-open).
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return fmt.Errorf("netem: NETLINK_NO_ENOBUFS: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netem: bind netlink socket: %w", err)
	}
	return nil
}

// bind sends the config request and waits for its acknowledgement.
// Packets that arrive meanwhile are handled as usual.
func (q *Queue) bind() error {
	q.seq++
	seq := q.seq
	q.wbuf = appendBind(q.wbuf[:0], seq, q.cfg.Queue, q.cfg.MaxQueue, nfqaCfgFFailOpen)
	if err := q.send(q.wbuf); err != nil {
		return fmt.Errorf("netem: bind queue %d: %w", q.cfg.Queue, err)
	}
	if err := q.f.SetReadDeadline(time.Now().Add(bindTimeout)); err != nil {
		return fmt.Errorf("netem: %w", err) // not pollable: deadlines are needed
	}
	for {
		n, err := q.recv()
		if err != nil {
			return fmt.Errorf("netem: bind queue %d: waiting for the kernel: %w", q.cfg.Queue, err)
		}
		var ack *message
		q.msgs, err = parseMessages(q.msgs[:0], q.rbuf[:n])
		if err != nil {
			return fmt.Errorf("netem: bind queue %d: %w", q.cfg.Queue, err)
		}
		for i := range q.msgs {
			if m := &q.msgs[i]; m.Kind == kindError && m.Seq == seq {
				ack = m
			}
		}
		if err := q.handle(time.Now()); err != nil {
			return err
		}
		if ack == nil {
			continue
		}
		switch errno := syscall.Errno(ack.Errno); {
		case errno == 0:
			return nil
		case errno == unix.EPERM || errno == unix.EBUSY:
			return fmt.Errorf("netem: bind queue %d: %w (is another process bound to it?)", q.cfg.Queue, errno)
		default:
			return fmt.Errorf("netem: bind queue %d: %w", q.cfg.Queue, errno)
		}
	}
}

// Serve holds and releases the queue's packets until ctx is done, then
// accepts what it holds and what arrives in the next moments (up to
// 500 ms), closes the socket (unbinding the queue) and returns nil. It
// returns an error if the socket fails. Serve may be called only once.
func (q *Queue) Serve(ctx context.Context) error {
	if !q.serve.CompareAndSwap(false, true) {
		return errors.New("netem: Serve called twice")
	}
	defer q.Close()
	// Wake the read below when ctx is done. Serve sets the deadline again
	// every round, but always before checking ctx, so either it sees ctx
	// done or this runs after its SetReadDeadline.
	stop := context.AfterFunc(ctx, func() { q.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		if err := q.release(time.Now()); err != nil {
			return err
		}
		due, _ := q.sched.next() // zero (no deadline) when nothing is held
		if err := q.f.SetReadDeadline(due); err != nil {
			return fmt.Errorf("netem: %w", err)
		}
		if ctx.Err() != nil {
			return q.drain()
		}
		n, err := q.recv()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue // a packet is due, or ctx is done
		case err != nil:
			return fmt.Errorf("netem: queue %d: %w", q.cfg.Queue, err)
		}
		if q.parse(n) {
			if err := q.handle(time.Now()); err != nil {
				return err
			}
		}
	}
}

// drain accepts every held packet, then keeps reading and accepting until
// the socket is idle for drainIdle or drainMax has passed.
func (q *Queue) drain() error {
	end := time.Now().Add(drainMax)
	for {
		if err := q.releaseAll(); err != nil {
			return err
		}
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		idle := now.Add(drainIdle)
		if idle.After(end) {
			idle = end
		}
		if err := q.f.SetReadDeadline(idle); err != nil {
			return fmt.Errorf("netem: %w", err)
		}
		n, err := q.recv()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		case err != nil:
			return fmt.Errorf("netem: queue %d: %w", q.cfg.Queue, err)
		}
		if q.parse(n) {
			if err := q.handle(now); err != nil {
				return err
			}
		}
	}
}

// Close closes the socket, which unbinds the queue; the kernel then drops
// the packets still queued. Use it only if Serve is never called.
func (q *Queue) Close() error {
	err := os.ErrClosed
	q.close.Do(func() { err = q.f.Close() })
	return err
}

// Stats returns the counters. It may be called while Serve runs.
func (q *Queue) Stats() Stats {
	return Stats{
		Received:      q.received.Load(),
		Accepted:      q.accepted.Load(),
		Dropped:       q.dropped.Load(),
		Held:          int(q.heldNow.Load()),
		MaxHeld:       int(q.maxHeld.Load()),
		VerdictErrors: q.verdictErrors.Load(),
		Malformed:     q.malformed.Load(),
	}
}

// parse parses the datagram of n bytes in rbuf into msgs. A malformed
// datagram is counted; the messages before the fault are still handled.
func (q *Queue) parse(n int) bool {
	var err error
	q.msgs, err = parseMessages(q.msgs[:0], q.rbuf[:n])
	if err != nil {
		q.malformed.Add(1)
	}
	return len(q.msgs) > 0
}

// handle acts on the parsed messages in msgs: packets are held (or
// dropped at random), error replies counted.
func (q *Queue) handle(now time.Time) error {
	for _, m := range q.msgs {
		switch m.Kind {
		case kindError:
			if m.Errno != 0 {
				q.verdictErrors.Add(1)
			}
		case kindPacket:
			q.received.Add(1)
			if q.cfg.DropPercent > 0 && rand.Float64()*100 < q.cfg.DropPercent {
				q.dropped.Add(1)
				if err := q.verdict(m.ID, nfDrop, false); err != nil {
					return err
				}
				continue
			}
			q.sched.push(m.ID, now, rand.Float64())
			if h := int64(q.sched.len()); h > q.maxHeld.Load() {
				q.maxHeld.Store(h)
			}
		}
	}
	q.heldNow.Store(int64(q.sched.len()))
	return nil
}

// release accepts the packets due at now with one batch verdict.
func (q *Queue) release(now time.Time) error {
	return q.accept(q.sched.popDue(now))
}

func (q *Queue) releaseAll() error {
	return q.accept(q.sched.popAll())
}

func (q *Queue) accept(n int, last uint32) error {
	if n == 0 {
		return nil
	}
	q.accepted.Add(uint64(n))
	q.heldNow.Store(int64(q.sched.len()))
	return q.verdict(last, nfAccept, true)
}

func (q *Queue) verdict(id, verdict uint32, batch bool) error {
	q.seq++
	q.wbuf = appendVerdict(q.wbuf[:0], q.seq, q.cfg.Queue, id, verdict, batch)
	if err := q.send(q.wbuf); err != nil {
		return fmt.Errorf("netem: queue %d: verdict: %w", q.cfg.Queue, err)
	}
	return nil
}

func (q *Queue) send(b []byte) error {
	var err error
	werr := q.rc.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	return err
}

// recv reads one datagram into rbuf. A truncated one (which META-mode
// messages never are) is counted as malformed and yields 0 bytes.
func (q *Queue) recv() (int, error) {
	var (
		n, flags int
		err      error
	)
	rerr := q.rc.Read(func(fd uintptr) bool {
		n, _, flags, _, err = unix.Recvmsg(int(fd), q.rbuf, nil, 0)
		return err != unix.EAGAIN
	})
	if rerr != nil {
		return 0, rerr
	}
	if err == unix.ENOBUFS {
		return 0, nil // an overrun report (NETLINK_NO_ENOBUFS makes it unlikely)
	}
	if err != nil {
		return 0, err
	}
	if flags&unix.MSG_TRUNC != 0 {
		q.malformed.Add(1)
		return 0, nil
	}
	return n, nil
}
