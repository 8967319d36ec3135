package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// Quality sources: what the daemon measures subflows with.
const (
	QualityAuto     = "auto"     // eBPF probes, else sock_diag
	QualityBPF      = "bpf"      // eBPF probes only
	QualitySockdiag = "sockdiag" // sock_diag polling only
	QualityOff      = "off"      // no measurements: interface events only
)

// How often subflows are sampled: the eBPF map costs a few microseconds
// to read, a sock_diag dump a few milliseconds. An RTO reported by the
// eBPF probes is sampled at once.
const (
	bpfInterval  = 25 * time.Millisecond
	diagInterval = 100 * time.Millisecond
)

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
	BytesAcked      uint64 // progress: it grows with every new ACK
}

// qualitySource measures the subflows of the daemon's namespace.
type qualitySource interface {
	name() string
	interval() time.Duration
	// collect returns the current measurements of every MPTCP subflow.
	collect() ([]sample, error)
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

func (s *bpfSource) name() string            { return "ebpf" }
func (s *bpfSource) interval() time.Duration { return bpfInterval }
func (s *bpfSource) urgent() <-chan struct{} { return s.wake }
func (s *bpfSource) close() error            { return s.p.Close() }

func (s *bpfSource) collect() ([]sample, error) {
	m, err := s.p.Metrics()
	if err != nil {
		return nil, err
	}
	out := make([]sample, 0, len(m))
	for k, v := range m {
		if v.State != tcpEstablished {
			continue
		}
		out = append(out, sample{Token: k.Token, Local: k.Local, Remote: k.Remote, SRTT: v.SRTT, ConsecutiveRTOs: -1,
			RTOs: v.RTOs, RTTSamples: v.RTTSamples, SegsOut: uint64(v.SegsOut), Retrans: uint64(v.TotalRetrans),
			BytesAcked: v.BytesAcked})
	}
	return out, nil
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

func (s *diagSource) name() string            { return "sockdiag" }
func (s *diagSource) interval() time.Duration { return diagInterval }
func (s *diagSource) urgent() <-chan struct{} { return nil }
func (s *diagSource) close() error            { return s.c.Close() }

func (s *diagSource) collect() ([]sample, error) {
	conns, err := s.c.Connections()
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, c := range conns {
		for _, sf := range c.Subflows {
			if sf.State != tcpEstablished {
				continue
			}
			out = append(out, sample{Token: c.Token, Local: sf.Local, Remote: sf.Remote, SRTT: sf.RTT,
				ConsecutiveRTOs: int(sf.Retransmits), SegsOut: uint64(sf.DataSegsOut), Retrans: uint64(sf.TotalRetrans),
				BytesAcked: sf.BytesAcked})
		}
	}
	return out, nil
}

// sampler collects measurements at the source's interval (and at once
// when the source says so) and hands them to the loop.
func sampler(ctx context.Context, src qualitySource, out chan<- []sample, log *slog.Logger) {
	t := time.NewTicker(src.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-src.urgent():
		}
		ss, err := src.collect()
		if err != nil {
			log.Warn("measuring subflows failed", "source", src.name(), "err", err)
			continue
		}
		select {
		case out <- ss:
		case <-ctx.Done():
			return
		default:
			// The loop has not taken the last batch: skip this one rather
			// than queue stale measurements.
		}
	}
}

// progressTracker follows each subflow between samples: how many RTOs
// in a row it took (from cumulative counters: new ACKs or an RTT sample
// mean progress), and for how long it has had data outstanding with no
// ACK progress (a stall, seen before the first RTO).
type progressTracker struct {
	last map[[2]netip.AddrPort]*progress
}

type progress struct {
	rtos, rttSamples, acked uint64
	consecutive             int
	segsAtProgress          uint64
	outstandingSince        time.Time // zero: nothing sent since the last progress
}

// update takes in a sample taken at now and returns the RTOs in a row and
// how long the subflow has been stalled.
func (t *progressTracker) update(s sample, now time.Time) (int, time.Duration) {
	if t.last == nil {
		t.last = map[[2]netip.AddrPort]*progress{}
	}
	k := [2]netip.AddrPort{s.Local, s.Remote}
	p, seen := t.last[k]
	if !seen {
		t.last[k] = &progress{rtos: uint64(s.RTOs), rttSamples: s.RTTSamples, acked: s.BytesAcked, segsAtProgress: s.SegsOut}
		return max(s.ConsecutiveRTOs, 0), 0
	}
	advanced := s.BytesAcked > p.acked || s.RTTSamples > p.rttSamples
	switch {
	case uint64(s.RTOs) > p.rtos:
		p.consecutive += int(uint64(s.RTOs) - p.rtos)
	case advanced:
		p.consecutive = 0
	}
	if advanced {
		p.segsAtProgress, p.outstandingSince = s.SegsOut, time.Time{}
	} else if s.SegsOut > p.segsAtProgress && p.outstandingSince.IsZero() {
		p.outstandingSince = now
	}
	p.rtos, p.rttSamples, p.acked = uint64(s.RTOs), s.RTTSamples, s.BytesAcked
	rtos := p.consecutive
	if s.ConsecutiveRTOs >= 0 {
		rtos = s.ConsecutiveRTOs
	}
	var stalled time.Duration
	if !p.outstandingSince.IsZero() {
		stalled = now.Sub(p.outstandingSince)
	}
	return rtos, stalled
}

// forget drops subflows no longer measured.
func (t *progressTracker) forget(keep map[[2]netip.AddrPort]bool) {
	for k := range t.last {
		if !keep[k] {
			delete(t.last, k)
		}
	}
}

// measured turns a batch of samples into Quality events for the
// connections the engine manages.
func (d *Daemon) measured(ss []sample) {
	at := time.Now()
	keep := make(map[[2]netip.AddrPort]bool, len(ss))
	for _, s := range ss {
		keep[[2]netip.AddrPort{s.Local, s.Remote}] = true
		c := d.state.Conns[s.Token]
		if c == nil || c.ServerSide {
			continue
		}
		rtos, stalled := d.progress.update(s, at)
		if l, ok := d.state.Ifaces.ByAddr(s.Local.Addr()); ok {
			d.metrics.sample([2]netip.AddrPort{s.Local, s.Remote}, l.Name, s.SRTT, s.SegsOut, s.Retrans)
		}
		d.step(policy.Quality{EventBase: policy.EventBase{At: at}, Token: s.Token, Local: s.Local, Remote: s.Remote,
			SRTT: s.SRTT, RTOs: rtos, Stalled: stalled, SegsOut: s.SegsOut, Retrans: s.Retrans})
	}
	d.progress.forget(keep)
	d.metrics.forget(keep)
}
