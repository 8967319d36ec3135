// Package keeper is endpoint mode (pm: kernel, or `mptcp-pm daemon
// --endpoints`): the kernel's own path manager runs the connections and
// the keeper keeps its endpoints in line with the interfaces, with a pure
// plan (Desired, Manages, Diff) and a reconciler (Keeper) that alone
// sends commands.
//
// Out of scope: connections and subflows (the kernel's path manager, or
// package daemon with the userspace one) and a control socket.
package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
	"github.com/mptcp-pm/mptcp-pm/internal/neighbours"
	"github.com/mptcp-pm/mptcp-pm/internal/pmtype"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Client is the part of the in-kernel path manager's API the
// Keeper uses. *genl.Client implements it; tests use a fake.
type Client interface {
	Endpoints() ([]genl.Endpoint, error)
	AddEndpoint(ep genl.Endpoint) error
	DeleteEndpoint(id uint8, addr netip.Addr) error
	ChangeEndpoint(id uint8, ch genl.EndpointChange) error
	SetLimits(u genl.LimitsUpdate) error
}

var _ Client = (*genl.Client)(nil)

// Options are the command-line settings of endpoint mode.
type Options struct {
	NetNS     int    // fd of the namespace to manage, 0 for the daemon's own
	NetNSName string // its name, for messages
	// SetPMType sets net.mptcp.pm_type=0 at start (also when the
	// configuration says set_pm_type: true).
	SetPMType bool
	// Force starts endpoint mode even next to another manager of the
	// endpoints (see claim).
	Force  bool
	Logger *slog.Logger
	// RuntimeDir keeps the record of the pm_type found at start (""
	// for pmtype.DefaultRuntimeDir).
	RuntimeDir string
}

// Keeper is endpoint mode (pm: kernel, or `mptcp-pm daemon
// --endpoints`): the kernel's own path manager (net.mptcp.pm_type=0) runs
// the connections, and the keeper keeps its endpoints in line with the
// interfaces, as NetworkManager does. It sets the configured limits at
// start, then after every change of the interfaces (and once at start) it
// dumps the endpoints and adds, deletes and changes them to match
// Desired, touching only those Manages says are its own, plus those it
// added. Endpoints of addresses that went
// away are deleted (no stale endpoints); a link that goes down loses its
// endpoints and gets them back when it comes up.
//
// Commands the kernel refuses are logged with the kernel's message and
// retried at the next change of the interfaces, never in a loop. A
// reconcile of a state already reconciled sends no command.
//
// The keeper serves no control socket: `mptcp-pm endpoint show` (or
// `ip mptcp endpoint show`) shows its work. It leaves the endpoints in
// place when it stops, so that connections keep their subflows across a
// restart; the next start reconciles them.
//
// Concurrency: Run owns the keeper; Reconcile must not be called while Run
// runs.
type Keeper struct {
	log     *slog.Logger
	cfg     *policy.EndpointConfig
	pm      Client
	changes <-chan ifmon.Delta
	run     func(context.Context) error // the monitor's Run, nil with NewWith
	closers []interface{ Close() error }
	added   map[netip.Addr]bool // endpoints this keeper added and has not deleted
	pmType  *pmtype.Switch      // pm_type as New found it; Close puts it back
	marker  *neighbours.Marker  // tells other mptcp-pm daemons a keeper runs here; nil with NewWith
	near    []neighbours.Neighbour
	netnsFD int
}

// New checks that the namespace runs the in-kernel path manager
// (net.mptcp.pm_type=0; with opts.SetPMType or set_pm_type: true it sets
// it) and opens the sockets for conf, the parsed configuration. Run then
// starts it; the caller closes the keeper.
func New(conf *policy.Config, opts Options) (*Keeper, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	where := "this namespace"
	if opts.NetNSName != "" {
		where = "namespace " + opts.NetNSName
	}
	marker, near, err := claim(opts, where)
	if err != nil {
		return nil, err
	}
	sw, err := checkKernelPMType(opts, conf, opts.Logger)
	if err != nil {
		marker.Close()
		return nil, err
	}
	restore := func() { marker.Close(); restorePMType(opts.Logger, sw) }
	pm, err := genl.New(&genl.Config{NetNS: opts.NetNS})
	if err != nil {
		restore()
		return nil, err
	}
	mon, err := ifmon.New(ifmon.Config{NetNS: opts.NetNS, Rules: conf.Rules(),
		Logf: func(format string, args ...any) { opts.Logger.Debug(fmt.Sprintf(format, args...)) }})
	if err != nil {
		pm.Close()
		restore()
		return nil, err
	}
	k := NewWith(pm, conf.Endpoints, mon.Changes(), opts.Logger)
	k.run = mon.Run
	k.pmType = sw
	k.marker, k.near, k.netnsFD = marker, near, opts.NetNS
	k.closers = append(k.closers, pm)
	return k, nil
}

// NewWith returns a keeper that sends its commands to pm and
// reconciles on every Delta of changes, until changes is closed or the
// context of Run ends. A nil cfg is policy.DefaultEndpointConfig.
func NewWith(pm Client, cfg *policy.EndpointConfig, changes <-chan ifmon.Delta, log *slog.Logger) *Keeper {
	if cfg == nil {
		cfg = policy.DefaultEndpointConfig()
	}
	if log == nil {
		log = slog.Default()
	}
	return &Keeper{log: log, cfg: cfg, pm: pm, changes: changes, added: make(map[netip.Addr]bool)}
}

// Close closes the keeper's sockets and puts back the pm_type New found,
// if it changed it. It does not touch the endpoints.
func (k *Keeper) Close() {
	for _, c := range k.closers {
		_ = c.Close()
	}
	k.closers = nil
	if k.marker != nil {
		k.marker.Close()
		k.marker = nil
	}
	k.restorePMType()
}

// checkKernelPMType makes sure the namespace runs the in-kernel path
// manager: with the userspace one (pm_type=1) the kernel keeps the
// endpoints but never uses them. What it changes, Close puts back (see
// package pmtype).
func checkKernelPMType(opts Options, conf *policy.Config, log *slog.Logger) (*pmtype.Switch, error) {
	where := "this namespace"
	if opts.NetNSName != "" {
		where = "namespace " + opts.NetNSName
	}
	sw, err := pmtype.Read(opts.NetNS, opts.RuntimeDir)
	if errors.Is(err, pmtype.ErrNoMPTCP) {
		return nil, fmt.Errorf("MPTCP is not enabled in %s: %w", where, err)
	}
	if err != nil {
		return nil, err
	}
	if sw.Inherited {
		log.Warn("a daemon that did not stop cleanly changed net.mptcp.pm_type; the value it found is put back at stop",
			"netns", where, "found", sw.Found, "set", sw.Set, "record", sw.Record)
	}
	v := sw.Current()
	if v == "0" {
		return sw, nil
	}
	if !opts.SetPMType && !conf.SetPMType {
		return nil, fmt.Errorf("net.mptcp.pm_type is %s in %s, but endpoint mode (pm: kernel or --endpoints) needs the in-kernel path manager (pm_type=0), "+
			"which is the one that uses endpoints. Run `sysctl -w net.mptcp.pm_type=0` (it affects new connections only), start with --set-pm-type, "+
			"or set set_pm_type: true in %s", v, where, conf.Source)
	}
	if err := sw.Change(opts.RuntimeDir, "0"); err != nil {
		return nil, err
	}
	if sw.RecordErr != nil {
		log.Warn("the pm_type found is not recorded: after a crash nothing puts it back", "err", sw.RecordErr)
	}
	log.Info("set net.mptcp.pm_type=0 (in-kernel path manager); connections opened before keep their path manager; put back at stop",
		"netns", where, "was", v)
	return sw, nil
}

// restorePMType puts back the pm_type found at start, if New changed it.
func (k *Keeper) restorePMType() {
	restorePMType(k.log, k.pmType)
	k.pmType = nil
}

// restorePMType puts back the pm_type sw found (nil: nothing to do).
func restorePMType(log *slog.Logger, sw *pmtype.Switch) {
	if sw == nil {
		return
	}
	wrote, err := sw.Restore()
	switch {
	case err != nil:
		log.Warn("net.mptcp.pm_type not put back", "want", sw.Found, "err", err)
	case wrote:
		log.Info("put back net.mptcp.pm_type", "value", sw.Found)
	}
}

// Run sets the configured limits, then reconciles the endpoints at start
// and after every change of the interfaces until ctx is done (it then
// returns nil) or the interface monitor fails.
func (k *Keeper) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	monErr := make(chan error, 1)
	if k.run != nil {
		go func() { monErr <- k.run(ctx) }()
	}
	go k.watchNeighbours(ctx)
	k.setLimits()
	bi := buildinfo.Read()
	k.log.Info("endpoint keeper started", "version", bi.Version, "revision", bi.ShortRevision(), "go", bi.GoVersion,
		"interfaces", k.cfg.Interfaces, "flags", k.cfg.Flags.String(), "backup", k.cfg.Backup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-monErr:
			if err != nil {
				return fmt.Errorf("interface monitor: %w", err)
			}
			return nil
		case d, ok := <-k.changes:
			if !ok {
				if k.run != nil {
					if err := <-monErr; err != nil {
						return fmt.Errorf("interface monitor: %w", err)
					}
				}
				return nil
			}
			_ = k.Reconcile(d.New) // every failure is logged
		}
	}
}

func (k *Keeper) setLimits() {
	u := k.cfg.Limits
	if u.Subflows == nil && u.AddAddrAccepted == nil {
		return
	}
	var attrs []any
	if u.Subflows != nil {
		attrs = append(attrs, "subflows", *u.Subflows)
	}
	if u.AddAddrAccepted != nil {
		attrs = append(attrs, "add_addr_accepted", *u.AddAddrAccepted)
	}
	if err := k.pm.SetLimits(u); err != nil {
		k.log.Warn("limits refused", append(attrs, kernelAttrs(err)...)...)
		return
	}
	k.log.Info("limits set", attrs...)
}

// kernelAttrs are the log attributes of a refused command: the kernel's
// message (extack) when it sent one, and the error.
func kernelAttrs(err error) []any {
	var ge *genl.Error
	if errors.As(err, &ge) && ge.Message != "" {
		return []any{"kernel", ge.Message, "err", err}
	}
	return []any{"err", err}
}

// Reconcile brings the kernel's endpoints in line with snapshot snap once:
// it dumps them, deletes, changes and adds (in that order, so that a
// replacement's address is free) what Diff says, and logs
// each command at info, or at warn with the kernel's message when it is
// refused. It returns the failures, joined; they are already logged.
func (k *Keeper) Reconcile(snap ifmon.Snapshot) error {
	cur, err := k.pm.Endpoints()
	if err != nil {
		k.log.Warn("dump endpoints failed; retrying at the next change", "err", err)
		return err
	}
	var mine []genl.Endpoint
	for _, ep := range cur {
		ep.Addr = ep.Addr.Unmap()
		if ep.Flags&genl.FlagImplicit == 0 && (k.added[ep.Addr] || Manages(k.cfg, snap, ep)) {
			mine = append(mine, ep)
		}
	}
	desired := Desired(k.cfg, snap)
	add, del, change := Diff(mine, desired)
	var errs []error
	for _, ep := range del {
		attrs := []any{"addr", ep.Addr, "id", ep.ID, "flags", ep.Flags.String(), "dev", devName(snap, ep.IfIndex), "why", whyDelete(k.cfg, snap, ep, desired)}
		if err := k.pm.DeleteEndpoint(ep.ID, ep.Addr); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				delete(k.added, ep.Addr) // deleted by someone else since the dump
				continue
			}
			k.log.Warn("endpoint delete refused", append(attrs, kernelAttrs(err)...)...)
			errs = append(errs, err)
			continue
		}
		delete(k.added, ep.Addr)
		k.log.Info("endpoint deleted", attrs...)
	}
	for _, c := range change {
		attrs := []any{"addr", c.Endpoint.Addr, "id", c.Endpoint.ID, "flags", c.Flags.String(), "was", c.Endpoint.Flags.String()}
		if err := k.pm.ChangeEndpoint(c.Endpoint.ID, c.Change()); err != nil {
			k.log.Warn("endpoint change refused", append(attrs, kernelAttrs(err)...)...)
			errs = append(errs, err)
			continue
		}
		k.log.Info("endpoint changed", attrs...)
	}
	for _, ep := range add {
		attrs := []any{"addr", ep.Addr, "flags", ep.Flags.String(), "dev", devName(snap, ep.IfIndex)}
		if err := k.pm.AddEndpoint(ep); err != nil {
			k.log.Warn("endpoint add refused; retrying at the next change", append(attrs, kernelAttrs(err)...)...)
			errs = append(errs, err)
			continue
		}
		k.added[ep.Addr] = true
		k.log.Info("endpoint added", attrs...)
	}
	return errors.Join(errs...)
}

// devName names interface i for messages.
func devName(snap ifmon.Snapshot, i int32) string {
	if i == 0 {
		return ""
	}
	if l, ok := snap.Link(i); ok {
		return l.Name
	}
	return fmt.Sprintf("if%d (gone)", i)
}

// whyDelete says why endpoint ep is deleted, for the log.
func whyDelete(cfg *policy.EndpointConfig, snap ifmon.Snapshot, ep genl.Endpoint, desired []genl.Endpoint) string {
	for _, d := range desired {
		if d.Addr == ep.Addr {
			return "replaced (flags, port or interface differ)"
		}
	}
	l, ok := snap.ByAddr(ep.Addr)
	switch {
	case !ok:
		return "address gone"
	case !Allows(cfg, l):
		return "interface " + l.Name + " not allowed"
	case !l.Up:
		return "interface " + l.Name + " down"
	}
	return "duplicate"
}
