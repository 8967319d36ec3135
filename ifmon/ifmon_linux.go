//go:build linux

package ifmon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// eventGroups are the rtnetlink multicast groups whose messages poke the
// monitor: links, addresses and routes of both families.
const eventGroups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
	unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// maxReceiveErrors is how many receive errors in a row (ENOBUFS aside) end
// Run: one is a resync, a run of them is a broken socket.
const maxReceiveErrors = 8

// maxDumpAttempts bounds the retries of a dump that the kernel marked
// NLM_F_DUMP_INTR.
const maxDumpAttempts = 5

// sysMonitor is the Linux part of a Monitor.
type sysMonitor struct {
	running atomic.Bool
	// eventBuffer, if positive, is the SO_RCVBUF of the event socket;
	// tests shrink it to provoke ENOBUFS.
	eventBuffer int
}

// New returns a Monitor of the namespace cfg.NetNS. It validates cfg and
// opens (and closes) one rtnetlink socket in the namespace, so that a bad
// namespace fd or a lack of privilege is reported here rather than by Run.
func New(cfg Config) (*Monitor, error) {
	m, err := newMonitor(cfg)
	if err != nil {
		return nil, err
	}
	c, err := m.dial(0)
	if err != nil {
		return nil, fmt.Errorf("ifmon: open rtnetlink socket: %w", err)
	}
	c.Close()
	return m, nil
}

// Snapshot dumps the links, addresses and routes of the namespace now, on a
// socket of its own, and returns the Snapshot. It does not affect Run or
// Changes.
func (m *Monitor) Snapshot() (Snapshot, error) {
	c, err := m.dial(0)
	if err != nil {
		return Snapshot{}, fmt.Errorf("ifmon: snapshot: %w", err)
	}
	defer c.Close()
	s, err := m.snapshot(c)
	if err != nil {
		return Snapshot{}, fmt.Errorf("ifmon: snapshot: %w", err)
	}
	return s, nil
}

// Run watches the namespace until ctx is done. It subscribes to the
// rtnetlink groups, takes the first snapshot and publishes it (see Changes),
// and then publishes a new snapshot after every change, debounced by
// cfg.Settle. rtnetlink messages are only pokes: every change, and every
// receive error (ENOBUFS included: events were lost), leads to a full dump.
//
// Run returns nil when ctx is done (context.Canceled is not an error here),
// promptly: the event socket's read deadline is moved to the past. It returns
// an error if it cannot open its sockets or take the first snapshot, if
// maxRebuildFailures snapshots fail in a row, or if the event socket keeps
// failing. It closes the Changes channel on return. Run may be called once;
// a second call returns ErrRunning.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.sys.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(m.box.ch)

	// Subscribe before the first dump, so that no change can fall between
	// the two.
	events, err := m.dial(eventGroups)
	if err != nil {
		return fmt.Errorf("ifmon: subscribe to rtnetlink: %w", err)
	}
	defer events.Close()
	if m.sys.eventBuffer > 0 {
		if err := events.SetReadBuffer(m.sys.eventBuffer); err != nil {
			return fmt.Errorf("ifmon: set event socket buffer: %w", err)
		}
	}
	dumps, err := m.dial(0)
	if err != nil {
		return fmt.Errorf("ifmon: open rtnetlink socket: %w", err)
	}
	defer func() {
		if dumps != nil {
			dumps.Close()
		}
	}()
	// rebuild takes a snapshot on the dump socket. After a failure the
	// socket may still hold the rest of a dump, so it is replaced.
	rebuild := func() (Snapshot, error) {
		if dumps == nil {
			c, err := m.dial(0)
			if err != nil {
				return Snapshot{}, fmt.Errorf("open rtnetlink socket: %w", err)
			}
			dumps = c
		}
		s, err := m.snapshot(dumps)
		if err != nil {
			dumps.Close()
			dumps = nil
		}
		return s, err
	}

	first, err := rebuild()
	if err != nil {
		return fmt.Errorf("ifmon: first snapshot: %w", err)
	}
	m.box.publish(first)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		// Unblock Receive; the pump then sees ctx done and returns.
		if err := events.SetReadDeadline(time.Unix(1, 0)); err != nil {
			events.Close()
		}
	})
	defer stop()

	pokes := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { m.pump(ctx, events, pokes, cancel) })

	d := debounce{
		pokes:   pokes,
		settle:  m.cfg.Settle,
		after:   time.After,
		rebuild: rebuild,
		publish: m.box.publish,
		logf:    m.cfg.Logf,
	}
	err = d.run(ctx, first)
	cancel(nil)
	wg.Wait()
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); errors.Is(cause, errPump) {
		return cause
	}
	return nil
}

// errPump marks the cause with which the pump ends Run.
var errPump = errors.New("ifmon: event socket failed")

// pump turns every message or error of the event socket into a poke (a
// non-blocking send on the capacity-1 channel pokes). It returns when ctx is
// done, or cancels ctx with an errPump cause when the socket keeps failing.
func (m *Monitor) pump(ctx context.Context, c *netlink.Conn, pokes chan<- struct{}, fail context.CancelCauseFunc) {
	poke := func() {
		select {
		case pokes <- struct{}{}:
		default:
		}
	}
	failures, overflows := 0, 0
	var lastLog time.Time
	for {
		_, err := c.Receive()
		if ctx.Err() != nil {
			return
		}
		poke()
		switch {
		case err == nil:
			failures = 0
		case errors.Is(err, unix.ENOBUFS):
			// The kernel dropped events for us: the dump that the poke
			// causes is the resync. A storm overflows again and again;
			// log at most once a second.
			failures = 0
			overflows++
			if now := time.Now(); now.Sub(lastLog) >= time.Second {
				m.cfg.Logf("ifmon: event socket overflowed (ENOBUFS) %d times, resyncing from a dump", overflows)
				overflows, lastLog = 0, now
			}
		case errors.Is(err, net.ErrClosed):
			fail(fmt.Errorf("%w: %w", errPump, err))
			return
		default:
			failures++
			m.cfg.Logf("ifmon: receive events: %v; resyncing", err)
			if failures >= maxReceiveErrors {
				fail(fmt.Errorf("%w: %d receive errors in a row: %w", errPump, failures, err))
				return
			}
		}
	}
}

// dial opens an rtnetlink socket in the monitored namespace, joined to the
// given legacy multicast groups.
func (m *Monitor) dial(groups uint32) (*netlink.Conn, error) {
	return netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: m.cfg.NetNS, Groups: groups})
}

// dumpRequests are the three dumps of a snapshot. The zero headers ask for
// every family (AF_UNSPEC) and, for routes, every table: without
// NETLINK_GET_STRICT_CHK the kernel ignores rtm_table in a dump request, and
// with it 0 (RT_TABLE_UNSPEC) means all tables. Per-interface defaults of
// source-policy routing live in tables other than main.
var dumpRequests = []struct {
	name string
	typ  netlink.HeaderType
	hdr  []byte
}{
	{"links", rtmGetLink, make([]byte, sizeofIfInfomsg)},
	{"addresses", rtmGetAddr, make([]byte, sizeofIfAddrmsg)},
	{"routes", rtmGetRoute, make([]byte, sizeofRtMsg)},
}

// dumpMessage is a dump request of type typ with the fixed header hdr.
func dumpMessage(typ netlink.HeaderType, hdr []byte) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Dump},
		Data:   hdr,
	}
}

// snapshot dumps links, addresses and routes on c and assembles them. The
// three dumps are not atomic together; a change between them also reaches
// the event socket, which triggers another snapshot. A dump the kernel marks
// as interrupted is retried.
func (m *Monitor) snapshot(c *netlink.Conn) (Snapshot, error) {
	d, err := m.snapshotDump(c)
	if err != nil {
		return Snapshot{}, err
	}
	return assemble(d, m.classify), nil
}

func (m *Monitor) snapshotDump(c *netlink.Conn) (dump, error) {
	for attempt := 1; ; attempt++ {
		var msgs []netlink.Message
		for _, r := range dumpRequests {
			got, err := c.Execute(dumpMessage(r.typ, r.hdr))
			if err != nil {
				return dump{}, fmt.Errorf("dump %s: %w", r.name, err)
			}
			msgs = append(msgs, got...)
		}
		d, err := parseMessages(msgs)
		if errors.Is(err, errDumpInterrupted) && attempt < maxDumpAttempts {
			continue
		}
		return d, err
	}
}

// classify classifies one link: rtnetlink facts always, sysfs facts only in
// the caller's own namespace (NetNS 0), and only when no rule decides.
func (m *Monitor) classify(l linkMsg) Class {
	f := LinkFacts{Loopback: l.loopback(), Kind: l.Kind}
	if f.Loopback {
		return ClassLoopback
	}
	if c, ok := matchRules(l.Name, m.cfg.Rules); ok {
		return c
	}
	if c, ok := matchRules(l.Name, DefaultRules); ok {
		return c
	}
	if m.cfg.NetNS == 0 {
		sysfsFacts(m.cfg.SysfsRoot, l.Name, l.Index, &f)
	}
	return Classify(l.Name, f, m.cfg.Rules)
}
