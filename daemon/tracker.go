package daemon

import (
	"net/netip"
	"time"
)

// progressTracker follows each subflow between samples: how many RTOs
// in a row it took (from cumulative counters: new ACKs or an RTT sample
// mean progress), and for how long it has had data outstanding with no
// ACK progress (a stall, seen before the first RTO).
//
// It also follows what each subflow receives: how long since a segment
// with payload last arrived (Silent), for the engine's receive-side
// judgement.
//
// It also says whether a sample is news: what the engine judges (SRTT,
// RTOs in a row, stall, segments sent and retransmitted; segments
// received, at most every rxNews; a silence from silentNews on) changed
// since the subflow's last sample. An idle subflow's samples are not, and
// the loop does not step the engine for them: an idle subflow costs the
// loop nothing.
//
// Subflows are found by token and ports first (a uint64, cheap to hash
// and compare for every subflow every round; see docs/scale.md), by their
// addresses when two share those.
type progressTracker struct {
	last  map[uint64]*progress
	clash map[[2]netip.AddrPort]*progress // subflows whose uint64 another has
	gen   uint64                          // of the batch being taken in
	gone  [][2]netip.AddrPort
	peak  int // the most subflows since last was made
	// active is set when a subflow of the batch showed activity: see
	// quietInterval.
	active bool
}

// A subflow's samples are news even when nothing changed for its first
// youngSamples samples and every refresh: the engine may not have known
// the subflow when it was told (its SF_ESTABLISHED not handled yet), and
// must hear of it all the same.
const (
	youngSamples = 4
	refresh      = 10 * time.Second
)

// What a subflow receives is news at most every rxNews while it keeps
// receiving (a download's counters change at every reading), and at every
// reading while it has been silent for silentNews to silentNewsMax after
// receiving: the engine's thresholds start at 70 ms, and a silence it has
// not acted on within seconds is a pause, not news.
const (
	rxNews        = 100 * time.Millisecond
	silentNews    = 50 * time.Millisecond
	silentNewsMax = 5 * time.Second
)

func shortKey(s *sample) uint64 {
	return uint64(s.Token)<<32 | uint64(s.Local.Port())<<16 | uint64(s.Remote.Port())
}

// One is kept per subflow (20,000 at 10,000 connections): its fields are
// no wider than they need.
type progress struct {
	key               [2]netip.AddrPort
	rttSamples, acked uint64
	segsAtProgress    uint64
	outstandingSince  int64 // Unix ns; 0: nothing sent since the last progress
	gen               uint64
	rtos              uint32
	consecutive       int32
	samples           int32 // taken so far, up to youngSamples
	// What the engine was last told, and when (Unix ns).
	toldRTOs         int32
	srtt             time.Duration
	segsOut, retrans uint64
	toldAt           int64
	// Receiving: the segment count, when it last grew and when the engine
	// was last told of it (Unix ns; 0: never).
	segsIn       uint64
	rxAt, rxTold int64
	silentTold   bool // the engine heard of the current silence
}

// begin starts taking in a new batch of samples.
func (t *progressTracker) begin() { t.gen++; t.active = false }

// keep ends a batch that failed: every subflow is kept.
func (t *progressTracker) keep() {
	for _, p := range t.last {
		p.gen = t.gen
	}
	for _, p := range t.clash {
		p.gen = t.gen
	}
}

// end forgets the subflows the batch did not measure (gone) and returns
// them; the slice is reused by the next end.
func (t *progressTracker) end() [][2]netip.AddrPort {
	defer t.shrink()
	t.gone = t.gone[:0]
	for k, p := range t.last {
		if p.gen != t.gen {
			delete(t.last, k)
			t.gone = append(t.gone, p.key)
		}
	}
	for k, p := range t.clash {
		if p.gen != t.gen {
			delete(t.clash, k)
			t.gone = append(t.gone, p.key)
		}
	}
	return t.gone
}

// shrink makes last anew when it holds less than a quarter of its peak: a
// Go map keeps the memory of its largest size.
func (t *progressTracker) shrink() {
	t.peak = max(t.peak, len(t.last))
	if t.peak < 1024 || len(t.last) > t.peak/4 {
		return
	}
	n := make(map[uint64]*progress, len(t.last))
	for k, p := range t.last {
		n[k] = p
	}
	t.last, t.peak = n, len(n)
}

// find returns the subflow's record, nil if it has none.
func (t *progressTracker) find(s *sample) *progress {
	if p := t.last[shortKey(s)]; p != nil && p.key[0].Addr() == s.Local.Addr() && p.key[1].Addr() == s.Remote.Addr() {
		// The ports are in the short key; the addresses compared field
		// by field, cheaper than the generic comparison of the array.
		return p
	}
	if t.clash == nil {
		return nil
	}
	return t.clash[[2]netip.AddrPort{s.Local, s.Remote}]
}

// add makes a record for a subflow that has none.
func (t *progressTracker) add(s *sample, p *progress) {
	p.key = [2]netip.AddrPort{s.Local, s.Remote}
	sk := shortKey(s)
	if _, taken := t.last[sk]; !taken {
		t.last[sk] = p
		return
	}
	if t.clash == nil {
		t.clash = map[[2]netip.AddrPort]*progress{}
	}
	t.clash[p.key] = p
}

// update takes in a sample taken at now and returns the RTOs in a row, how
// long the subflow has been stalled, how long it has been silent, and
// whether that is news.
func (t *progressTracker) update(s sample, now time.Time) (int, time.Duration, time.Duration, bool) {
	if t.last == nil {
		t.last = map[uint64]*progress{}
	}
	p := t.find(&s)
	if p == nil {
		rtos := max(s.ConsecutiveRTOs, 0)
		np := &progress{rtos: s.RTOs, rttSamples: s.RTTSamples, acked: s.BytesAcked, segsAtProgress: s.SegsOut,
			gen: t.gen, srtt: s.SRTT, segsOut: s.SegsOut, retrans: s.Retrans, toldRTOs: int32(rtos), toldAt: now.UnixNano(), samples: 1,
			segsIn: s.DataSegsIn}
		if s.DataSegsIn > 0 {
			np.rxAt, np.rxTold = now.UnixNano(), now.UnixNano()
		}
		t.add(&s, np)
		t.active = true
		return rtos, 0, 0, true
	}
	p.gen = t.gen
	advanced := s.BytesAcked > p.acked || s.RTTSamples > p.rttSamples
	// Activity (see quietInterval): the RTO and receive counters before
	// this sample overwrites them.
	active := advanced || s.RTOs != p.rtos || s.ConsecutiveRTOs > 0 || s.DataSegsIn != p.segsIn
	switch {
	case s.RTOs > p.rtos:
		p.consecutive += int32(s.RTOs - p.rtos)
	case advanced:
		p.consecutive = 0
	}
	nowNs := now.UnixNano()
	if advanced {
		p.segsAtProgress, p.outstandingSince = s.SegsOut, 0
	} else if s.SegsOut > p.segsAtProgress && p.outstandingSince == 0 {
		p.outstandingSince = nowNs
	}
	p.rtos, p.rttSamples, p.acked = s.RTOs, s.RTTSamples, s.BytesAcked
	rtos := int(p.consecutive)
	if s.ConsecutiveRTOs >= 0 {
		rtos = s.ConsecutiveRTOs
	}
	var stalled time.Duration
	if p.outstandingSince != 0 {
		stalled = time.Duration(nowNs - p.outstandingSince)
	}
	young := p.samples < youngSamples
	if young {
		p.samples++
	}
	silent, rxNews := p.receive(s.DataSegsIn, nowNs)
	if active || young || p.outstandingSince != 0 {
		t.active = true
	}
	if p.outstandingSince != 0 {
		// Data of ours outstanding: the send side's signals (a stall,
		// RTOs) judge the path, exactly; silence would also take a
		// path whose RTT jumped for a dead one.
		silent, rxNews = 0, false
	}
	news := young || stalled > 0 || rxNews || int32(rtos) != p.toldRTOs || s.SRTT != p.srtt || s.SegsOut != p.segsOut || s.Retrans != p.retrans ||
		nowNs-p.toldAt >= int64(refresh)
	if news {
		p.toldRTOs, p.srtt, p.segsOut, p.retrans, p.toldAt = int32(rtos), s.SRTT, s.SegsOut, s.Retrans, nowNs
		if s.DataSegsIn != 0 {
			p.rxTold = nowNs
		}
	}
	return rtos, stalled, silent, news
}

// receive takes in the segment count of a sample at nowNs and returns how
// long the subflow has been silent and whether that is news.
func (p *progress) receive(segsIn uint64, nowNs int64) (time.Duration, bool) {
	if segsIn != p.segsIn {
		p.segsIn, p.rxAt = segsIn, nowNs
		resumed := p.silentTold
		p.silentTold = false
		return 0, resumed || nowNs-p.rxTold >= int64(rxNews)
	}
	if p.rxAt == 0 {
		return 0, false
	}
	silent := time.Duration(nowNs - p.rxAt)
	if silent < silentNews || silent > silentNewsMax {
		return silent, false
	}
	p.silentTold = true
	return silent, true
}
