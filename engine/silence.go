package engine

import (
	"fmt"
	"net/netip"
	"time"
)

// Receive-side health. A host that only receives (a download, a stream,
// the response to a request) sends pure ACKs, which are never
// retransmitted: none of the send-side signals (RTOs, a stall, the
// retransmitted share) ever fires (while the host has data outstanding on
// a subflow, they do, and silence is not looked at), and in handover mode
// the peer has no other subflow to fall back to. What the receiver does see is silence: a
// subflow that was receiving and stops. A peer that merely paused (the
// response was complete) looks the same, so silence is only a suspicion,
// and the engine asks for proof before it spends cellular data:
//
//   - A witness: a subflow of the connection flagged backup (a warm
//     standby, a demoted path) received data after the silent one went
//     quiet. The peer sends on a backup subflow only when it has no other
//     to send on: it is sending, and not over the silent path, which is
//     broken, at once. (A subflow that is not flagged backup proves
//     nothing: the peer's scheduler may simply prefer it.)
//   - Otherwise a probe on the silent path itself: a fresh subflow (a join,
//     flagged backup) from the same address to the same peer. A path that
//     answers the handshake within proveWindow carries packets, and the
//     silence was the peer's pause; a path that does not is broken. The
//     probe costs a handshake on the suspected path, never on the backup
//     path.
//
// A silence with a hole in what was received (segments wait beyond it) is
// no pause: the peer sent more than arrived and must resend it. Held for
// stallSRTTs RTTs (at least silenceMin), about as long as the send side
// waits before it calls a subflow with data outstanding stalled, it is the
// receive side's stall, and the path is bad at once: no probe (a lossy
// path lets a handshake through now and then, and would be taken for a
// pausing peer).
//
// A path the connection went back to less than probeMax after it was bad
// came back on the strength of a probe's handshake, which a lossy path
// lets through; such a path is on probation: a hole and a silence of
// silenceMin (and silenceSRTTs of the handshake's RTT) make it bad again,
// with no stream first (a lossy path delivers none). A peer's pause
// leaves no hole.
//
// A broken path is handled like one that timed out (reason "silent"): the
// connection moves to the next path, its subflow on the silent path is
// closed and REMOVE_ADDR for it goes out over a working subflow, so that
// the peer closes its side and reinjects at once what it had sent there.
//
// What a pause costs is bounded: a suspicion needs a silence of at least
// silenceMin (and silenceSRTTs smoothed RTTs) after a stream of data (at
// least minBurst segments since the last quiet spell: a short answer, an
// echo, is the send side's to judge, by its request), and each
// suspicion the path answered (a false alarm) doubles the silence that
// subflow needs next, up to silenceMax: an application that pauses
// between bursts costs one probe handshake on its own path per pause until
// the threshold is past its pauses (about log2(pause/silenceMin)
// handshakes), and never a subflow on the backup path.
const (
	silenceMin   = 70 * time.Millisecond
	silenceSRTTs = 4
	silenceMax   = 5 * time.Second
	proveMin     = 30 * time.Millisecond
	proveSRTTs   = 3
	minBurst     = 8
)

// suspicion is a silent subflow waiting for proof.
type suspicion struct {
	sf    [2]netip.AddrPort // the silent subflow (local, remote)
	since time.Time         // its last data
	until time.Time         // when the probe's answer is due
	sent  bool              // the probe creation was sent
}

// threshold is how long q must be silent to be suspected.
func (q *sfQuality) threshold() time.Duration {
	return max(silenceMin, silenceSRTTs*q.rtt(), q.pause)
}

// proveWindow is how long a probe of q's path gets to answer.
func (q *sfQuality) proveWindow() time.Duration {
	return max(proveMin, proveSRTTs*q.rtt())
}

// rtt is the path's round-trip time as best known: the sender's SRTT
// while the host sends on the subflow (it has fresh samples), else the
// receiver's estimate where that is larger (a host that only receives
// measured SRTT in the handshake alone). The receiver's estimate of a
// stream the peer sends at its own pace (voice) is the time a window takes
// to arrive, not an RTT: it is not used while SRTT is fresh.
func (q *sfQuality) rtt() time.Duration {
	if n := len(q.samples); n >= 2 && q.samples[n-1].segs > q.samples[0].segs {
		return q.srtt
	}
	return max(q.srtt, q.rcvRTT)
}

// receiving takes in what subflow i of c received (from a Quality event on
// path k); it reports whether the connection's wanted subflows may have
// changed.
func (s *State) receiving(c *connState, i int, k pathKey, ev Quality, now time.Time) bool {
	sf, q := c.Subflows[i], c.Subflows[i].q
	key := [2]netip.AddrPort{sf.Local, sf.Remote}
	sus := c.silent[k.link]
	q.rcvRTT = ev.RcvRTT
	if ev.SegsIn != q.segsIn {
		if q.quiet {
			q.burstFrom, q.quiet = q.segsIn, false // a new burst
		}
		q.segsIn = ev.SegsIn
		q.rxAt = now.Add(-ev.Silent)
		if sus != nil && sus.sf == key {
			// Data again before any proof: the peer had paused.
			q.pause = min(2*q.threshold(), silenceMax)
			delete(c.silent, k.link)
			return true
		}
		return false
	}
	if ev.Silent >= silenceMin/2 {
		q.quiet = true
	}
	// A subflow with data of ours outstanding is judged by what it sends
	// (a stall, an RTO): those signals are exact, where silence would
	// also take a path whose RTT jumped for a dead one.
	if sus != nil || q.rxAt.IsZero() || sf.Backup || ev.Stalled > 0 || c.Policy.Handover.RTO == 0 {
		return false
	}
	if _, bad := c.bad(k.link); bad {
		return false
	}
	if ev.Hole && c.onProbation(k.link, now) && ev.Silent >= max(silenceMin, silenceSRTTs*q.srtt) {
		// Back on a path that went bad less than probeMax ago, on the
		// strength of a probe's handshake, which a lossy path lets
		// through: a hole (the peer sent more than arrived) and a
		// silence are enough, without a stream first (a lossy path
		// delivers none).
		c.setBad(k.link, "silent", now)
		return true
	}
	if q.segsIn-q.burstFrom < minBurst {
		return false
	}
	if ev.Hole && ev.Silent >= max(silenceMin, stallSRTTs*q.rtt()) {
		c.setBad(k.link, "silent", now)
		return true
	}
	if ev.Silent < q.threshold() {
		return false
	}
	if c.silent == nil {
		c.silent = map[int32]*suspicion{}
	}
	c.silent[k.link] = &suspicion{sf: key, since: now.Add(-ev.Silent), until: now.Add(q.proveWindow())}
	s.settleSilence(c, now)
	return true
}

// onProbation reports whether c's path over link recovered from bad less
// than probeMax ago.
func (c *connState) onProbation(link int32, now time.Time) bool {
	r, ok := c.recovered[link]
	return ok && now.Sub(r.at) < probeMax
}

// settleSilence decides the suspicions that have their proof: a witness,
// or no answer from the probe in time. It returns when it wants to look
// again.
func (s *State) settleSilence(c *connState, now time.Time) time.Time {
	var wake time.Time
	for link, sus := range c.silent {
		i := c.subflowIndex(sus.sf)
		if i < 0 {
			delete(c.silent, link)
			continue
		}
		witness := s.witness(c, link, sus.since)
		if !witness && now.Before(sus.until) {
			wake = earliest(wake, sus.until)
			continue
		}
		delete(c.silent, link)
		if p, ok := c.pending[pathKey{link, sus.sf[1]}]; ok && p.probe {
			// Unanswered: forget it (its ID must not hold back the
			// REMOVE_ADDR for the silent subflow). Should it come up
			// after all, it is a subflow on a bad path, and closed.
			delete(c.pending, pathKey{link, sus.sf[1]})
		}
		c.setBad(link, "silent", now)
	}
	return wake
}

// witness reports whether a backup subflow of c on another link than link
// received data after since.
func (s *State) witness(c *connState, link int32, since time.Time) bool {
	for _, sf := range c.Subflows {
		if !sf.Backup || sf.q == nil || !sf.q.rxAt.After(since) {
			continue
		}
		if k, ok := s.keyOf(sf); ok && k.link != link {
			return true
		}
	}
	return false
}

// answered takes in a probe of a silent path that came up: the path
// carries packets, the peer had paused.
func (c *connState) answered(link int32) {
	sus := c.silent[link]
	if sus == nil {
		return
	}
	delete(c.silent, link)
	if i := c.subflowIndex(sus.sf); i >= 0 && c.Subflows[i].q != nil {
		q := c.Subflows[i].q
		q.pause = min(2*q.threshold(), silenceMax)
	}
}

// proveSilent opens the probe of each suspected path that has none yet,
// within the connection's limits on creations.
func (s *State) proveSilent(c *connState, now time.Time) ([]Action, time.Time) {
	var out []Action
	var wake time.Time
	for link, sus := range c.silent {
		if sus.sent {
			continue
		}
		k := pathKey{link: link, remote: sus.sf[1]}
		if _, ok := c.pending[k]; ok {
			sus.sent = true // a creation on the path is under way: its answer is the proof
			continue
		}
		if len(c.Subflows)+len(c.pending) >= MaxSubflows {
			continue
		}
		if ok, next := c.allowCreate(now); !ok {
			wake = earliest(wake, next)
			continue
		}
		l, _ := s.ifaces.Link(link)
		local := sus.sf[0].Addr()
		id := s.idFor(c, local)
		if c.pending == nil {
			c.pending = map[pathKey]pendingCreate{}
		}
		c.pending[k] = pendingCreate{since: now, backup: true, id: id, probe: true}
		sus.sent = true
		out = append(out, Action{Kind: CreateSubflow, Token: c.Token, Local: netip.AddrPortFrom(local, 0), ID: id,
			IfIndex: link, Remote: k.remote, Backup: true, Probe: true,
			Reason: fmt.Sprintf("%s: %s silent for %v: probing it", c.Policy.Mode, l.Name, now.Sub(sus.since).Round(time.Millisecond))})
	}
	return out, wake
}

// subflowIndex returns the index of the subflow local -> remote in c, -1
// if c has none.
func (c *connState) subflowIndex(key [2]netip.AddrPort) int {
	for i, sf := range c.Subflows {
		if sf.Local == key[0] && sf.Remote == key[1] {
			return i
		}
	}
	return -1
}
