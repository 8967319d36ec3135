package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
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
	s := &samplerState{src: src, out: out, free: free, skip: skip, measure: measure, log: log, t: t,
		skipped: map[uint32]uint64{}}
	s.takeFn = s.take // made once, not every round
	for {
		read, done := s.wait(ctx)
		if done {
			return
		}
		if !read {
			continue
		}
		s.fromLoop()
		if !s.read() {
			continue
		}
		if !s.handOver(ctx) {
			return
		}
	}
}

// samplerState is what the sampler keeps from one round to the next.
type samplerState struct {
	src     qualitySource
	out     chan<- batch
	free    chan batch
	skip    <-chan []uint32
	measure <-chan bool
	log     *slog.Logger
	t       *time.Timer
	takeFn  func(*sample) // take

	tracker progressTracker
	pending batch // news not handed over yet
	now     time.Time
	// skipped are the connections not followed, with the round
	// that last saw them.
	skipped map[uint32]uint64
	awake   bool
	// lastActive is the last reading in which a subflow showed
	// activity (see quietInterval).
	lastActive time.Time
	slow       bool // the timer is set at the quiet pace
}

// take takes in one sample of the round being read.
func (s *samplerState) take(smp *sample) {
	if _, ok := s.skipped[smp.Token]; ok {
		s.skipped[smp.Token] = s.tracker.gen
		return
	}
	var news bool
	smp.InRow, smp.Stalled, smp.Silent, news = s.tracker.update(*smp, s.now)
	if news {
		// A later sample of a subflow may follow one not handed
		// over yet: the loop takes both, in order.
		s.pending.news = append(s.pending.news, *smp)
	}
}

// wait waits for a wake-up. It returns read when a round is to be read
// now, done when ctx is done.
func (s *samplerState) wait(ctx context.Context) (read, done bool) {
	if !s.awake {
		return s.waitAsleep(ctx)
	}
	return s.waitAwake(ctx)
}

// waitAsleep is wait while the loop has nothing to measure.
func (s *samplerState) waitAsleep(ctx context.Context) (read, done bool) {
	// What was followed is handed over as gone; then nothing
	// until the loop has something to measure.
	var send chan<- batch
	if len(s.pending.news) > 0 || len(s.pending.gone) > 0 {
		send = s.out
	}
	select {
	case <-ctx.Done():
		return false, true
	case send <- s.pending:
		s.pending = batch{}
		return false, false
	case s.awake = <-s.measure:
		if !s.awake {
			return false, false
		}
		s.lastActive = time.Now()
	}
	return true, false
}

// waitAwake is wait while the loop has something to measure: the timer,
// the source's urgent wake-ups and the loop's word.
func (s *samplerState) waitAwake(ctx context.Context) (read, done bool) {
	select {
	case <-ctx.Done():
		return false, true
	case <-s.t.C:
	case <-s.src.urgent():
	case s.awake = <-s.measure:
		if !s.awake {
			s.sleep()
			return false, false
		}
		// A new connection: read at the source's interval
		// from now on, and at once if the pace was quiet.
		s.lastActive = time.Now()
		return s.slow, false
	}
	return true, false
}

// sleep stops the timer and forgets every subflow followed: they are
// handed over as gone.
func (s *samplerState) sleep() {
	s.t.Stop()
	s.tracker.begin()
	s.pending.gone = append(s.pending.gone, s.tracker.end()...)
	clear(s.skipped)
}

// fromLoop takes what the loop gave back and said: a used batch to fill
// again, and the connections whose subflows are not to be followed.
func (s *samplerState) fromLoop() {
	if s.pending.news == nil && s.pending.gone == nil {
		select {
		case s.pending = <-s.free:
			s.pending.news, s.pending.gone = s.pending.news[:0], s.pending.gone[:0]
		default:
		}
	}
	if len(s.pending.news) > 2*len(s.tracker.last)+1024 {
		// The loop has not taken news for several rounds: drop the
		// oldest (what did not change since is news again within
		// refresh).
		s.pending.news = s.pending.news[:0]
	}
	for more := true; more; {
		select {
		case toks := <-s.skip:
			for _, tok := range toks {
				s.skipped[tok] = s.tracker.gen + 1
			}
		default:
			more = false
		}
	}
}

// read reads a round of measurements and sets the timer for the next. It
// returns whether there is anything to hand over.
func (s *samplerState) read() bool {
	s.now = time.Now()
	s.tracker.begin()
	n, err := s.src.each(s.takeFn)
	if s.tracker.active {
		s.lastActive = s.now
	}
	interval := s.src.interval(n)
	next := pace(interval, s.now.Sub(s.lastActive))
	s.slow = next > interval
	s.t.Reset(next)
	if err != nil {
		// What was not measured is not gone.
		s.log.Warn("measuring subflows failed", "source", s.src.name(), "err", err)
		s.tracker.keep()
		return false
	}
	for tok, gen := range s.skipped {
		if gen != s.tracker.gen {
			delete(s.skipped, tok) // gone
		}
	}
	s.pending.gone = append(s.pending.gone, s.tracker.end()...)
	return len(s.pending.news) > 0 || len(s.pending.gone) > 0
}

// handOver hands the pending batch to the loop if it takes it now. It
// returns false when ctx is done.
func (s *samplerState) handOver(ctx context.Context) bool {
	select {
	case s.out <- s.pending:
		s.pending = batch{}
	case <-ctx.Done():
		return false
	default:
		// The loop has not taken the last batch: this one waits for
		// the next round, with what that one adds (a subflow may
		// then appear twice, in order).
	}
	return true
}
