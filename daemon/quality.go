package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// Quality sources: what the daemon measures subflows with.
const (
	QualityAuto     = "auto"     // eBPF probes, else sock_diag
	QualityBPF      = "bpf"      // eBPF probes only
	QualitySockdiag = "sockdiag" // sock_diag polling only
	QualityOff      = "off"      // no measurements: interface events only
)

// How often subflows are sampled: the eBPF map costs about 0.3 µs per
// subflow to read, a sock_diag dump a few milliseconds. An RTO reported by
// the eBPF probes is sampled at once. With many subflows the interval
// grows with their number (perSubflow each), so that reading them costs
// at most a few percent of a CPU: 25 ms up to 5,000 subflows, 100 ms at
// 20,000 (10,000 connections with two subflows each).
const (
	bpfInterval    = 25 * time.Millisecond
	bpfPerSubflow  = 5 * time.Microsecond
	diagInterval   = 100 * time.Millisecond
	diagPerSubflow = 10 * time.Microsecond
)

// While every subflow is quiet, subflows are read every quietInterval
// (or the source's interval if longer): idle connections, however few,
// wake the eBPF source 40 times a second at bpfInterval, 10 at
// quietInterval (sock_diag's interval is that already). A subflow is
// quiet when it is no longer young, its counters of RTOs, progress and
// segments received did not move since the last reading, and it has no
// data outstanding; every subflow must have been so for quietAfter. That
// covers the receive side: a silence is news from silentNews up to
// silentNewsMax after the last segment, and readings stay fast all that
// time. So a connection that sent, received or waited for an ACK in the
// last quietAfter is read as often as before, and so are all the others
// with it. What the quiet costs is the first sign of traffic after
// quietAfter of none on any subflow: it is seen up to quietInterval -
// bpfInterval later, and so is a stall that begins with it (still before
// the first RTO, at 200 ms at the least, which the eBPF source reports at
// once, awake or quiet).
const (
	quietInterval = 100 * time.Millisecond
	quietAfter    = silentNewsMax
)

// pace is the time to the next reading: the source's interval, or
// quietInterval when no subflow has shown activity for quietAfter.
func pace(interval, quiet time.Duration) time.Duration {
	if quiet < quietAfter {
		return interval
	}
	return max(interval, quietInterval)
}

// sample is one measurement of one subflow, from either source.
type sample struct {
	Token         uint32
	Local, Remote netip.AddrPort
	SRTT          time.Duration
	// ConsecutiveRTOs is set by sources that know it (sock_diag's
	// tcpi_retransmits); the eBPF source gives counters instead.
	ConsecutiveRTOs int
	RTOs            uint32 // retransmission timeouts so far (eBPF)
	RTTSamples      uint64 // RTT samples so far (eBPF)
	SegsOut         uint64
	Retrans         uint64
	BytesAcked      uint64        // progress: it grows with every new ACK
	DataSegsIn      uint64        // segments with payload received (out of order too)
	RcvRTT          time.Duration // the receiver's RTT estimate
	Hole            bool          // segments wait beyond a hole (eBPF only)

	// Set by the sampler's progressTracker.
	InRow   int           // RTOs in a row
	Stalled time.Duration // data outstanding with no ACK progress for so long
	// Silent is how long since the subflow last received a segment with
	// payload; 0 when it just did, never has, or has data of ours
	// outstanding.
	Silent time.Duration
}

// batch is what the sampler hands the loop: the samples that are news,
// and the subflows no longer measured.
type batch struct {
	news []sample
	gone [][2]netip.AddrPort
}

// qualitySource measures the subflows of the daemon's namespace.
type qualitySource interface {
	name() string
	// interval is how long to wait between two readings, given how many
	// subflows the last one found.
	interval(subflows int) time.Duration
	// each calls fn with the current measurement of every established
	// MPTCP subflow (fn must not keep the pointer) and returns how many.
	// Only the sampler calls it.
	each(fn func(*sample)) (int, error)
	// urgent wakes the sampler at once (an RTO); nil if the source has no
	// such events.
	urgent() <-chan struct{}
	close() error
}

// openQuality opens the source the options ask for.
func openQuality(mode string, netnsFD int, log *slog.Logger) (qualitySource, error) {
	switch mode {
	case QualityOff:
		return nil, nil
	case QualitySockdiag:
		return newDiagSource(netnsFD)
	case QualityBPF, QualityAuto, "":
		src, err := newBPFSource(netnsFD)
		if err == nil {
			return src, nil
		}
		if mode == QualityBPF {
			return nil, err
		}
		log.Warn("eBPF probes unavailable: measuring subflows with sock_diag polling instead", "err", err,
			"interval", diagInterval)
		return newDiagSource(netnsFD)
	}
	return nil, fmt.Errorf("unknown quality source %q (want %s, %s, %s or %s)", mode, QualityAuto, QualityBPF, QualitySockdiag, QualityOff)
}

// bpfSource reads the sockops probes' map; RTO events wake it.
type bpfSource struct {
	p    *bpf.Probes
	wake chan struct{}
}

func newBPFSource(netnsFD int) (*bpfSource, error) {
	p, err := bpf.Load(bpf.Config{NetNS: netnsFD})
	if err != nil {
		return nil, err
	}
	s := &bpfSource{p: p, wake: make(chan struct{}, 1)}
	go func() {
		for ev := range p.Events() {
			if ev.Kind == bpf.EventRTO {
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	return s, nil
}

func (s *bpfSource) name() string { return "ebpf" }
func (s *bpfSource) interval(n int) time.Duration {
	return max(bpfInterval, time.Duration(n)*bpfPerSubflow)
}
func (s *bpfSource) urgent() <-chan struct{} { return s.wake }
func (s *bpfSource) close() error            { return s.p.Close() }

func (s *bpfSource) each(fn func(*sample)) (int, error) {
	n := 0
	var smp sample
	err := s.p.EachMetrics(func(k bpf.Key, v *bpf.Metrics) {
		if v.State != tcpEstablished {
			return
		}
		n++
		smp = sample{Token: k.Token, Local: k.Local, Remote: k.Remote, SRTT: v.SRTT, ConsecutiveRTOs: -1,
			RTOs: v.RTOs, RTTSamples: v.RTTSamples, SegsOut: uint64(v.SegsOut), Retrans: uint64(v.TotalRetrans),
			BytesAcked: v.BytesAcked, DataSegsIn: uint64(v.DataSegsIn), RcvRTT: v.RcvRTT, Hole: v.Hole}
		fn(&smp)
	})
	return n, err
}

// diagSource polls sock_diag: TCP_INFO of every subflow.
type diagSource struct{ c *sockdiag.Client }

func newDiagSource(netnsFD int) (*diagSource, error) {
	c, err := sockdiag.New(&sockdiag.Config{NetNS: netnsFD})
	if err != nil {
		return nil, err
	}
	return &diagSource{c: c}, nil
}

func (s *diagSource) name() string { return "sockdiag" }
func (s *diagSource) interval(n int) time.Duration {
	return max(diagInterval, time.Duration(n)*diagPerSubflow)
}
func (s *diagSource) urgent() <-chan struct{} { return nil }
func (s *diagSource) close() error            { return s.c.Close() }

func (s *diagSource) each(fn func(*sample)) (int, error) {
	conns, err := s.c.Connections()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range conns {
		for _, sf := range c.Subflows {
			if sf.State != tcpEstablished {
				continue
			}
			n++
			fn(&sample{Token: c.Token, Local: sf.Local, Remote: sf.Remote, SRTT: sf.RTT,
				ConsecutiveRTOs: int(sf.Retransmits), SegsOut: uint64(sf.DataSegsOut), Retrans: uint64(sf.TotalRetrans),
				BytesAcked: sf.BytesAcked, DataSegsIn: uint64(sf.DataSegsIn), RcvRTT: sf.RcvRTT})
		}
	}
	return n, nil
}

// sampler collects measurements at the source's interval (and at once
// when the source says so), follows each subflow's progress, and hands the
// loop the samples that are news. Work that grows with the number of
// subflows stays out of the loop: an idle subflow costs it nothing. The
// loop gives each batch back on free once it has used it.
//
// The loop names on skip the connections it has no use for measurements
// of (server side: it opens no subflows there); their subflows are not
// followed, until the connection is gone.
//
// The loop says on measure whether it has any use for measurements at
// all (Daemon.wantsSamples). Until it says true, and from when it says
// false, the sampler sleeps: no timer, no reading, and it forgets every
// subflow (a daemon with no connection to measure does not wake up, on
// a laptop or a phone). The loop says true again for every new
// connection to measure: the sampler then reads at the source's interval
// (quietInterval), at once if it was asleep or quiet, so that a new
// connection's first samples come as soon as they would have had the
// sampler been reading at full pace.
func sampler(ctx context.Context, src qualitySource, out chan<- batch, free chan batch, skip <-chan []uint32, measure <-chan bool, log *slog.Logger) {
	t := time.NewTimer(src.interval(0))
	t.Stop()
	defer t.Stop()
	var (
		tracker progressTracker
		pending batch // news not handed over yet
		now     time.Time
		// skipped are the connections not followed, with the round
		// that last saw them.
		skipped = map[uint32]uint64{}
		awake   bool
		// lastActive is the last reading in which a subflow showed
		// activity (see quietInterval).
		lastActive time.Time
		slow       bool // the timer is set at the quiet pace
	)
	take := func(s *sample) {
		if _, ok := skipped[s.Token]; ok {
			skipped[s.Token] = tracker.gen
			return
		}
		var news bool
		s.InRow, s.Stalled, s.Silent, news = tracker.update(*s, now)
		if news {
			// A later sample of a subflow may follow one not handed
			// over yet: the loop takes both, in order.
			pending.news = append(pending.news, *s)
		}
	}
	for {
		if !awake {
			// What was followed is handed over as gone; then nothing
			// until the loop has something to measure.
			var send chan<- batch
			if len(pending.news) > 0 || len(pending.gone) > 0 {
				send = out
			}
			select {
			case <-ctx.Done():
				return
			case send <- pending:
				pending = batch{}
				continue
			case awake = <-measure:
				if !awake {
					continue
				}
				lastActive = time.Now()
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-src.urgent():
			case awake = <-measure:
				if !awake {
					t.Stop()
					tracker.begin()
					pending.gone = append(pending.gone, tracker.end()...)
					clear(skipped)
					continue
				}
				// A new connection: read at the source's interval
				// from now on, and at once if the pace was quiet.
				lastActive = time.Now()
				if !slow {
					continue
				}
			}
		}
		if pending.news == nil && pending.gone == nil {
			select {
			case pending = <-free:
				pending.news, pending.gone = pending.news[:0], pending.gone[:0]
			default:
			}
		}
		if len(pending.news) > 2*len(tracker.last)+1024 {
			// The loop has not taken news for several rounds: drop the
			// oldest (what did not change since is news again within
			// refresh).
			pending.news = pending.news[:0]
		}
		for more := true; more; {
			select {
			case toks := <-skip:
				for _, tok := range toks {
					skipped[tok] = tracker.gen + 1
				}
			default:
				more = false
			}
		}
		now = time.Now()
		tracker.begin()
		n, err := src.each(take)
		if tracker.active {
			lastActive = now
		}
		interval := src.interval(n)
		next := pace(interval, now.Sub(lastActive))
		slow = next > interval
		t.Reset(next)
		if err != nil {
			// What was not measured is not gone.
			log.Warn("measuring subflows failed", "source", src.name(), "err", err)
			tracker.keep()
			continue
		}
		for tok, gen := range skipped {
			if gen != tracker.gen {
				delete(skipped, tok) // gone
			}
		}
		pending.gone = append(pending.gone, tracker.end()...)
		if len(pending.news) == 0 && len(pending.gone) == 0 {
			continue
		}
		select {
		case out <- pending:
			pending = batch{}
		case <-ctx.Done():
			return
		default:
			// The loop has not taken the last batch: this one waits for
			// the next round, with what that one adds (a subflow may
			// then appear twice, in order).
		}
	}
}

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
// since the subflow's last sample. An idle subflow's samples are not, and the loop
// does not step the engine for them: at ten thousand connections, most of
// them idle, that is most of the work.
//
// Subflows are found by token and ports first (a uint64: hashing and
// comparing two netip.AddrPorts for every subflow every round was most of
// the sampler's time), by their addresses when two share those.
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
		// by field (the generic comparison of the array was a sixth of
		// the sampler's time at 10,000 connections).
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

// measured turns the news of a batch into Quality events for the
// client-side connections the engine manages.
func (d *Daemon) measured(b batch) {
	at := time.Now()
	var skip []uint32
	for i := range b.news {
		if i%128 == 127 && d.fatal == nil {
			// A long batch (many young subflows) does not hold up
			// kernel events. An error ends the daemon at the loop's
			// next turn.
			d.fatal = d.kernelFirst(1)
		}
		s := &b.news[i]
		r := d.step(engine.Quality{EventBase: engine.EventBase{At: at}, Token: s.Token, Local: s.Local, Remote: s.Remote,
			SRTT: s.SRTT, RTOs: s.InRow, Stalled: s.Stalled, SegsOut: s.SegsOut, Retrans: s.Retrans,
			SegsIn: s.DataSegsIn, Silent: s.Silent, RcvRTT: s.RcvRTT, Hole: s.Hole})
		switch {
		case r.Unknown:
		case r.ServerSide:
			// The engine takes no measurements of those: the sampler
			// stops watching them.
			if !slices.Contains(skip, s.Token) {
				skip = append(skip, s.Token)
			}
		default:
			if l, ok := d.state.Interfaces().ByAddr(s.Local.Addr()); ok {
				d.metrics.sample([2]netip.AddrPort{s.Local, s.Remote}, l.Name, s.SRTT, s.SegsOut, s.Retrans)
			}
		}
	}
	d.metrics.forget(b.gone)
	if skip != nil {
		select {
		case d.skipc <- skip:
		default: // the next news of them asks again
		}
	}
}

// wantsSamples reports whether the loop has a use for measurements of
// c's subflows: c is a client-side connection whose mode acts on them,
// or any client-side one when the metrics record every subflow's RTT.
func (d *Daemon) wantsSamples(c engine.ConnView) bool {
	return !c.ServerSide && c.Policy != nil && (c.Policy.Mode.Measured() || d.metrics != nil)
}

// stepEngine runs ev through the engine, and tells the sampler when a
// connection comes to want samples, and when none does any more. Only the
// events that add or remove a connection or change its policy change
// that set, and the connections the engine forgets leave it.
func (d *Daemon) stepEngine(ev engine.Event) engine.Result {
	var tok uint32
	switch ev := ev.(type) {
	case engine.ConnReported:
		tok = ev.Token
	case engine.ConnCreated:
		tok = ev.Token
	case engine.ConnClosed:
		tok = ev.Token
	case engine.PolicyChanged:
		tok = ev.Token
	case engine.PoliciesChanged:
		// A reload: every connection may have another policy.
		r := d.state.Step(ev)
		clear(d.wanting)
		for _, c := range d.state.Conns() {
			d.want(c.Token, d.wantsSamples(c))
		}
		if len(d.wanting) == 0 {
			d.tellSampler(false)
		}
		return r
	default:
		r := d.state.Step(ev)
		for _, tok := range r.Forgotten {
			d.want(tok, false)
		}
		return r
	}
	r := d.state.Step(ev)
	c, ok := d.state.Conn(tok)
	d.want(tok, ok && d.wantsSamples(c))
	for _, tok := range r.Forgotten {
		d.want(tok, false)
	}
	return r
}

// want puts connection tok in the set of those that want samples, or
// takes it out. The sampler hears of every connection that comes in, so
// that its first samples come at full pace, and of the last that leaves.
func (d *Daemon) want(tok uint32, on bool) {
	if d.wanting == nil {
		d.wanting = map[uint32]struct{}{}
	}
	_, had := d.wanting[tok]
	switch {
	case on && !had:
		d.wanting[tok] = struct{}{}
		d.tellSampler(true)
	case !on && had:
		delete(d.wanting, tok)
		if len(d.wanting) == 0 {
			d.tellSampler(false)
		}
	}
}

// tellSampler says whether there is anything to measure; the sampler
// reads only the latest word. Only the loop calls it.
func (d *Daemon) tellSampler(on bool) {
	if d.measurec == nil {
		return
	}
	select {
	case <-d.measurec: // not read yet: replaced
	default:
	}
	d.measurec <- on
}
