package daemon

import (
	"math"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"time"
)

// latencyWindow is how many of the most recent event-to-command
// latencies the daemon keeps for its quantiles.
const latencyWindow = 1 << 16

// latencies keeps the most recent event-to-command latencies: for each
// command a kernel event caused, the time from the event's receipt to the
// kernel's acknowledgement of the command. Only the loop uses it.
type latencies struct {
	ring  []uint32 // nanoseconds, saturated at ~4.3 s; allocated on first use
	count int      // latencies recorded since start
}

func (l *latencies) add(d time.Duration) {
	if l.ring == nil {
		l.ring = make([]uint32, latencyWindow)
	}
	l.ring[l.count%latencyWindow] = uint32(min(max(d, 0), math.MaxUint32))
	l.count++
}

func (l *latencies) summary() LatencyStatus {
	n := min(l.count, latencyWindow)
	s := LatencyStatus{Count: l.count, Window: n}
	if n == 0 {
		return s
	}
	v := slices.Clone(l.ring[:n])
	slices.Sort(v)
	us := func(ns uint32) float64 { return math.Round(float64(ns)/10) / 100 }
	// Nearest rank.
	rank := func(q float64) uint32 { return v[max(int(math.Ceil(q*float64(n)))-1, 0)] }
	s.P50, s.P99, s.Max = us(rank(0.50)), us(rank(0.99)), us(v[n-1])
	return s
}

func runtimeStatus() RuntimeStatus {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	samples := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	rtmetrics.Read(samples)
	st := RuntimeStatus{Goroutines: runtime.NumGoroutine(), HeapInuseBytes: ms.HeapInuse, HeapObjects: ms.HeapObjects}
	if samples[0].Value.Kind() == rtmetrics.KindUint64 {
		st.HeapLiveBytes = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == rtmetrics.KindUint64 {
		st.GCCycles = samples[1].Value.Uint64()
	}
	return st
}
