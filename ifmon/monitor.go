package ifmon

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultSettle is the Settle window used when Config.Settle is 0.
const DefaultSettle = 50 * time.Millisecond

// maxRebuildFailures is how many snapshots in a row may fail (one per
// Settle window) before Run gives up.
const maxRebuildFailures = 5

// ErrRunning is returned by a second call of Monitor.Run.
var ErrRunning = errors.New("ifmon: monitor already running")

// Config configures a Monitor. The zero Config watches the caller's network
// namespace with the default rules and a 50 ms settle window.
type Config struct {
	// NetNS is an open file descriptor of the network namespace to watch
	// (an fd of /run/netns/NAME or /proc/PID/ns/net), or 0 for the
	// namespace of the calling thread, which for a Go program is the
	// process's. The netlink sockets are created inside that namespace and
	// stay there; only the thread that opens a socket visits it (see the
	// package doc). The caller keeps the fd open for as long as the
	// Monitor is used.
	NetNS int

	// Rules override the classification by name. The first match wins,
	// and they are tried before DefaultRules and sysfs (see Classify).
	Rules []Rule

	// Settle is the debounce window: after each rebuild of the snapshot,
	// further changes within Settle are coalesced into one rebuild at the
	// end of the window. 0 means DefaultSettle.
	Settle time.Duration

	// SysfsRoot is where sysfs is mounted; "" means "/sys". Sysfs is only
	// consulted when NetNS is 0: /sys shows the devices of the namespace
	// that mounted it, so for another namespace it would describe the
	// wrong devices (or same-named devices of the host). There, only the
	// rules and the rtnetlink facts (loopback, IFLA_INFO_KIND) classify.
	// Even with NetNS 0 a sysfs entry is used only if its ifindex matches,
	// which guards against a /sys mounted by another namespace.
	SysfsRoot string

	// Logf, if set, receives a line for resyncs after lost events
	// (ENOBUFS; at most one line a second), each failed rebuild, and each
	// other receive error. Errors that end Run are returned, not logged.
	Logf func(format string, args ...any)
}

// Monitor watches the interfaces, addresses and default routes of one
// network namespace.
//
// Concurrency: Snapshot and Changes may be called from any goroutine at any
// time, concurrently with Run and with each other; each Snapshot call opens
// its own socket. Run may be called once. The Snapshots in Deltas are shared
// values and must not be modified.
type Monitor struct {
	cfg Config
	box mailbox
	sys sysMonitor // the platform's part: ifmon_linux.go, ifmon_others.go
}

// Changes returns the channel on which Run publishes Deltas. It is the same
// channel on every call.
//
//   - The first Delta, sent by Run before it waits for any change, is
//     Delta{Old: Snapshot{}, New: first}: the state when Run started.
//   - Every later Delta has New different from Old (Snapshot.Equal).
//   - The channel holds one Delta, the latest. If the consumer has not
//     taken the previous one when a new snapshot is published, that Delta
//     is replaced by one whose Old is the last snapshot the consumer did
//     receive (Snapshot{} if none) and whose New is the latest; if the two
//     are equal (a flap that ended where it began) nothing is left pending.
//     So a slow consumer never sees stale state, and a Delta's Old always
//     is the consumer's previous New.
//   - Run never blocks on the consumer.
//   - The channel is closed when Run returns, after any pending Delta.
//
// The channel is meant for one consumer: with several, each sees only some
// of the Deltas and "the consumer's last snapshot" loses its meaning.
func (m *Monitor) Changes() <-chan Delta { return m.box.ch }

// newMonitor validates cfg, applies defaults and builds the portable part of
// a Monitor.
func newMonitor(cfg Config) (*Monitor, error) {
	if err := validateRules(cfg.Rules); err != nil {
		return nil, fmt.Errorf("ifmon: %w", err)
	}
	if cfg.Settle < 0 {
		return nil, fmt.Errorf("ifmon: negative settle window %v", cfg.Settle)
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.SysfsRoot == "" {
		cfg.SysfsRoot = "/sys"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	cfg.Rules = append([]Rule(nil), cfg.Rules...)
	return &Monitor{cfg: cfg, box: mailbox{ch: make(chan Delta, 1)}}, nil
}

// mailbox is the capacity-1 "latest Delta" channel behind Changes. publish
// is called by one goroutine only.
type mailbox struct {
	ch   chan Delta
	sent Snapshot // New of the last Delta put in ch
	any  bool     // whether a Delta was ever put in ch
}

// publish makes s the latest snapshot, without blocking: see Changes.
func (b *mailbox) publish(s Snapshot) {
	old := b.sent
	select {
	case d := <-b.ch:
		// Not taken: the consumer's view is still d.Old.
		old = d.Old
	default:
		// Taken (or never sent): the consumer's view is b.sent.
	}
	b.sent = s
	if b.any && old.Equal(s) {
		return
	}
	b.any = true
	b.ch <- Delta{Old: old, New: s}
}

// debounce is the level-triggered loop of Run, apart from its I/O so that it
// can be tested with fake pokes, a fake clock and a fake rebuild.
type debounce struct {
	pokes   <-chan struct{}
	settle  time.Duration
	after   func(time.Duration) <-chan time.Time // time.After
	rebuild func() (Snapshot, error)
	publish func(Snapshot)
	logf    func(format string, args ...any)
}

// run waits for pokes and publishes every new snapshot, starting from last
// (already published). After a quiet period a poke causes a rebuild at once
// (leading edge), then a Settle window opens; pokes during a window are
// coalesced into one rebuild at its end, which opens another window. Only a
// window without pokes ends the burst. So a change after a quiet period is
// seen within one rebuild, and a storm costs one rebuild (and at most one
// Delta) per window. A failed rebuild is retried at the end of its window;
// after maxRebuildFailures in a row run returns the error. run returns nil
// when ctx is done.
func (d *debounce) run(ctx context.Context, last Snapshot) error {
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.pokes:
		}
		for again := true; again; {
			s, err := d.rebuild()
			switch {
			case err != nil:
				failures++
				if failures >= maxRebuildFailures {
					return fmt.Errorf("ifmon: %d snapshots failed in a row: %w", failures, err)
				}
				d.logf("ifmon: snapshot failed, retrying in %v: %v", d.settle, err)
			case !s.Equal(last):
				failures = 0
				last = s
				d.publish(s)
			default:
				failures = 0
			}
			again = err != nil
			timer := d.after(d.settle)
		window:
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-d.pokes:
					again = true
				case <-timer:
					break window
				}
			}
		}
	}
}
