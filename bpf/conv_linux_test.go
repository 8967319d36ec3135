//go:build linux

package bpf

import "testing"

// BenchmarkConvert is the user-space work per subflow of a reading of the
// map (EachMetrics), besides the kernel's.
func BenchmarkConvert(b *testing.B) {
	k := probeKey{Token: 1, Family: 2, Lport: 40000, Rport: 5201,
		Laddr: [16]uint8{10: 0xff, 11: 0xff, 12: 10, 15: 2}, Raddr: [16]uint8{10: 0xff, 11: 0xff, 12: 10, 13: 0, 14: 3, 15: 2}}
	v := probeMetrics{RttSamples: 10, BytesAcked: 1000, LastUpdateNs: 12345, SrttUs: 100, State: 1}
	var sink uint32
	b.ReportAllocs()
	for b.Loop() {
		key := convKey(k)
		m := convMetrics(v, 0)
		sink += key.Token + m.RTOs
	}
	_ = sink
}

var kept *Metrics

// A reading allocates nothing per subflow, even when fn keeps the pointer
// it is given (which makes the Metrics escape).
func TestEmitAllocations(t *testing.T) {
	p := &probes{}
	keys, vals := make([]probeKey, 1000), make([]probeMetrics, 1000)
	n := 0
	fn := func(k Key, m *Metrics) { kept = m; n++ }
	allocs := testing.AllocsPerRun(10, func() {
		var m Metrics
		p.emit(keys, vals, &m, fn)
	})
	if allocs > 1 || n != 11000 {
		t.Errorf("a batch of 1000: %.0f allocations, %d calls", allocs, n)
	}
}
