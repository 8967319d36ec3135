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
		news        bool
		description string
	}{
		{0, s(10, 1000, 10, 0), 0, 0, true, "first sample"},
		{25 * ms, s(12, 1200, 12, 0), 0, 0, true, "progress"},
		{50 * ms, s(12, 1200, 12, 0), 0, 0, true, "idle: nothing sent, not stalled; news while young"},
		{75 * ms, s(14, 1200, 12, 0), 0, 0, true, "sent, not acked yet: outstanding from now"},
		{100 * ms, s(15, 1200, 12, 0), 0, 25 * ms, true, "still no ACK"},
		{200 * ms, s(15, 1200, 12, 0), 0, 125 * ms, true, "a stall: news while it lasts"},
		{300 * ms, s(16, 1200, 12, 1), 1, 225 * ms, true, "the first RTO"},
		{400 * ms, s(16, 1200, 12, 2), 2, 325 * ms, true, "the second"},
		{500 * ms, s(17, 1400, 13, 2), 0, 0, true, "progress again"},
	} {
		tr.begin()
		rtos, stalled, news := tr.update(st.s, t0.Add(st.at))
		if rtos != st.rtos || stalled != st.stalled || news != st.news {
			t.Errorf("step %d (%s): rtos %d stalled %v news %v; want %d, %v, %v", i, st.description, rtos, stalled, news, st.rtos, st.stalled, st.news)
		}
		if gone := tr.end(); len(gone) != 0 {
			t.Errorf("step %d: %v gone", i, gone)
		}
	}
	// sock_diag-like samples say the RTOs in a row themselves.
	var tr2 progressTracker
	d := sample{Local: local, Remote: remote, ConsecutiveRTOs: 3, SegsOut: 5}
	if rtos, _, _ := tr2.update(d, t0); rtos != 3 {
		t.Errorf("sock_diag sample: rtos %d, want 3", rtos)
	}
	// An SRTT change alone is news; the same sample again is not.
	tr.begin()
	idle := s(17, 1400, 13, 2)
	idle.SRTT = 5 * ms
	if _, _, news := tr.update(idle, t0.Add(600*ms)); !news {
		t.Error("an SRTT change is no news")
	}
	if _, _, news := tr.update(idle, t0.Add(625*ms)); news {
		t.Error("the same sample again is news")
	}
	tr.end()
	// ... until refresh.
	if _, _, news := tr.update(idle, t0.Add(625*ms+refresh)); !news {
		t.Error("no news after refresh")
	}
	tr.end()
	// Two subflows with the same token and ports but other addresses are
	// told apart.
	tr.begin()
	other := idle
	other.Local = netip.MustParseAddrPort("10.0.2.2:40000")
	if _, _, news := tr.update(other, t0.Add(700*ms)); !news {
		t.Error("a second subflow with the same ports is no news")
	}
	if _, _, news := tr.update(idle, t0.Add(700*ms)); news {
		t.Error("the first one's idle sample is news after the second came")
	}
	if gone := tr.end(); len(gone) != 0 || len(tr.last)+len(tr.clash) != 2 {
		t.Errorf("two subflows with the same ports: %v gone, %d+%d kept", gone, len(tr.last), len(tr.clash))
	}
	tr.begin()
	tr.update(idle, t0.Add(725*ms))
	if gone := tr.end(); len(gone) != 1 || gone[0] != [2]netip.AddrPort{other.Local, remote} {
		t.Errorf("the second subflow gone: %v", gone)
	}
	// A batch without the subflow forgets it.
	tr.begin()
	if gone := tr.end(); len(gone) != 1 || gone[0] != [2]netip.AddrPort{local, remote} || len(tr.last) != 0 {
		t.Errorf("end after a batch without the subflow: gone %v, %d kept", gone, len(tr.last))
	}
}
