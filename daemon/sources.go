package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
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
			log.Info("measuring subflows with eBPF probes", "cgroup", src.p.Cgroup())
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
