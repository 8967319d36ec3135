package ifmon

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// snapN is a distinct snapshot for each n.
func snapN(n int) Snapshot {
	return Snapshot{Links: []Link{{Index: int32(n), Name: "x"}}}
}

func idx(s Snapshot) int {
	if len(s.Links) == 0 {
		return 0
	}
	return int(s.Links[0].Index)
}

func TestMailbox(t *testing.T) {
	b := mailbox{ch: make(chan Delta, 1)}
	take := func() (old, nw int, ok bool) {
		select {
		case d := <-b.ch:
			return idx(d.Old), idx(d.New), true
		default:
			return 0, 0, false
		}
	}
	expect := func(step string, wantOld, wantNew int) {
		t.Helper()
		old, nw, ok := take()
		if !ok || old != wantOld || nw != wantNew {
			t.Errorf("%s: got %d→%d (ok %v), want %d→%d", step, old, nw, ok, wantOld, wantNew)
		}
	}
	expectNone := func(step string) {
		t.Helper()
		if old, nw, ok := take(); ok {
			t.Errorf("%s: got %d→%d, want nothing", step, old, nw)
		}
	}

	// The first snapshot is always sent, even if empty.
	b.publish(Snapshot{})
	expect("first, empty", 0, 0)
	b.publish(snapN(1))
	expect("taken", 0, 1)
	// Not taken: replaced, with Old the consumer's last.
	b.publish(snapN(2))
	b.publish(snapN(3))
	b.publish(snapN(4))
	expect("coalesced", 1, 4)
	expectNone("after take")
	// A flap that ends where the consumer is: nothing pending.
	b.publish(snapN(5))
	b.publish(snapN(4))
	expectNone("flap back")
	b.publish(snapN(6))
	expect("after flap", 4, 6)
}

// TestMailboxConcurrent has a slow consumer race a fast producer: every
// Delta continues the previous one, and the last one ends at the last
// snapshot.
func TestMailboxConcurrent(t *testing.T) {
	b := mailbox{ch: make(chan Delta, 1)}
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			b.publish(snapN(i))
			if i%20 == 0 {
				time.Sleep(time.Microsecond)
			}
		}
	}()
	prev, count := 0, 0
	for last := false; !last; {
		select {
		case <-done:
			last = true
		case d := <-b.ch:
			count++
			if idx(d.Old) != prev || idx(d.New) <= prev {
				t.Fatalf("delta %d→%d after %d", idx(d.Old), idx(d.New), prev)
			}
			prev = idx(d.New)
			time.Sleep(time.Microsecond)
		}
	}
	select {
	case d := <-b.ch:
		if idx(d.Old) != prev {
			t.Fatalf("final delta %d→%d after %d", idx(d.Old), idx(d.New), prev)
		}
		prev = idx(d.New)
	default:
	}
	if prev != n {
		t.Errorf("consumer ended at %d, want %d", prev, n)
	}
	t.Logf("%d snapshots, %d deltas received", n, count)
}

// fakeLoop runs a debounce loop with a fake clock: the test sees each timer
// the loop starts (timers) and fires it by hand, pokes are unbuffered so a
// send returns only once the loop has taken it, and the kernel state is the
// number in state.
type fakeLoop struct {
	t         *testing.T
	pokes     chan struct{}
	timers    chan chan time.Time
	state     atomic.Int64
	fail      atomic.Bool
	rebuilds  atomic.Int64
	mu        sync.Mutex
	published []int
	done      chan error
	cancel    context.CancelFunc
}

func startFakeLoop(t *testing.T, first int) *fakeLoop {
	f := &fakeLoop{t: t, pokes: make(chan struct{}), timers: make(chan chan time.Time), done: make(chan error, 1)}
	f.state.Store(int64(first))
	d := debounce{
		pokes:  f.pokes,
		settle: time.Hour, // never fires by itself
		after: func(d time.Duration) <-chan time.Time {
			if d != time.Hour {
				t.Errorf("timer of %v", d)
			}
			c := make(chan time.Time, 1)
			f.timers <- c
			return c
		},
		rebuild: func() (Snapshot, error) {
			f.rebuilds.Add(1)
			if f.fail.Load() {
				return Snapshot{}, errors.New("dump failed")
			}
			return snapN(int(f.state.Load())), nil
		},
		publish: func(s Snapshot) {
			f.mu.Lock()
			f.published = append(f.published, idx(s))
			f.mu.Unlock()
		},
		logf: t.Logf,
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- d.run(ctx, snapN(first)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			t.Error("debounce loop did not stop")
		}
	})
	return f
}

func (f *fakeLoop) poke() {
	f.t.Helper()
	select {
	case f.pokes <- struct{}{}:
	case <-time.After(10 * time.Second):
		f.t.Fatal("loop does not take pokes")
	}
}

// timer waits for the loop to open a settle window, and returns its timer.
func (f *fakeLoop) timer() chan time.Time {
	f.t.Helper()
	select {
	case c := <-f.timers:
		return c
	case err := <-f.done:
		f.t.Fatalf("loop ended: %v", err)
	case <-time.After(10 * time.Second):
		f.t.Fatal("no settle window opened")
	}
	return nil
}

func (f *fakeLoop) check(step string, rebuilds int, published ...int) {
	f.t.Helper()
	f.mu.Lock()
	got := append([]int(nil), f.published...)
	f.mu.Unlock()
	if r := int(f.rebuilds.Load()); r != rebuilds || !slices.Equal(got, published) {
		f.t.Errorf("%s: %d rebuilds, published %v; want %d, %v", step, r, got, rebuilds, published)
	}
}

func TestDebounceLeadingEdge(t *testing.T) {
	f := startFakeLoop(t, 1)
	f.state.Store(2)
	f.poke()
	// Published at once, before the window's timer exists.
	tm := f.timer()
	f.check("leading edge", 1, 2)
	tm <- time.Time{}
	// The window passed without pokes: quiet again, no rebuild.
	f.state.Store(3)
	f.poke()
	tm = f.timer()
	f.check("second change after quiet", 2, 2, 3)
	tm <- time.Time{}
}

func TestDebounceStorm(t *testing.T) {
	f := startFakeLoop(t, 1)
	f.state.Store(2)
	f.poke()
	tm := f.timer()
	// 100 changes inside the window: one rebuild at its end, which opens
	// another window; 50 more changes there; then a quiet window.
	for i := 3; i <= 102; i++ {
		f.state.Store(int64(i))
		f.poke()
	}
	f.check("during the first window", 1, 2)
	tm <- time.Time{}
	tm = f.timer()
	f.check("end of the first window", 2, 2, 102)
	for i := 103; i <= 152; i++ {
		f.state.Store(int64(i))
		f.poke()
	}
	tm <- time.Time{}
	tm = f.timer()
	f.check("end of the second window", 3, 2, 102, 152)
	tm <- time.Time{}
	// Pokes that change nothing: rebuilt, not published, window opened.
	f.poke()
	tm = f.timer()
	f.check("no change", 4, 2, 102, 152)
	f.poke()
	tm <- time.Time{}
	f.timer() <- time.Time{}
	f.check("no change, coalesced", 5, 2, 102, 152)
}

func TestDebounceFailures(t *testing.T) {
	f := startFakeLoop(t, 1)
	f.fail.Store(true)
	f.poke()
	// A failed rebuild is retried at the end of each window, without a
	// poke, until maxRebuildFailures.
	for i := 1; i < maxRebuildFailures; i++ {
		f.timer() <- time.Time{}
	}
	select {
	case err := <-f.done:
		if err == nil {
			t.Fatal("loop ended without an error")
		}
		f.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not give up")
	}
	f.check("gave up", maxRebuildFailures)
}

func TestDebounceRecovers(t *testing.T) {
	f := startFakeLoop(t, 1)
	f.fail.Store(true)
	f.poke() // rebuild 1 fails
	tm := f.timer()
	f.fail.Store(false)
	f.state.Store(7)
	tm <- time.Time{} // rebuild 2, the retry, succeeds and publishes
	f.timer() <- time.Time{}
	f.check("recovered", 2, 7)
	// The failure count was reset: maxRebuildFailures-1 failures in a row
	// are tolerated again.
	f.fail.Store(true)
	f.poke()
	for i := 1; i < maxRebuildFailures-1; i++ {
		f.timer() <- time.Time{}
	}
	tm = f.timer()
	f.fail.Store(false)
	f.state.Store(8)
	tm <- time.Time{}
	f.timer() <- time.Time{}
	f.check("recovered again", 2+maxRebuildFailures, 7, 8)
}

func TestDebounceCancel(t *testing.T) {
	for _, inWindow := range []bool{false, true} {
		f := startFakeLoop(t, 1)
		if inWindow {
			f.poke()
			f.timer()
		}
		f.cancel()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("inWindow=%v: run = %v, want nil", inWindow, err)
			}
			f.done <- nil
		case <-time.After(10 * time.Second):
			t.Fatalf("inWindow=%v: run did not return after cancel", inWindow)
		}
	}
}

// TestDebounceRealClock runs the loop with real timers and the real
// mailbox: a burst of pokes yields few Deltas and ends at the last state.
// It asserts counts, not durations.
func TestDebounceRealClock(t *testing.T) {
	pokes := make(chan struct{}, 1)
	var state, rebuilds atomic.Int64
	box := mailbox{ch: make(chan Delta, 1)}
	box.publish(snapN(0))
	<-box.ch
	d := debounce{
		pokes:  pokes,
		settle: 20 * time.Millisecond,
		after:  time.After,
		rebuild: func() (Snapshot, error) {
			rebuilds.Add(1)
			return snapN(int(state.Load())), nil
		},
		publish: box.publish,
		logf:    t.Logf,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, snapN(0)) }()
	const n = 1000
	for i := 1; i <= n; i++ {
		state.Store(int64(i))
		select {
		case pokes <- struct{}{}:
		default:
		}
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.After(10 * time.Second)
	var got Delta
	for idx(got.New) != n {
		select {
		case got = <-box.ch:
		case <-deadline:
			t.Fatalf("last delta %d→%d, never reached %d", idx(got.Old), idx(got.New), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := rebuilds.Load(); r > n/10 {
		t.Errorf("%d rebuilds for %d pokes", r, n)
	}
	t.Logf("%d pokes, %d rebuilds", n, rebuilds.Load())
}
