package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The decision stream (control.QueryDecisions) tells its readers what the
// loop decides as it decides it. The loop must not pay for it when nobody
// reads, nor wait for a reader who reads slowly: each decision is built
// only while a reader is subscribed (decisionHub.on, one atomic load), and
// handed to each reader's buffer without waiting; a full buffer drops it
// and counts the drop, which the reader is told in its stream and the
// metrics count (mptcp_pm_decisions_dropped_total).

const (
	// decisionBuffer is how many decisions wait for a reader before
	// the next ones are dropped.
	decisionBuffer = 256
	// maxDecisionReaders bounds the streams served at once: each holds
	// one of the control socket's maxControlClients for as long as it
	// reads, and status must still be answered.
	maxDecisionReaders = 16
	// decisionSocketBuffer is the send buffer of a stream's socket: with
	// the reader's buffer it bounds what a reader that does not read
	// holds of the daemon's memory.
	decisionSocketBuffer = 8 << 10
	// dropReportEvery is how often a reader that lost decisions is told
	// so when no decision follows to carry the news.
	dropReportEvery = time.Second
)

// decisionHub hands the loop's decisions to the readers of the stream.
// publish is called from the loop, subscribe and unsubscribe from the
// control socket's goroutines; the lock orders them.
type decisionHub struct {
	n       atomic.Int32 // len(subs), read without the lock
	mu      sync.Mutex
	subs    map[*decisionSub]struct{}
	metrics *metrics
	// promotions are warm-standby subflows being promoted to carry their
	// connection: a handover, published once the kernel has done it.
	// Only the loop uses it.
	promotions map[inflightKey]handover
	// dryRun marks every decision as not sent (Options.DryRun).
	dryRun bool
}

// decisionSub is one reader: its buffer and what it lost.
type decisionSub struct {
	c       chan control.Decision
	dropped atomic.Uint64
}

func newDecisionHub(m *metrics, dryRun bool) *decisionHub {
	return &decisionHub{subs: map[*decisionSub]struct{}{}, metrics: m, promotions: map[inflightKey]handover{}, dryRun: dryRun}
}

// on reports whether anyone reads the decisions: the loop builds one only
// then. A nil hub has no readers.
func (h *decisionHub) on() bool { return h != nil && h.n.Load() > 0 }

func (h *decisionHub) subscribe() (*decisionSub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= maxDecisionReaders {
		return nil, fmt.Errorf("busy: %d readers of the decisions already", maxDecisionReaders)
	}
	s := &decisionSub{c: make(chan control.Decision, decisionBuffer)}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s, nil
}

func (h *decisionHub) unsubscribe(s *decisionSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
}

// publish hands dec to every reader that has room, and counts a drop for
// the others; it never waits.
func (h *decisionHub) publish(dec control.Decision) {
	dec.DryRun = h.dryRun
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- dec:
		default:
			s.dropped.Add(1)
			h.metrics.decisionDropped()
		}
	}
}

// streamDecisions serves one reader of the stream on c, once allowed:
// an empty Reply, then a decision per line until the reader closes its
// end or ctx ends.
func (d *Daemon) streamDecisions(ctx context.Context, c *net.UnixConn, reply func(control.Reply)) {
	sub, err := d.dec.subscribe()
	if err != nil {
		reply(control.Reply{Error: err.Error()})
		return
	}
	defer d.dec.unsubscribe(sub)
	reply(control.Reply{})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_ = c.SetDeadline(time.Time{})
	_ = c.SetWriteBuffer(decisionSocketBuffer)
	go func() {
		// The reader sends nothing more: a read returns when it closes
		// its end (or when serveConn closes c).
		var b [1]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	// A write blocked on a reader that does not read ends with ctx.
	stop := context.AfterFunc(ctx, func() { _ = c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	enc := json.NewEncoder(c)
	tick := time.NewTicker(dropReportEvery)
	defer tick.Stop()
	var told uint64
	for {
		var dec control.Decision
		var have bool
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case dec = <-sub.c:
			have = true
		}
		if n := sub.dropped.Load(); n > told {
			if enc.Encode(control.Decision{Time: time.Now(), Kind: control.DecisionDropped, Dropped: n - told, DroppedTotal: n}) != nil {
				return
			}
			told = n
		}
		if have && enc.Encode(dec) != nil {
			return
		}
	}
}

// handover is a subflow created to move a connection: when the move was
// asked for and, while the decisions are read, from and to which
// interface and why.
type handover struct {
	asked            time.Time
	from, to, reason string
}

// newHandover describes the move that action a (a creation that moves
// its connection) starts at asked.
func (d *Daemon) newHandover(a engine.Action, asked time.Time) handover {
	h := handover{asked: asked}
	if !d.dec.on() {
		return h
	}
	ifs := d.state.Interfaces()
	target, ok := ifs.Link(a.IfIndex)
	if !ok { // a SetBackup names its subflow by address
		target, ok = ifs.ByAddr(a.Local.Addr().Unmap())
	}
	h.to = ifName(target, ok)
	h.reason = a.Reason
	cv, ok := d.state.Conn(a.Token)
	if !ok {
		return h
	}
	for _, sf := range cv.Subflows {
		if sf.Backup {
			continue
		}
		addr := sf.Local.Addr().Unmap()
		l, ok := ifs.ByAddr(addr)
		switch {
		case ok && l.Name == h.to:
			continue
		case !ok:
			h.from, h.reason = addr.String(), "address "+addr.String()+" is gone"
		case !l.Up:
			h.from, h.reason = l.Name, l.Name+" link down"
		case cv.Bad[l.Index] != "":
			h.from, h.reason = l.Name, l.Name+" bad ("+cv.Bad[l.Index]+")"
		default:
			h.from = l.Name
		}
		break
	}
	return h
}

// ifName is the name of link l, "" if there is none (ok false).
func ifName(l ifmon.Link, ok bool) string {
	if !ok {
		return ""
	}
	return l.Name
}

// decided publishes what the loop asks the kernel for with a, while the
// decisions are read. A creation that moves its connection is published
// once its subflow is up (handoverDone), with the time it took.
func (d *Daemon) decided(a engine.Action, moves bool) {
	if !d.dec.on() || moves {
		return
	}
	ifs := d.state.Interfaces()
	dec := control.Decision{Time: time.Now(), Token: tokenString(a.Token), Reason: a.Reason}
	name := ifName(ifs.ByAddr(a.Local.Addr().Unmap()))
	switch a.Kind {
	case engine.CreateSubflow:
		dec.Kind, dec.To = control.DecisionOpen, ifName(ifs.Link(a.IfIndex))
		if a.Probe {
			dec.Kind = control.DecisionProbe
		}
		dec.Local, dec.Remote = a.Local.Addr().String(), a.Remote.String()
	case engine.SetBackup:
		if !a.Backup && d.inHandoverMode(a.Token) {
			// A warm standby taking over: a handover, told once done.
			d.dec.promotions[keyOf(a)] = d.newHandover(a, time.Now())
			return
		}
		dec.Kind, dec.From = control.DecisionPromote, name
		if a.Backup {
			dec.Kind = control.DecisionDemote
		}
		dec.Local, dec.Remote = a.Local.String(), a.Remote.String()
	case engine.DestroySubflow:
		dec.Kind, dec.From = control.DecisionClose, name
		dec.Local, dec.Remote = a.Local.String(), a.Remote.String()
	case engine.RemoveAddr:
		dec.Kind, dec.Local = control.DecisionClose, "id "+strconv.Itoa(int(a.ID))
	case engine.Announce:
		dec.Kind, dec.Local = control.DecisionAnnounce, a.Local.String()
	default:
		return
	}
	d.dec.publish(dec)
}

// inHandoverMode reports whether connection token's policy is in
// handover mode.
func (d *Daemon) inHandoverMode(token uint32) bool {
	cv, ok := d.state.Conn(token)
	return ok && cv.Policy != nil && cv.Policy.Mode == policy.ModeHandover
}

// doneDecision publishes, once the kernel has done it, the promotion of
// a warm standby that decided recorded as a handover.
func (d *Daemon) doneDecision(a engine.Action, at time.Time) {
	if d.dec == nil || a.Kind != engine.SetBackup || a.Backup || len(d.dec.promotions) == 0 {
		return
	}
	k := keyOf(a)
	if h, ok := d.dec.promotions[k]; ok {
		delete(d.dec.promotions, k)
		d.handoverDecision(a.Token, a.Local.Addr().Unmap(), h, at)
	}
}

// refusedDecision publishes a command the kernel refused, with the
// kernel's extended-ack message.
func (d *Daemon) refusedDecision(a engine.Action, err error, at time.Time) {
	if d.dec != nil && len(d.dec.promotions) > 0 {
		delete(d.dec.promotions, keyOf(a))
	}
	if !d.dec.on() {
		return
	}
	dec := control.Decision{Time: at, Kind: control.DecisionRefused, Token: tokenString(a.Token),
		Action: a.String(), Error: err.Error(), Reason: a.Reason}
	var ge *genl.Error
	if errors.As(err, &ge) {
		dec.ExtAck = ge.Message
	}
	d.dec.publish(dec)
}

// handoverDecision publishes a handover whose subflow is up at at.
func (d *Daemon) handoverDecision(token uint32, local netip.Addr, h handover, at time.Time) {
	if !d.dec.on() || h.to == "" && h.reason == "" {
		return // asked for while nobody read: its details were not kept
	}
	d.dec.publish(control.Decision{Time: at, Kind: control.DecisionHandover, Token: tokenString(token),
		From: h.from, To: h.to, Local: local.String(), Reason: h.reason,
		TookMS: float64(at.Sub(h.asked).Microseconds()) / 1000})
}

// wouldMove publishes, in a dry run, the handover that creation a would
// have made: its subflow never comes up, so handoverDone never tells it.
func (d *Daemon) wouldMove(a engine.Action) {
	if !d.dec.on() {
		return
	}
	if h, ok := d.handovers[handoverKey{a.Token, a.Local.Addr().Unmap()}]; ok && (h.to != "" || h.reason != "") {
		d.dec.publish(control.Decision{Time: time.Now(), Kind: control.DecisionHandover, Token: tokenString(a.Token),
			From: h.from, To: h.to, Local: a.Local.Addr().Unmap().String(), Reason: h.reason})
	}
}

// policyDecision publishes the policy a new connection got.
func (d *Daemon) policyDecision(token uint32, c policy.Conn, p *policy.Policy) {
	if !d.dec.on() || p == nil {
		return
	}
	d.dec.publish(control.Decision{Time: time.Now(), Kind: control.DecisionPolicy, Token: tokenString(token),
		Policy: p.Name, Mode: string(p.Mode), Local: c.Local.String(), Remote: c.Remote.String()})
}
