package daemon

import (
	"net/netip"
	"testing"
	"time"
)

func TestProgressTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:5201")
	// eBPF-like samples: cumulative counters, ConsecutiveRTOs unknown (-1).
	s := func(segs, acked uint64, rtts uint64, rtos uint32) sample {
		return sample{Local: local, Remote: remote, ConsecutiveRTOs: -1, SegsOut: segs, BytesAcked: acked, RTTSamples: rtts, RTOs: rtos}
	}
	var tr progressTracker
	for i, st := range []struct {
		at          time.Duration
		s           sample
		rtos        int
		stalled     time.Duration
		description string
	}{
		{0, s(10, 1000, 10, 0), 0, 0, "first sample"},
		{25 * ms, s(12, 1200, 12, 0), 0, 0, "progress"},
		{50 * ms, s(12, 1200, 12, 0), 0, 0, "idle: nothing sent, not stalled"},
		{75 * ms, s(14, 1200, 12, 0), 0, 0, "sent, not acked yet: outstanding from now"},
		{100 * ms, s(15, 1200, 12, 0), 0, 25 * ms, "still no ACK"},
		{200 * ms, s(15, 1200, 12, 0), 0, 125 * ms, "a stall"},
		{300 * ms, s(16, 1200, 12, 1), 1, 225 * ms, "the first RTO"},
		{400 * ms, s(16, 1200, 12, 2), 2, 325 * ms, "the second"},
		{500 * ms, s(17, 1400, 13, 2), 0, 0, "progress again"},
	} {
		rtos, stalled := tr.update(st.s, t0.Add(st.at))
		if rtos != st.rtos || stalled != st.stalled {
			t.Errorf("step %d (%s): rtos %d stalled %v; want %d, %v", i, st.description, rtos, stalled, st.rtos, st.stalled)
		}
	}
	// sock_diag-like samples say the RTOs in a row themselves.
	var tr2 progressTracker
	d := sample{Local: local, Remote: remote, ConsecutiveRTOs: 3, SegsOut: 5}
	if rtos, _ := tr2.update(d, t0); rtos != 3 {
		t.Errorf("sock_diag sample: rtos %d, want 3", rtos)
	}
	tr.forget(map[[2]netip.AddrPort]bool{})
	if len(tr.last) != 0 {
		t.Errorf("forget kept %d subflows", len(tr.last))
	}
}
