package daemon

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
)

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
