package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
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
		rtos, stalled, _, news := tr.update(st.s, t0.Add(st.at))
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
	if rtos, _, _, _ := tr2.update(d, t0); rtos != 3 {
		t.Errorf("sock_diag sample: rtos %d, want 3", rtos)
	}
	// An SRTT change alone is news; the same sample again is not.
	tr.begin()
	idle := s(17, 1400, 13, 2)
	idle.SRTT = 5 * ms
	if _, _, _, news := tr.update(idle, t0.Add(600*ms)); !news {
		t.Error("an SRTT change is no news")
	}
	if _, _, _, news := tr.update(idle, t0.Add(625*ms)); news {
		t.Error("the same sample again is news")
	}
	tr.end()
	// ... until refresh.
	if _, _, _, news := tr.update(idle, t0.Add(625*ms+refresh)); !news {
		t.Error("no news after refresh")
	}
	tr.end()
	// Two subflows with the same token and ports but other addresses are
	// told apart.
	tr.begin()
	other := idle
	other.Local = netip.MustParseAddrPort("10.0.2.2:40000")
	if _, _, _, news := tr.update(other, t0.Add(700*ms)); !news {
		t.Error("a second subflow with the same ports is no news")
	}
	if _, _, _, news := tr.update(idle, t0.Add(700*ms)); news {
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

// A subflow is active (the sampler keeps its full pace) while young, and
// when it sends, receives or has data outstanding; an idle one is not.
func TestTrackerActivity(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := sample{Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), ConsecutiveRTOs: -1,
		SegsOut: 10, BytesAcked: 100, RTTSamples: 5, DataSegsIn: 3}
	var tr progressTracker
	at := t0
	read := func(s sample) bool {
		at = at.Add(25 * time.Millisecond)
		tr.begin()
		tr.update(s, at)
		tr.end()
		return tr.active
	}
	for i := range youngSamples {
		if !read(s) {
			t.Fatalf("young sample %d: not active", i)
		}
	}
	if read(s) {
		t.Fatal("idle: active")
	}
	for _, st := range []struct {
		description string
		change      func(*sample)
	}{
		{"received", func(s *sample) { s.DataSegsIn++ }},
		{"sent and acked", func(s *sample) { s.SegsOut++; s.BytesAcked += 100; s.RTTSamples++ }},
		{"sent, not acked yet", func(s *sample) { s.SegsOut++ }},
		{"still outstanding", func(*sample) {}},
		{"an RTO", func(s *sample) { s.RTOs++ }},
	} {
		st.change(&s)
		if !read(s) {
			t.Errorf("%s: not active", st.description)
		}
	}
	s.BytesAcked += 100
	s.RTTSamples++
	read(s)
	if read(s) {
		t.Error("idle again: active")
	}
	if pace(bpfInterval, quietAfter-time.Millisecond) != bpfInterval || pace(bpfInterval, quietAfter) != quietInterval ||
		pace(time.Second, quietAfter) != time.Second {
		t.Error("pace: not the source's interval until quietAfter, then quietInterval or the source's if longer")
	}
}

// fakeSource serves the samples it is given, one reading per call, every
// millisecond unless every says otherwise.
type fakeSource struct {
	mu      sync.Mutex
	samples []sample
	reads   int
	every   time.Duration
}

func (f *fakeSource) name() string { return "fake" }
func (f *fakeSource) interval(int) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.every == 0 {
		return time.Millisecond
	}
	return f.every
}
func (f *fakeSource) urgent() <-chan struct{} { return nil }
func (f *fakeSource) close() error            { return nil }
func (f *fakeSource) set(ss ...sample)        { f.mu.Lock(); f.samples = ss; f.mu.Unlock() }
func (f *fakeSource) each(fn func(*sample)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	for _, s := range f.samples {
		fn(&s)
	}
	return len(f.samples), nil
}

func (f *fakeSource) readings() int { f.mu.Lock(); defer f.mu.Unlock(); return f.reads }

// The sampler hands the loop news only: a subflow's first samples, then
// its changes; and the subflows gone.
func TestSamplerNews(t *testing.T) {
	a := sample{Token: 1, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), ConsecutiveRTOs: -1, SegsOut: 10}
	b := a
	b.Local = netip.MustParseAddrPort("10.0.2.2:40001")
	src := &fakeSource{}
	src.set(a, b)
	out, free := make(chan batch, 1), make(chan batch, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skip := make(chan []uint32, 1)
	measure := make(chan bool, 1)
	measure <- true
	go sampler(ctx, src, out, free, skip, measure, slog.New(slog.DiscardHandler))

	count := map[netip.AddrPort]int{}
	var gone [][2]netip.AddrPort
	recv := func(d time.Duration) {
		deadline := time.After(d)
		for {
			select {
			case bt := <-out:
				for _, s := range bt.news {
					count[s.Local]++
				}
				gone = append(gone, bt.gone...)
				free <- bt
			case <-deadline:
				return
			}
		}
	}
	recv(200 * time.Millisecond)
	if count[a.Local] != youngSamples || count[b.Local] != youngSamples || len(gone) != 0 {
		t.Fatalf("idle subflows: %v news, %v gone; want %d each, none gone", count, gone, youngSamples)
	}
	// a sends and its data is acked: news once; b goes.
	a.SegsOut, a.BytesAcked = 20, 1000
	src.set(a)
	recv(200 * time.Millisecond)
	if count[a.Local] != youngSamples+1 || count[b.Local] != youngSamples || len(gone) != 1 || gone[0][0] != b.Local {
		t.Fatalf("after a sent and b went: %v news, %v gone", count, gone)
	}
	// The loop has no use for a's connection: a is no longer followed
	// (gone for the tracker), and sending brings no news.
	skip <- []uint32{a.Token}
	recv(200 * time.Millisecond)
	a.SegsOut, a.BytesAcked = 30, 2000
	src.set(a)
	recv(200 * time.Millisecond)
	if count[a.Local] != youngSamples+1 || len(gone) != 2 || gone[1][0] != a.Local {
		t.Fatalf("after a's connection was skipped: %v news, %v gone", count, gone)
	}
}

// The sampler reads nothing until the loop has something to measure, reads
// at once when it has (not a timer later), and stops reading when it no
// longer has; the subflows it followed are then gone, and young again when
// it wakes.
func TestSamplerSleeps(t *testing.T) {
	a := sample{Token: 1, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), ConsecutiveRTOs: -1, SegsOut: 10}
	src := &fakeSource{every: time.Hour}
	src.set(a)
	out, free := make(chan batch, 1), make(chan batch, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	measure := make(chan bool, 1)
	go sampler(ctx, src, out, free, make(chan []uint32), measure, slog.New(slog.DiscardHandler))

	news, gone := 0, 0
	// next waits up to d for a batch.
	next := func(d time.Duration) bool {
		select {
		case bt := <-out:
			news += len(bt.news)
			gone += len(bt.gone)
			select {
			case free <- bt:
			default: // as the loop does
			}
			return true
		case <-time.After(d):
			return false
		}
	}
	if next(100*time.Millisecond) || src.readings() != 0 {
		t.Fatalf("nothing to measure: %d readings, want none", src.readings())
	}
	// Something to measure: a reading at once, not an hour later.
	measure <- true
	if !next(5*time.Second) || news != 1 || src.readings() != 1 {
		t.Fatalf("something to measure: %d readings, %d news; want a reading at once, with the subflow's first sample", src.readings(), news)
	}
	// Nothing to measure: the subflow is handed over as gone.
	measure <- false
	for gone == 0 && next(5*time.Second) {
	}
	if gone != 1 {
		t.Fatalf("asleep: %d gone, want the subflow", gone)
	}
	// At the millisecond from now on: readings follow each other.
	src.mu.Lock()
	src.every = time.Millisecond
	src.mu.Unlock()
	measure <- true
	for news < 1+youngSamples && next(5*time.Second) {
	}
	if news != 1+youngSamples {
		t.Fatalf("awake: %d news, want the subflow's %d young samples again", news-1, youngSamples)
	}
	// Nothing to measure again: the subflow is handed over as gone, and
	// the readings stop.
	measure <- false
	for gone == 1 && next(5*time.Second) {
	}
	if gone != 2 {
		t.Fatalf("asleep again: %d gone, want the subflow", gone-1)
	}
	n := src.readings()
	if next(100*time.Millisecond) || src.readings() != n {
		t.Fatalf("asleep again: %d readings in 100 ms, want none", src.readings()-n)
	}
	// Awake again: the subflow is young again (the engine hears of it).
	measure <- true
	for news < 1+2*youngSamples && next(5*time.Second) {
	}
	if news != 1+2*youngSamples {
		t.Fatalf("awake again: %d news in all, want %d", news, 1+2*youngSamples)
	}
}

// The loop tells the sampler of every connection that comes to want
// samples (client side, a mode that measures) and of the last that no
// longer does; server-side connections and other modes are not counted.
func TestStepEngineTellsSampler(t *testing.T) {
	d := &Daemon{state: engine.NewState(ifmon.Snapshot{}), measurec: make(chan bool, 1)}
	handover := &policy.Policy{Name: "h", Mode: policy.ModeHandover}
	single := &policy.Policy{Name: "s", Mode: policy.ModeSingle}
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:5201")
	at := engine.EventBase{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	created := func(tok uint32, p *policy.Policy, server bool) engine.Event {
		return engine.ConnCreated{EventBase: at, Token: tok, Local: local, Remote: remote, ServerSide: server, Established: true, Policy: p}
	}
	for i, st := range []struct {
		ev   engine.Event
		told string // "" (nothing), "true" or "false"
	}{
		{created(1, single, false), ""},
		{created(2, handover, true), ""},
		{created(3, handover, false), "true"},
		{created(4, handover, false), "true"},
		{engine.ConnClosed{EventBase: at, Token: 3}, ""},
		{engine.PolicyChanged{EventBase: at, Token: 1, Policy: handover}, "true"},
		{engine.PolicyChanged{EventBase: at, Token: 4, Policy: single}, ""},
		{engine.ConnClosed{EventBase: at, Token: 2}, ""},
		{engine.ConnClosed{EventBase: at, Token: 1}, "false"},
		{created(5, single, false), ""},
	} {
		d.stepEngine(st.ev)
		told := ""
		select {
		case on := <-d.measurec:
			told = fmt.Sprint(on)
		default:
		}
		if told != st.told {
			t.Errorf("step %d (%T): told %q, want %q", i, st.ev, told, st.told)
		}
	}
	if len(d.wanting) != 0 {
		t.Errorf("%d connections want samples at the end, want none", len(d.wanting))
	}
}

// BenchmarkTrackerIdle is one sampling round's work per idle subflow in
// the sampler (20,000 subflows: 10,000 connections with two each).
func BenchmarkTrackerIdle(b *testing.B) {
	const n = 20000
	ss := make([]sample, n)
	for i := range ss {
		ss[i] = sample{Token: uint32(i / 2), Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.1.2"), uint16(10000+i)),
			Remote: netip.MustParseAddrPort("10.0.3.2:5201"), ConsecutiveRTOs: -1, SegsOut: 10, BytesAcked: 100}
	}
	var tr progressTracker
	now := time.Now()
	for range youngSamples + 1 {
		tr.begin()
		for i := range ss {
			tr.update(ss[i], now)
		}
		tr.end()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr.begin()
		for i := range ss {
			if _, _, _, news := tr.update(ss[i], now); news {
				b.Fatal("an idle subflow is news")
			}
		}
		tr.end()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/subflow")
}
