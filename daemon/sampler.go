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
