package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
)

// Thousands of commands for one worker at once (a rebuild after an
// overflow) while nobody reads the results: submit takes them in instead
// of waiting forever, and every command is run once, in order.
func TestExecutorNoDeadlock(t *testing.T) {
	e := &executor{out: make(chan result, 1024)}
	for range workers {
		e.in = append(e.in, make(chan job, 1024))
	}
	var ran atomic.Int64
	var last atomic.Int64
	order := true
	e.do = func(w int, a engine.Action) error {
		if int64(a.ID) != (last.Load()+1)%256 && ran.Load() > 0 {
			order = false
		}
		last.Store(int64(a.ID))
		ran.Add(1)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.run(ctx)
	const n = 10000
	var deferred []result
	done := make(chan struct{})
	go func() {
		for i := range n {
			deferred = append(deferred, e.submit(ctx, job{a: engine.Action{Kind: engine.RemoveAddr, Token: 4, ID: uint8(i % 256)}})...)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("submit blocked: %d of %d run, %d results deferred", ran.Load(), n, len(deferred))
	}
	got := len(deferred)
	for got < n {
		select {
		case <-e.out:
			got++
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d results", got, n)
		}
	}
	if ran.Load() != n || !order {
		t.Fatalf("%d commands run (want %d), in order: %v", ran.Load(), n, order)
	}
}
