package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// rx is a measurement of a subflow that receives: segsIn segments so far,
// silent for so long.
func rx(d time.Duration, local netip.AddrPort, segsIn uint64, silent time.Duration) Event {
	return Quality{EventBase: at(d), Token: tok, Local: local, Remote: srv, SRTT: 50 * time.Microsecond, SegsIn: segsIn, Silent: silent}
}

// A download over a blackholed Wi-Fi path: the subflow goes silent, the
// probe of Wi-Fi gets no answer, the connection moves to cellular and the
// peer is told (REMOVE_ADDR) to reinject what it sent over Wi-Fi.
func TestSilenceHandoverBlackhole(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 500, 0)},
		step{ev: rx(200*ms, initial, 900, 0)},
		// Silent, but not for silenceMin yet.
		step{ev: rx(260*ms, initial, 900, 60*ms)},
		// Suspected: a probe from the same address, nothing on cellular.
		step{ev: rx(300*ms, initial, 900, 100*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}, wake: 330 * ms},
		step{ev: rx(325*ms, initial, 900, 125*ms)},
		// No answer in time: the path is broken. Its subflow, the
		// connection's last, is closed once cellular is up (survive.go).
		step{ev: Tick{EventBase: at(330 * ms)},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(332*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}},
	)
	run(t, ifaces(true, true), steps)
}

// A peer that paused: the probe of the path answers, it is closed again,
// nothing goes on cellular, and the next pause of the same length is no
// longer suspected.
func TestSilencePauseCostsOneProbe(t *testing.T) {
	p := pol(policy.ModeHandover)
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 500, 0)},
		step{ev: rx(250*ms, initial, 500, 150*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		// The handshake answered: the path works, the probe goes.
		step{ev: sfUp(251*ms, probeSub, srv, 0, true), want: []string{"destroy 10.0.1.2:42000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(252 * ms), Token: tok, Subflow: Subflow{Local: probeSub, Remote: srv}}},
		step{ev: Tick{EventBase: at(400 * ms)}},
		// The next burst, and about the same pause again: not suspected
		// (the threshold doubled to 140 ms).
		step{ev: rx(2*time.Second, initial, 900, 0)},
		step{ev: rx(2130*ms, initial, 900, 130*ms)},
		// A longer one is, once.
		step{ev: rx(2250*ms, initial, 900, 250*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		step{ev: rx(2275*ms, initial, 900, 275*ms)},
		// Data again before the proof: the peer had paused.
		step{ev: rx(2280*ms, initial, 950, 0)},
		step{ev: Tick{EventBase: at(3 * time.Second)}},
	)
	run(t, ifaces(true, true), steps)
}

// A warm standby is a witness: the peer sends on a backup subflow only
// when it has nothing else, so Wi-Fi silent while the standby receives is
// broken at once, without a probe.
func TestSilenceWitnessWarmStandby(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.WarmStandby = true })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps[len(steps)-1].want = []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=true"}
	steps = append(steps,
		step{ev: sfUp(ms, cellSub, srv, 1, false)},
		step{ev: rx(100*ms, initial, 500, 0)},
		step{ev: rx(100*ms, cellSub, 0, 0)},
		step{ev: rx(210*ms, cellSub, 40, 0)},
		step{ev: rx(220*ms, initial, 500, 120*ms),
			want: []string{"backup 10.0.2.2:41000 -> 10.0.3.2:5201 false", "destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}},
	)
	run(t, ifaces(true, true), steps)
}

// In interactive mode a path that is not flagged backup proves nothing:
// the peer's scheduler may prefer it. The silent path is probed, and once
// proven broken, closed (not only demoted) so that the peer reinjects.
func TestSilenceInteractiveProbes(t *testing.T) {
	p := pol(policy.ModeInteractive)
	cellSub := netip.AddrPortFrom(cell4, 41000)
	ms := time.Millisecond
	run(t, ifaces(true, true), []step{
		{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		{ev: sfUp(ms, cellSub, srv, 1, false)},
		{ev: rx(100*ms, initial, 500, 0)},
		{ev: rx(100*ms, cellSub, 300, 0)},
		{ev: rx(200*ms, cellSub, 400, 0)},
		{ev: rx(220*ms, initial, 500, 120*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		{ev: Tick{EventBase: at(270 * ms)},
			want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}},
	})
}

// Silence on a subflow that never received anything (an idle connection),
// or on a backup subflow, is no suspicion; nor in a mode that does not
// measure.
func TestSilenceIdleIsNotSuspected(t *testing.T) {
	ms := time.Millisecond
	for _, mode := range []policy.Mode{policy.ModeHandover, policy.ModeAggregate} {
		p := pol(mode)
		steps := evs(established(p, 0)...)
		if mode == policy.ModeAggregate {
			steps = []step{{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
				want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}}}
		}
		steps = append(steps,
			step{ev: rx(100*ms, initial, 0, 0)},
			step{ev: rx(5*time.Second, initial, 0, 0)},
		)
		if mode == policy.ModeAggregate {
			steps = append(steps, step{ev: rx(6*time.Second, initial, 10, 0)}, step{ev: rx(7*time.Second, initial, 10, time.Second)})
		}
		run(t, ifaces(true, true), steps)
	}
}

// A path that goes bad again soon after it recovered is probed later each
// time, not at every hold-down.
func TestSetBadAfterRecoveryBacksOff(t *testing.T) {
	c := &connState{Policy: pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })}
	now := t0
	c.setBad(3, "silent", now)
	if got := c.health[3].nextProbe.Sub(now); got != time.Second {
		t.Fatalf("first time bad: next probe in %v, want 1s", got)
	}
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		c.health[3].goodSince = now
		now = now.Add(time.Second)
		c.refreshHealth(now)
		if _, bad := c.bad(3); bad {
			t.Fatalf("round %d: still bad after a good hold-down", i)
		}
		now = now.Add(500 * time.Millisecond)
		c.setBad(3, "silent", now)
		if got := c.health[3].nextProbe.Sub(now); got != want {
			t.Errorf("round %d: bad again at once: next probe in %v, want %v", i, got, want)
		}
	}
	// Long after the last recovery, a failure starts afresh.
	c.health[3].goodSince = now
	now = now.Add(time.Second)
	c.refreshHealth(now)
	now = now.Add(probeMax)
	c.setBad(3, "rto", now)
	if got := c.health[3].nextProbe.Sub(now); got != time.Second {
		t.Errorf("bad a minute after recovering: next probe in %v, want 1s", got)
	}
}

// On a long path the receiver's RTT estimate sets the thresholds: a
// download's SRTT is only the handshake's.
func TestSilenceScalesWithReceiveRTT(t *testing.T) {
	p := pol(policy.ModeHandover)
	ms := time.Millisecond
	slow := func(d time.Duration, segs uint64, silent time.Duration) Event {
		return Quality{EventBase: at(d), Token: tok, Local: initial, Remote: srv, SRTT: 50 * time.Microsecond,
			RcvRTT: 80 * ms, SegsIn: segs, Silent: silent}
	}
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: slow(100*ms, 500, 0)},
		step{ev: slow(400*ms, 500, 300*ms)},
		// 4 RTTs: suspected; the probe gets 3 RTTs to answer.
		step{ev: slow(420*ms, 500, 320*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}, wake: 660 * ms},
	)
	run(t, ifaces(true, true), steps)
}

// A subflow with data of ours outstanding is the send side's to judge: its
// silence is no suspicion (a sudden delay would look the same).
func TestSilenceLeftToTheSenderWhenStalled(t *testing.T) {
	p := pol(policy.ModeHandover)
	ms := time.Millisecond
	stalled := func(d time.Duration, silent, stall time.Duration) Event {
		return Quality{EventBase: at(d), Token: tok, Local: initial, Remote: srv, SRTT: 50 * time.Microsecond,
			SegsIn: 500, Silent: silent, Stalled: stall, SegsOut: 100}
	}
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 500, 0)},
		step{ev: stalled(200*ms, 100*ms, 90*ms)},
		step{ev: stalled(205*ms, 105*ms, 95*ms)},
	)
	run(t, ifaces(true, true), steps)
}

// A short answer (fewer than minBurst segments since the last quiet
// spell) going quiet is no suspicion: nothing says more was coming.
func TestSilenceAfterShortAnswer(t *testing.T) {
	p := pol(policy.ModeHandover)
	ms := time.Millisecond
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 1, 0)},
		step{ev: rx(300*ms, initial, 1, 200*ms)},
		// A stream after it is a burst of its own.
		step{ev: rx(400*ms, initial, 6, 0)},
		step{ev: rx(600*ms, initial, 6, 200*ms)},
		step{ev: rx(700*ms, initial, 40, 0)},
		step{ev: rx(900*ms, initial, 40, 200*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
	)
	run(t, ifaces(true, true), steps)
}

// A silence with a hole in what was received is the receive side's stall:
// the path is bad at once, whatever pauses the peer took before.
func TestSilenceWithAHoleIsAStall(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	hole := func(d time.Duration, segs uint64, silent time.Duration) Event {
		return Quality{EventBase: at(d), Token: tok, Local: initial, Remote: srv, SRTT: 50 * time.Microsecond,
			SegsIn: segs, Silent: silent, Hole: true}
	}
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 500, 0)},
		// A pause first: probed, answered; the threshold doubles.
		step{ev: rx(250*ms, initial, 500, 150*ms), want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		step{ev: sfUp(251*ms, probeSub, srv, 0, true), want: []string{"destroy 10.0.1.2:42000 -> 10.0.3.2:5201"}},
		step{ev: SubflowDown{EventBase: at(252 * ms), Token: tok, Subflow: Subflow{Local: probeSub, Remote: srv}}},
		step{ev: rx(time.Second, initial, 900, 0)},
		step{ev: hole(1050*ms, 900, 50*ms)},
		// 100 ms with a hole: bad, moved.
		step{ev: hole(1100*ms, 900, 100*ms),
			want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	)
	run(t, ifaces(true, true), steps)
}

// Back on a lossy path after a probe's handshake got through: a hole and
// a silence of silenceMin are enough to leave it again, without the
// stream a suspicion otherwise needs (a lossy path delivers none), and
// the next probe waits twice as long.
func TestSilenceOnProbation(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	probeSub := netip.AddrPortFrom(wifi4, 42000)
	ms := time.Millisecond
	hole := func(d time.Duration, local netip.AddrPort, segs uint64, silent time.Duration) Event {
		return Quality{EventBase: at(d), Token: tok, Local: local, Remote: srv, SRTT: 50 * time.Microsecond,
			SegsIn: segs, Silent: silent, Hole: true}
	}
	steps := evs(established(p, 0)...)
	steps = append(steps,
		step{ev: rx(100*ms, initial, 500, 0)},
		step{ev: rx(200*ms, initial, 900, 0)},
		// A stream, then a hole and silence: bad, moved to cellular.
		step{ev: hole(300*ms, initial, 900, 100*ms), want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
		step{ev: sfUp(310*ms, cellSub, srv, 1, false), want: []string{"destroy 10.0.1.2:40000 -> 10.0.3.2:5201", "remove id 0"}},
		step{ev: SubflowDown{EventBase: at(311 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}}},
		// The probe a second later gets through, and is good for the
		// hold-down: the connection goes back to Wi-Fi.
		step{ev: Tick{EventBase: at(1300 * ms)}, want: []string{"create 10.0.1.2 if3 id 0 -> 10.0.3.2:5201 backup=true"}},
		step{ev: sfUp(1310*ms, probeSub, srv, 0, true)},
		step{ev: rx(1320*ms, probeSub, 0, 0)},
		step{ev: Tick{EventBase: at(2400 * ms)},
			want: []string{"backup 10.0.1.2:42000 -> 10.0.3.2:5201 false", "destroy 10.0.2.2:41000 -> 10.0.3.2:5201"}},
		step{ev: ActionDone{EventBase: at(2401 * ms), Action: Action{Kind: SetBackup, Token: tok, Local: probeSub, Remote: srv, Backup: false}}},
		step{ev: SubflowDown{EventBase: at(2410 * ms), Token: tok, Subflow: Subflow{Local: cellSub, Remote: srv}}},
		step{ev: rx(2500*ms, probeSub, 3, 0)},
		// Three segments, a hole, 70 ms of silence: bad again at once.
		step{ev: hole(2600*ms, probeSub, 3, 50*ms)},
		step{ev: hole(2620*ms, probeSub, 3, 70*ms), want: []string{"create 10.0.2.2 if4 id 1 -> 10.0.3.2:5201 backup=false"}},
	)
	run(t, ifaces(true, true), steps)
}
