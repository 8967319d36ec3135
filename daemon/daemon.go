package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/internal/neighbours"
	"github.com/mptcp-pm/mptcp-pm/internal/pmtype"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
	"golang.org/x/sync/errgroup"
)

// maxReusedBatch is the largest batch of samples kept for reuse.
const maxReusedBatch = 4096

// resyncAgain is how long after an overflow the view is rebuilt once more:
// connections in their handshake during the first dump, whose events were
// lost too, are taken in then.
const resyncAgain = time.Second

// Daemon is the path manager: one goroutine (Run's) owns its state; the
// control socket reads snapshots published after every step.
type Daemon struct {
	opts Options
	log  *slog.Logger
	// path is the configuration file, which Reload reads again.
	path string
	// ready is closed once Run serves the control socket and its loop
	// has started.
	ready chan struct{}

	set  *policy.Set
	exec *executor
	ctx  context.Context // Run's
	// inflight are the commands sent whose result has not come back.
	inflight map[inflightKey]bool
	// deferred are results taken in while the loop waited for a worker.
	deferred []result
	// skipc tells the sampler the connections not to follow.
	skipc chan []uint32
	// measurec tells the sampler whether any connection wants samples
	// (stepEngine); wanting are those that do.
	measurec chan bool
	wanting  map[uint32]struct{}
	// kev brings the kernel's events from the pump.
	kev chan kernelEvent
	// fatal is an error met where it could not be returned: Run returns
	// it at its next turn.
	fatal   error
	events  *genl.Events
	mon     *ifmon.Monitor
	routes  routeBook // the route lookups fed to the engine (routes.go)
	diag    *sockdiag.Client
	owners  *owners
	quality qualitySource // nil: no measurements
	metrics *metrics      // nil: no metrics
	// listeners are the daemon's MPTCP listening sockets on announced
	// ports: the kernel opens none, and joins to a port need one.
	listeners listeners
	mptcpify  mptcpifier
	// handovers are subflows created to move a connection, by (token,
	// local address), with when the move was asked for: a metric measures
	// until the subflow is up.
	handovers map[handoverKey]handover
	// dec streams the decisions to their readers (decisions.go).
	dec *decisionHub

	state   *engine.State
	matched map[uint32]matchInfo // what connections matched on owner fields were matched on, for reloads
	timer   *time.Timer
	// again rebuilds the view once more after an overflow.
	again *time.Timer
	// audit checks the connections against the kernel's; it runs only
	// while there are connections (auditOn).
	audit    *time.Timer
	auditOn  bool
	wake     time.Time
	lastTick time.Time
	statusc  chan statusReq
	reloadc  chan reloadReq
	loopc    chan func() // work to run on the loop (onLoop)
	// reloadMu makes reloads one at a time, so that the set read last
	// is the one applied last.
	reloadMu sync.Mutex
	resyncs  int
	commands int
	refused  int
	// cause is when the kernel event being handled was received (zero
	// when no kernel event is); lat records, for each command it causes,
	// the time from then to the command's sending, and cmdLat the time
	// from its sending to the kernel's acknowledgement.
	cause  time.Time
	lat    latencies
	cmdLat latencies
	// announceLog thins the "peer announcement ignored" lines, by token.
	announceLog *rateLog[uint32]
	// kept are the capabilities left after dropCapabilities; nil if it
	// dropped nothing (not run, or not root).
	kept *[]caps.Capability
	// pmType is the namespace's pm_type as found at start; Close puts
	// it back.
	pmType *pmtype.Switch
	// nsInode is the inode number of the namespace managed (0: unknown);
	// control requests for another are refused.
	nsInode uint64
	// marker tells other mptcp-pm daemons this one runs in the
	// namespace; near are the other managers of MPTCP found there.
	marker *neighbours.Marker
	near   atomic.Pointer[[]neighbours.Neighbour]
	// build is the running build, started when the loop began, and
	// pmTypeFile net.mptcp.pm_type, open for status (warnings.go).
	build      buildinfo.Info
	started    time.Time
	pmTypeFile *os.File
}

// kernelEvent is what the event pump hands the loop.
type kernelEvent struct {
	evs []genl.Event
	err error
	at  time.Time // when they were received
}

// Ready returns a channel closed once Run has set the control socket up
// (it accepts connections, with its final mode and group), dropped the
// capabilities (Options.DropCapabilities), read the interfaces and the
// connections that exist, and started its loop: from then on a status
// query is answered.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Run serves the control socket and runs the loop until ctx ends (it then
// returns nil) or either fails; whichever fails first stops the other.
func (d *Daemon) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	listening := make(chan struct{})
	g.Go(func() error { return d.serveControl(ctx, listening) })
	g.Go(func() error {
		select {
		case <-listening:
		case <-ctx.Done():
			return nil
		}
		if d.opts.DropCapabilities {
			drop, err := d.dropCapabilities()
			if err != nil {
				return err
			}
			d.log.Info("capabilities dropped", "kept", drop.String(), "bounding", drop.Bounding, "uid", os.Getuid())
		}
		return d.loop(ctx)
	})
	return g.Wait()
}

// inputs are the channels the loop reads besides its own.
type inputs struct {
	monErr, metricsErr <-chan error
	samples            <-chan batch
	free               chan<- batch // batches the loop is done with
}

// startInputs starts the goroutines that feed the loop: the interface
// monitor, the kernel event pump, the command workers, the sampler and
// the metrics listener.
func (d *Daemon) startInputs(ctx context.Context) inputs {
	monErr := make(chan error, 1)
	go func() { monErr <- d.mon.Run(ctx) }()

	d.kev = make(chan kernelEvent, 64)
	go d.pump(ctx, d.kev)
	d.ctx = ctx
	d.exec.run(ctx)
	d.owners.start(ctx)
	go d.watchNeighbours(ctx)
	samples := make(chan batch, 1)
	free := make(chan batch, 2)
	d.skipc = make(chan []uint32, 16)
	if d.quality != nil {
		d.measurec = make(chan bool, 1)
		go sampler(ctx, d.quality, samples, free, d.skipc, d.measurec, d.log)
	}
	metricsErr := make(chan error, 1)
	if d.metrics != nil {
		go func() { metricsErr <- d.metrics.serve(ctx, d.opts.MetricsListen, d.log) }()
	}
	return inputs{monErr: monErr, metricsErr: metricsErr, samples: samples, free: free}
}

// begin builds the first view: the interfaces, then the connections that
// exist; and the timers, before anything can ask for a wake-up.
func (d *Daemon) begin() error {
	first, err := d.mon.Snapshot()
	if err != nil {
		return fmt.Errorf("interfaces: %w", err)
	}
	d.state = engine.NewState(first)
	d.logAddrKinds(first)
	source := "none"
	if d.quality != nil {
		source = d.quality.name()
	}
	d.started = time.Now()
	d.log.Info("started", "version", d.build.Version, "revision", d.build.ShortRevision(), "go", d.build.GoVersion,
		"dry_run", d.opts.DryRun, "netns", d.opts.NetNSName, "config", d.set.Config.Source,
		"policies", len(d.set.Policies), "interfaces", describeLinks(first), "quality", source)
	d.timer = time.NewTimer(time.Hour)
	d.timer.Stop()
	d.again = time.NewTimer(time.Hour)
	d.again.Stop()
	d.audit = time.NewTimer(time.Hour)
	d.audit.Stop()
	d.resync(time.Now(), resyncStart)
	return nil
}

// loop is the daemon's one goroutine: it owns the state, takes one input
// at a time and hands it to the engine.
//
// Priority: kernel events first, since what they ask for is what the
// daemon's latency is about: before each wait the loop takes up to
// kernelFirstBatches batches of them that are already queued. Then every
// input gets its turn in one select, where Go picks at random among the
// ready ones (interface changes, kernel events, command results,
// measurements, timers, reloads, status), so none starves. After each
// input, results deferred while waiting for a worker are taken in, and
// the audit timer is armed while there are connections.
func (d *Daemon) loop(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := d.startInputs(ctx)
	monErr, metricsErr, samples, free := in.monErr, in.metricsErr, in.samples, in.free
	if err := d.begin(); err != nil {
		return err
	}
	close(d.ready)
	changes := d.mon.Changes()
	for {
		// Kernel events first: what they ask for is what the latency of
		// the daemon is about. A few batches, then everything else gets
		// its turn (status, timers, measurements).
		if d.fatal != nil {
			return d.fatal
		}
		if err := d.kernelFirst(kernelFirstBatches); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-monErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("interface monitor: %w", err)
		case err := <-metricsErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("metrics: %w", err)
		case delta, ok := <-changes:
			if !ok {
				// The monitor stopped; its error follows on monErr. A
				// closed channel's zero snapshot would read as "every
				// interface is gone".
				changes = nil
				continue
			}
			d.log.Debug("interfaces changed", "interfaces", describeLinks(delta.New))
			d.step(engine.InterfacesChanged{EventBase: now(), Ifaces: delta.New})
		case ke := <-d.kev:
			if err := d.handleKernel(ke); err != nil {
				return err
			}
		case r := <-d.exec.out:
			d.handleResult(r)
		case r := <-d.owners.found():
			d.processFound(r)
		case b := <-samples:
			d.takeBatch(b, free)
		case <-d.again.C:
			d.resync(time.Now(), resyncRecheck)
		case <-d.audit.C:
			d.auditOn = false
			d.auditConns(time.Now())
		case <-d.timer.C:
			d.wake = time.Time{}
			d.lastTick = time.Now()
			d.step(engine.Tick{EventBase: engine.EventBase{At: d.lastTick}})
		case req := <-d.reloadc:
			req.reply <- d.reload(req.set)
		case req := <-d.statusc:
			req.reply <- d.snapshot(req.brief)
		case f := <-d.loopc:
			f()
		}
		d.drainDeferred()
		d.armAudit()
	}
}

// takeBatch hands a batch of measurements to the engine, then back to
// the sampler through free for reuse, unless a burst made it large: its
// memory goes back.
func (d *Daemon) takeBatch(b batch, free chan<- batch) {
	d.measured(b)
	if cap(b.news) <= maxReusedBatch {
		select {
		case free <- b:
		default:
		}
	}
}

// closeConn tells the engine that connection tok is closed, and forgets
// what the daemon kept of it.
func (d *Daemon) closeConn(tok uint32, at time.Time) {
	d.forgetConn(tok)
	d.step(engine.ConnClosed{EventBase: engine.EventBase{At: at}, Token: tok})
}

// forgetConn drops what the daemon keeps of connection tok.
func (d *Daemon) forgetConn(tok uint32) {
	delete(d.matched, tok)
	d.announceLog.forget(tok)
	for k := range d.handovers {
		if k.token == tok {
			delete(d.handovers, k)
		}
	}
}

// kernelFirstBatches is how many batches of kernel events the loop takes
// before anything else that is ready.
const kernelFirstBatches = 16

// kernelFirst handles up to n batches of kernel events that are waiting,
// without waiting for any.
func (d *Daemon) kernelFirst(n int) error {
	for range n {
		select {
		case ke := <-d.kev:
			if err := d.handleKernel(ke); err != nil {
				return err
			}
			d.drainDeferred()
		default:
			return nil
		}
	}
	return nil
}

// drainDeferred handles the results taken in while the loop waited for a
// worker.
func (d *Daemon) drainDeferred() {
	for len(d.deferred) > 0 {
		r := d.deferred[0]
		d.deferred = d.deferred[1:]
		d.handleResult(r)
	}
	d.deferred = nil
}

func now() engine.EventBase { return engine.EventBase{At: time.Now()} }

// pump reads kernel events; it ends when ctx ends (the socket is closed).
func (d *Daemon) pump(ctx context.Context, out chan<- kernelEvent) {
	go func() {
		<-ctx.Done()
		_ = d.events.SetReadDeadline(time.Unix(1, 0))
	}()
	for {
		evs, err := d.events.Receive()
		at := time.Now()
		if ctx.Err() != nil {
			return
		}
		var de *genl.DecodeError
		if errors.As(err, &de) {
			d.log.Warn("undecodable event from the kernel", "err", err)
			err = nil
		}
		select {
		case out <- kernelEvent{evs: evs, err: err, at: at}:
		case <-ctx.Done():
			return
		}
		if err != nil && !errors.Is(err, genl.ErrOverflow) {
			return
		}
	}
}

// handleKernel turns kernel events into engine events. An error other than an
// overflow ends the daemon: without events it cannot manage anything (a
// restart adopts the connections again).
func (d *Daemon) handleKernel(ke kernelEvent) error {
	if ke.err != nil {
		if errors.Is(ke.err, genl.ErrOverflow) {
			d.log.Warn("kernel events were lost (event socket overflow): rebuilding the view from the kernel")
			d.metrics.overflow()
			d.resync(time.Now(), resyncOverflow)
			d.again.Reset(resyncAgain)
			return nil
		}
		return fmt.Errorf("event socket: %w", ke.err)
	}
	d.cause = ke.at
	defer func() { d.cause = time.Time{} }()
	for _, ev := range ke.evs {
		d.metrics.kernelEvent(ev.Type)
		if d.log.Enabled(context.Background(), slog.LevelDebug) {
			d.log.Debug("kernel event", "event", ev.String())
		}
		base := engine.EventBase{At: ke.at}
		sf := engine.Subflow{Local: ev.Local, Remote: ev.Remote, LocID: ev.LocID, RemID: ev.RemID}
		switch ev.Type {
		case genl.EventCreated, genl.EventEstablished:
			r := d.step(engine.ConnReported{EventBase: base, Token: ev.Token, Local: ev.Local, Remote: ev.Remote,
				ServerSide: ev.ServerSide(), Established: ev.Type == genl.EventEstablished, Match: kernelMatcher{d}})
			if r.Unknown {
				// The engine refused it (an ESTABLISHED after the
				// connection's CLOSED): nothing to remember.
				delete(d.matched, ev.Token)
			}
		case genl.EventClosed:
			d.closeConn(ev.Token, base.At)
		case genl.EventSubEstablished:
			d.handoverDone(ev.Token, ev.Local.Addr(), base.At)
			d.step(engine.SubflowUp{EventBase: base, Token: ev.Token, Subflow: sf})
		case genl.EventSubClosed:
			d.step(engine.SubflowDown{EventBase: base, Token: ev.Token, Subflow: sf, Error: ev.Error})
		case genl.EventSubPriority:
			d.step(engine.SubflowPriority{EventBase: base, Token: ev.Token, Subflow: sf})
		case genl.EventAnnounced:
			d.announced(ev, base)
		case genl.EventRemoved:
			d.step(engine.PeerRemoved{EventBase: base, Token: ev.Token, RemID: ev.RemID})
		}
	}
	return nil
}

// resync rebuilds the view of the connections from a kernel dump: those
// that exist are (re)adopted with the subflows they have, those the model
// has but the kernel not are closed. why is one of the resync reasons
// (resyncStart...).
func (d *Daemon) resync(at time.Time, why string) {
	d.resyncs++
	d.metrics.resync(why)
	conns, err := d.diag.Connections()
	if err != nil {
		d.log.Error("cannot read the connections from the kernel", "why", why, "err", err)
		return
	}
	listeners := map[netip.AddrPort]bool{}
	for _, c := range conns {
		if c.State == tcpListen {
			listeners[c.Local] = true
		}
	}
	present := map[uint32]bool{}
	adopted := 0
	for _, c := range conns {
		if c.State != tcpEstablished || c.Token == 0 {
			continue
		}
		present[c.Token] = true
		subs := make([]engine.Subflow, 0, len(c.Subflows))
		for _, sf := range c.Subflows {
			// A join still in its handshake counts: creating another
			// would give the connection one too many.
			if sf.State != tcpEstablished && sf.State != tcpSynSent {
				continue
			}
			subs = append(subs, engine.Subflow{Local: sf.Local, Remote: sf.Remote, LocID: sf.LocID, RemID: sf.RemID, Backup: sf.Backup})
		}
		serverSide := listeners[c.Local] || listeners[netip.AddrPortFrom(unspecified(c.Local.Addr()), c.Local.Port())]
		adopted++
		// A connection the engine has keeps its policy; the others are
		// matched.
		d.step(engine.ConnCreated{EventBase: engine.EventBase{At: at}, Token: c.Token, Local: c.Local, Remote: c.Remote,
			ServerSide: serverSide, Established: serverSide || fullyEstablished(c), Match: dumpMatcher{d, &c}, Subflows: subs})
	}
	for _, tok := range d.state.Tokens() {
		if !present[tok] {
			d.closeConn(tok, at)
		}
	}
	d.log.Info("view of the kernel rebuilt", "why", why, "connections", adopted)
}

// fullyEstablished reports whether the dump shows client connection c
// fully established: the kernel refuses to open subflows before
// (__mptcp_subflow_connect: ENOTCONN), that is until the peer acknowledged
// the MPTCP handshake with a data ACK, which takes data one way or the
// other. A TCP_ESTABLISHED socket is not enough; the kernel reports the
// moment with ESTABLISHED, which makes the engine go on (the event after
// CREATED). It shows on the subflows (MPTCP_SUBFLOW_FLAG_FULLY_ESTABLISHED;
// a join exists only once it is).
func fullyEstablished(c sockdiag.Conn) bool {
	return slices.ContainsFunc(c.Subflows, func(sf sockdiag.Subflow) bool {
		return sf.Flags&sockdiag.SubflowFlagFullyEstablished != 0
	})
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpClose       = 7
	tcpListen      = 10
)

// step runs one event through the engine and sends the actions to the
// workers; their results come back as events of their own (handleResult).
func (d *Daemon) step(ev engine.Event) engine.Result {
	r := d.stepEngine(d.withRoutes(ev))
	d.setWake(r.Wake)
	asked := time.Now() // when what asked for these actions was handled
	for i, a := range r.Actions {
		k := keyOf(a)
		if d.inflight[k] {
			d.log.Debug("already under way", "action", a.String())
			continue
		}
		d.inflight[k] = true
		if r.Moves(i) {
			// Until the subflow is up; its SF_ESTABLISHED may come
			// before the command's result.
			d.handovers[handoverKey{a.Token, a.Local.Addr().Unmap()}] = d.newHandover(a, asked)
		}
		d.decided(a, r.Moves(i))
		d.deferred = append(d.deferred, d.exec.submit(d.ctx, job{a: a, cause: d.cause})...)
	}
	return r
}

// handleResult takes in a command's result: counted, logged, and told to the
// engine when it changes what the engine knows (a refusal; MP_PRIO, which
// has no event of its own).
func (d *Daemon) handleResult(r result) {
	a := r.a
	delete(d.inflight, keyOf(a))
	if errors.Is(r.err, errNotSent) {
		d.notSent(r)
		return
	}
	d.commands++
	if !r.cause.IsZero() {
		lat := r.sent.Sub(r.cause)
		d.lat.add(lat)
		d.cmdLat.add(r.done.Sub(r.sent))
		d.metrics.eventToCommand(lat)
	}
	d.metrics.command(a.Kind.String(), r.err)
	at := engine.EventBase{At: r.done}
	if r.err != nil {
		d.refused++
		delete(d.handovers, handoverKey{a.Token, a.Local.Addr().Unmap()})
		d.log.Warn("kernel refused", "action", a.String(), "err", r.err)
		d.refusedDecision(a, r.err, r.done)
		// The engine forgets a connection the kernel has no more.
		for _, tok := range d.step(engine.ActionFailed{EventBase: at, Action: a, Err: r.err}).Forgotten {
			d.forgetConn(tok)
		}
		return
	}
	d.log.Info("action", "action", a.String())
	d.doneDecision(a, r.done)
	if a.Kind == engine.SetBackup {
		d.step(engine.ActionDone{EventBase: at, Action: a})
	}
}

// handoverKey names a subflow created to move a connection.
type handoverKey struct {
	token uint32
	local netip.Addr
}

// handoverDone records the time a handover took, from what asked for it
// to its subflow being up.
func (d *Daemon) handoverDone(token uint32, local netip.Addr, at time.Time) {
	k := handoverKey{token, local.Unmap()}
	if h, ok := d.handovers[k]; ok {
		delete(d.handovers, k)
		d.metrics.handover(at.Sub(h.asked))
		d.handoverDecision(token, local, h, at)
	}
}

// minTick spaces the engine's wake-ups: with thousands of connections
// their timers fall every millisecond, and a Tick looks at every
// connection's timer. A wake-up comes at most minTick late.
const minTick = 10 * time.Millisecond

func (d *Daemon) setWake(w time.Time) {
	if w.IsZero() || (!d.wake.IsZero() && !w.Before(d.wake) && d.wake.After(time.Now())) {
		return
	}
	d.wake = w
	d.timer.Reset(max(time.Until(w), time.Until(d.lastTick.Add(minTick)), 0))
}

// mapped writes an IPv4 address as v4-mapped IPv6 when m is set.
func mapped(ap netip.AddrPort, m bool) netip.AddrPort {
	if !m || !ap.Addr().Is4() {
		return ap
	}
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

func tokenString(t uint32) string { return fmt.Sprintf("%08x", t) }

func describeLinks(s ifmon.Snapshot) string {
	var out []string
	for _, l := range s.Links {
		if l.Class == ifmon.ClassLoopback {
			continue
		}
		state := "down"
		if l.Up {
			state = "up"
		}
		out = append(out, fmt.Sprintf("%s(%s,%s,%d addrs)", l.Name, l.Class, state, len(l.Addrs)))
	}
	return fmt.Sprint(out)
}
