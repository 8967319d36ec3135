package daemon

import (
	"testing"
	"time"
)

func TestRateLog(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type line struct {
		key        uint32
		at         time.Duration
		write      bool
		suppressed int
		last       bool
	}
	for _, tc := range []struct {
		name  string
		lines []line
	}{
		{"burst then suppressed, counted on the next interval", []line{
			{1, 0, true, 0, false},
			{1, time.Second, true, 0, false},
			{1, 2 * time.Second, true, 0, true},
			{1, 3 * time.Second, false, 0, false},
			{1, 4 * time.Second, false, 0, false},
			{1, 10 * time.Second, true, 2, false},
		}},
		{"keys apart", []line{
			{1, 0, true, 0, false},
			{1, 0, true, 0, false},
			{1, 0, true, 0, true},
			{2, 0, true, 0, false},
			{1, 0, false, 0, false},
			{2, 0, true, 0, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRateLog[uint32](3, 10*time.Second)
			for i, l := range tc.lines {
				w, s, last := r.allow(l.key, t0.Add(l.at))
				if w != l.write || s != l.suppressed || last != l.last {
					t.Errorf("line %d (key %d at %v): got write %v suppressed %d last %v, want %v %d %v",
						i, l.key, l.at, w, s, last, l.write, l.suppressed, l.last)
				}
			}
		})
	}
}

// TestRateLogFlood: a flood of lines over many keys writes a bounded
// number and keeps a bounded memory.
func TestRateLogFlood(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRateLog[uint32](3, 10*time.Second)
	written := 0
	const n = 100000
	for i := range n {
		// 1000 lines a second, over 10 keys that change every 10 s.
		at := time.Duration(i) * time.Millisecond
		key := uint32(i%10) + 10*uint32(at/(10*time.Second))
		if w, _, _ := r.allow(key, t0.Add(at)); w {
			written++
		}
	}
	// 100 s: ten intervals of ten keys, 3 lines each.
	if written > 10*10*3+10 {
		t.Errorf("%d of %d lines written", written, n)
	}
	if len(r.keys) > 30 { // the keys of the last two intervals, at most
		t.Errorf("%d keys remembered", len(r.keys))
	}
}
