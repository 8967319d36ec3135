package neighbours

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Interval is how often Watch scans: a neighbour that starts later is
// found within it.
const Interval = 30 * time.Second

// Watch calls scan every interval until ctx ends, and changed with the
// previous and the new list whenever the list differs from the last one
// (first: what the caller's own first scan found). It runs on the caller's
// goroutine; a failed scan is skipped.
func Watch(ctx context.Context, interval time.Duration, first []Neighbour, scan func() ([]Neighbour, error), changed func(old, cur []Neighbour)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := first
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := scan()
		if err != nil || slices.Equal(cur, last) {
			continue
		}
		changed(last, cur)
		last = cur
	}
}

// Log logs, for a daemon in role, each neighbour of cur not in old at warn
// and each of old gone from cur at info.
func Log(log *slog.Logger, role string, old, cur []Neighbour) {
	for _, n := range cur {
		if !slices.Contains(old, n) {
			log.Warn("another MPTCP manager in this namespace", "neighbour", n.String(), "why", n.Note(role))
		}
	}
	for _, n := range old {
		if !slices.Contains(cur, n) {
			log.Info("MPTCP manager gone from this namespace", "neighbour", n.String())
		}
	}
}
