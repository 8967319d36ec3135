package daemon

import (
	"testing"
	"time"
)

func TestLatencySummary(t *testing.T) {
	var l latencies
	if got := l.summary(); got != (LatencyStatus{}) {
		t.Fatalf("empty summary = %+v", got)
	}
	// 1..100 µs in a shuffled order: nearest-rank p50 is 50, p99 is 99.
	for i := range 100 {
		l.add(time.Duration((i*37)%100+1) * time.Microsecond)
	}
	want := LatencyStatus{Count: 100, Window: 100, P50: 50, P99: 99, Max: 100}
	if got := l.summary(); got != want {
		t.Fatalf("summary = %+v, want %+v", got, want)
	}
	// The window keeps the most recent ones; negative and huge values
	// saturate.
	for range latencyWindow {
		l.add(2 * time.Microsecond)
	}
	l.add(-time.Second)
	l.add(time.Hour)
	got := l.summary()
	if got.Count != 100+latencyWindow+2 || got.Window != latencyWindow || got.P50 != 2 || got.P99 != 2 || got.Max != 4294967.3 {
		t.Fatalf("summary after the window turned = %+v", got)
	}
}
