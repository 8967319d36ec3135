package engine

import (
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Path quality. Measurements of each subflow (from the eBPF probes, or
// sock_diag where eBPF is not available) come in as Quality events. In
// handover and interactive modes a subflow over the policy's thresholds
// (retransmission timeouts in a row, retransmitted share of segments over
// lossWindow, smoothed RTT) makes its path bad for that connection:
//   - handover moves to the best other path; the bad subflow is closed at
//     once when it lost packets or timed out (the kernel reinjects its
//     data), or once the new one is up when it was only slow;
//   - interactive demotes the bad subflow to backup (MP_PRIO), so that the
//     kernel's scheduler sends on the others.
//
// A bad path is probed again after the hold-down: a fresh backup subflow
// is opened on it (a subflow that carries no data measures nothing new,
// but a handshake gives an RTT sample and proves the path passes
// packets). If the probe measures good and stays so for the hold-down,
// the path is good again and traffic moves back; if not, the next probe
// waits twice as long (up to probeMax): a path that keeps failing is
// retried less and less often.

// Quality is one measurement of a subflow.
type Quality struct {
	EventBase
	Token         uint32
	Local, Remote netip.AddrPort
	SRTT          time.Duration // smoothed RTT
	RTOs          int           // retransmission timeouts in a row, with no progress since
	// Stalled is how long the subflow has had data outstanding with no
	// ACK progress (0: none). A blackholed path shows it well before its
	// first RTO.
	Stalled time.Duration
	SegsOut uint64 // data segments sent so far (retransmissions included)
	Retrans uint64 // segments retransmitted so far
	SegsIn  uint64 // segments with payload received so far (out of order too)
	// Silent is how long since the subflow last received a segment with
	// payload (0: it just did, or never has).
	Silent time.Duration
	// RcvRTT is the receiver's RTT estimate (tcpi_rcv_rtt): a host that
	// only receives has no SRTT sample after the handshake.
	RcvRTT time.Duration
	// Hole: segments wait beyond a hole in what the subflow received; the
	// peer has sent more than arrived.
	Hole bool
}

const (
	// lossWindow is how far back the retransmitted share is computed.
	lossWindow = time.Second
	// minLossSegs is the fewest segments in the window that say anything
	// about loss.
	minLossSegs = 20
	probeMax    = time.Minute
	// A subflow stalled for stallSRTTs smoothed RTTs, and at least
	// stallMin, counts as having timed out (when the policy checks RTOs).
	stallSRTTs = 8
	stallMin   = 100 * time.Millisecond
)

// sfQuality is what the engine keeps of one subflow's measurements.
type sfQuality struct {
	srtt    time.Duration
	rtos    int
	stalled time.Duration
	samples []lossSample // within lossWindow, oldest first
	// Receiving (see silence.go): the segment count, when data last
	// arrived (zero: never), and the pause this subflow's peer was seen
	// to take (a suspicion the path answered).
	segsIn uint64
	rxAt   time.Time
	pause  time.Duration
	rcvRTT time.Duration
	// burstFrom is the segment count when the current burst began (after
	// a quiet spell, quiet: silent for silenceMin/2 or more).
	burstFrom uint64
	quiet     bool
}

type lossSample struct {
	at            int64 // Unix ns
	segs, retrans uint64
}

// pathHealth is what one connection knows of one of its paths (links).
type pathHealth struct {
	bad       bool
	reason    string
	probes    int       // probes that measured bad
	nextProbe time.Time // when to open the next probe subflow
	probeAt   time.Time // subflows established after this are probes
	goodSince time.Time // a probe measured good at; zero if none yet
}

// judge says whether q is over p's thresholds, and which.
func judge(p *policy.Policy, q *sfQuality) (bool, string) {
	h := p.Handover
	if h.RTO > 0 && q.rtos >= h.RTO {
		return true, "rto"
	}
	if h.RTO > 0 && q.stalled > 0 && q.stalled >= max(stallSRTTs*q.srtt, stallMin) {
		return true, "stall"
	}
	if h.LossPercent > 0 && len(q.samples) >= 2 {
		first, last := q.samples[0], q.samples[len(q.samples)-1]
		segs, retrans := last.segs-first.segs, last.retrans-first.retrans
		if last.segs >= first.segs && last.retrans >= first.retrans && segs >= minLossSegs &&
			float64(retrans)*100 >= h.LossPercent*float64(segs) {
			return true, "loss"
		}
	}
	if h.RTT > 0 && q.srtt >= h.RTT {
		return true, "rtt"
	}
	return false, ""
}

// timedOut reports whether a path went bad for want of any progress (as
// opposed to being slow or lossy): nothing gets through it.
func timedOut(reason string) bool {
	return reason == "rto" || reason == "stall" || reason == "silent"
}

// usesQuality reports whether a mode acts on measurements.
func usesQuality(m policy.Mode) bool { return m.Measured() }

// quality takes in a measurement; it reports whether the connection's
// wanted subflows may have changed.
func (s *State) quality(c *connState, ev Quality, now time.Time) bool {
	local, remote := unmapAP(ev.Local), unmapAP(ev.Remote)
	i := -1
	for j, sf := range c.Subflows {
		if sf.Local == local && sf.Remote == remote {
			i = j
		}
	}
	if i < 0 || c.Policy == nil || !usesQuality(c.Policy.Mode) {
		return false
	}
	sf := c.Subflows[i]
	k, ok := s.keyOf(sf)
	if !ok {
		return false
	}
	q := c.Subflows[i].q
	if q == nil {
		q = &sfQuality{}
		c.Subflows[i].q = q
	}
	q.srtt, q.rtos, q.stalled = ev.SRTT, ev.RTOs, ev.Stalled
	// A sample with the counters of the last one adds nothing to the
	// loss: the run of equal ones is kept as its first (an idle subflow
	// keeps one).
	if n := len(q.samples); n == 0 || q.samples[n-1].segs != ev.SegsOut || q.samples[n-1].retrans != ev.Retrans {
		q.samples = append(q.samples, lossSample{at: now.UnixNano(), segs: ev.SegsOut, retrans: ev.Retrans})
	}
	cut := 0
	for cut < len(q.samples)-1 && now.UnixNano()-q.samples[cut+1].at >= int64(lossWindow) {
		cut++
	}
	if cut > 0 {
		// Slide down in place: the array is reused.
		q.samples = q.samples[:copy(q.samples, q.samples[cut:])]
	}

	rx := s.receiving(c, i, k, ev, now)
	bad, reason := judge(c.Policy, q)
	h := c.health[k.link]
	hold := c.Policy.Handover.ProbeHold()
	probe := h != nil && h.bad && !h.probeAt.IsZero() && !sf.since.Before(h.probeAt)
	switch {
	case bad && (h == nil || !h.bad):
		c.setBad(k.link, reason, now)
		return true
	case bad && probe:
		// The probe measured bad: try again later, and later each time.
		h.probes++
		h.goodSince = time.Time{}
		h.probeAt = time.Time{}
		h.nextProbe = now.Add(min(hold<<min(h.probes, 10), probeMax))
		return true
	case !bad && probe && h.goodSince.IsZero():
		h.goodSince = now
		return true
	}
	return rx
}

// setBad marks c's path over link bad for reason. A path that was bad
// and recovered less than probeMax ago is probed as if it had never
// recovered (the wait before the next probe keeps doubling): a path that
// lets a handshake through but not the traffic (a receiver's silence
// under heavy loss) is not moved back to every hold-down.
func (c *connState) setBad(link int32, reason string, now time.Time) {
	hold := c.Policy.Handover.ProbeHold()
	h := &pathHealth{bad: true, reason: reason, nextProbe: now.Add(hold)}
	if r, ok := c.recovered[link]; ok && now.Sub(r.at) < probeMax {
		h.probes = r.probes + 1
		h.nextProbe = now.Add(min(hold<<min(h.probes, 10), probeMax))
	}
	delete(c.recovered, link)
	if c.health == nil {
		c.health = map[int32]*pathHealth{}
	}
	c.health[link] = h
}

// recovery is a bad path that recovered: when, and after how many failed
// probes.
type recovery struct {
	at     time.Time
	probes int
}

// refreshHealth forgets bad paths whose probe has been good for the
// hold-down, and returns when it wants to look again.
func (c *connState) refreshHealth(now time.Time) time.Time {
	var wake time.Time
	hold := c.Policy.Handover.ProbeHold()
	for link, h := range c.health {
		if !h.bad {
			delete(c.health, link)
			continue
		}
		if !h.goodSince.IsZero() {
			if !now.Before(h.goodSince.Add(hold)) {
				delete(c.health, link)
				if c.recovered == nil {
					c.recovered = map[int32]recovery{}
				}
				c.recovered[link] = recovery{at: now, probes: h.probes}
				continue
			}
			wake = earliest(wake, h.goodSince.Add(hold))
		}
	}
	return wake
}

// bad reports whether c's path over link is bad, and the health record.
func (c *connState) bad(link int32) (*pathHealth, bool) {
	h := c.health[link]
	return h, h != nil && h.bad
}

// probeDue reports whether a probe subflow should be on a bad path now;
// it marks the probe as started (subflows up from now on are probes).
func (h *pathHealth) probeDue(now time.Time) (bool, time.Time) {
	if now.Before(h.nextProbe) {
		return false, h.nextProbe
	}
	if h.probeAt.IsZero() {
		h.probeAt = h.nextProbe
	}
	return true, time.Time{}
}

// badPaths returns the links this connection found bad, with why (rto,
// loss or rtt).
func (c *connState) badPaths() map[int32]string {
	out := map[int32]string{}
	for link, h := range c.health {
		if h.bad {
			out[link] = h.reason
		}
	}
	return out
}
