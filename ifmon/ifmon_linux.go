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
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"golang.org/x/sys/unix"
)

// eventGroups are the rtnetlink multicast groups whose messages poke the
// monitor: links, addresses and routes of both families (the rule groups
// are joined apart: see subscribe).
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
	// routes is the socket of Route's lookups (nil until the first, and
	// after a failure), under routeMu.
	routeMu sync.Mutex
	routes  *dumper
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
	d, err := openDumper(m.cfg.NetNS)
	if err != nil {
		return Snapshot{}, fmt.Errorf("ifmon: snapshot: open rtnetlink socket: %w", err)
	}
	defer d.Close()
	s, err := m.snapshot(d)
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
	defer m.closeRoutes()

	// Subscribe before the first dump, so that no change can fall between
	// the two.
	events, err := m.subscribe()
	if err != nil {
		return err
	}
	defer events.Close()
	dumps, err := openDumper(m.cfg.NetNS)
	if err != nil {
		return fmt.Errorf("ifmon: open rtnetlink socket: %w", err)
	}
	r := &rebuilder{m: m, dumps: dumps}
	defer r.close()

	first, err := r.rebuild()
	if err != nil {
		return fmt.Errorf("ifmon: first snapshot: %w", err)
	}
	m.box.publish(first)
	return m.watch(ctx, events, first, r.rebuild)
}

// subscribe opens the event socket, joined to eventGroups.
func (m *Monitor) subscribe() (*netlink.Conn, error) {
	events, err := m.dial(eventGroups)
	if err != nil {
		return nil, fmt.Errorf("ifmon: subscribe to rtnetlink: %w", err)
	}
	// Policy-routing rules have no legacy group bit for IPv6: join both
	// rule groups by number.
	for _, g := range []uint32{unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE} {
		if err := events.JoinGroup(g); err != nil {
			events.Close()
			return nil, fmt.Errorf("ifmon: join rtnetlink group %d: %w", g, err)
		}
	}
	if m.sys.eventBuffer > 0 {
		if err := events.SetReadBuffer(m.sys.eventBuffer); err != nil {
			events.Close()
			return nil, fmt.Errorf("ifmon: set event socket buffer: %w", err)
		}
	}
	return events, nil
}

// rebuilder takes snapshots on the dump socket. After a failure the
// socket is replaced: it may be the socket that failed.
type rebuilder struct {
	m     *Monitor
	dumps *dumper // nil after a failure, until the next rebuild
}

// rebuild takes a snapshot on the dump socket, opened anew if the last
// one failed.
func (r *rebuilder) rebuild() (Snapshot, error) {
	if r.dumps == nil {
		d, err := openDumper(r.m.cfg.NetNS)
		if err != nil {
			return Snapshot{}, fmt.Errorf("open rtnetlink socket: %w", err)
		}
		r.dumps = d
	}
	s, err := r.m.snapshot(r.dumps)
	if err != nil {
		r.dumps.Close()
		r.dumps = nil
	}
	return s, err
}

// close closes the dump socket, if open.
func (r *rebuilder) close() {
	if r.dumps != nil {
		r.dumps.Close()
	}
}

// watch publishes a snapshot after every change, first being published
// already, until ctx is done or the event socket fails: the pump turns the
// event socket's messages into pokes, the debounce rebuilds.
func (m *Monitor) watch(ctx context.Context, events *netlink.Conn, first Snapshot, rebuild func() (Snapshot, error)) error {
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
	err := d.run(ctx, first)
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
	var c *netlink.Conn
	err := netns.Do(m.cfg.NetNS, func() (err error) {
		c, err = netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: groups})
		return err
	})
	return c, err
}

// snapshot takes the dumps on d and assembles them.
func (m *Monitor) snapshot(d *dumper) (Snapshot, error) {
	dm, err := d.dump()
	if err != nil {
		return Snapshot{}, err
	}
	return assemble(dm, m.classify), nil
}

// classify classifies one link: rtnetlink facts always, sysfs facts only in
// the caller's own namespace (NetNS 0), and only when no rule decides.
func (m *Monitor) classify(l linkEntry) Class {
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
