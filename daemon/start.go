package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/pmtype"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// Options are the daemon's command-line settings.
type Options struct {
	NetNS     int    // fd of the namespace to manage, 0 for the daemon's own
	NetNSName string // its name, for messages and the default control socket
	// SetPMType sets net.mptcp.pm_type=1 at start (also when the
	// configuration says so).
	SetPMType bool
	// ControlSocket overrides the configuration's control socket path.
	ControlSocket string
	// Quality is how subflows are measured: QualityAuto (default: eBPF
	// probes, else sock_diag polling), QualityBPF, QualitySockdiag or
	// QualityOff.
	Quality string
	// MetricsListen, if set, is the address (host:port) of an HTTP
	// listener serving Prometheus metrics on /metrics.
	MetricsListen string
	// EventBuffer is the kernel event socket's receive buffer in bytes
	// (0: DefaultEventBuffer). When it overflows, the daemon rebuilds its
	// view from a kernel dump.
	EventBuffer int
	// AuditInterval is how often, while it has connections, the daemon
	// checks them against the kernel's (0: DefaultAuditInterval).
	AuditInterval time.Duration
	// DropCapabilities makes Run drop every capability but what
	// Capabilities lists, once the control socket is set up (it may need
	// CAP_CHOWN for the control group) and before the loop starts.
	DropCapabilities bool
	// DryRun runs the loop without sending the kernel any command, nor
	// changing anything else of the host: each is logged as "would …"
	// (dryrun.go).
	DryRun bool
	// User, with DropCapabilities, is the user the daemon switches to
	// before it drops its capabilities (nil: it stays who it is). The
	// control socket and its directory, if it makes it, are that user's.
	User   *caps.Identity
	Logger *slog.Logger
	// RuntimeDir keeps the record of the pm_type found at start (""
	// for pmtype.DefaultRuntimeDir).
	RuntimeDir string
}

// DefaultEventBuffer is the event socket's receive buffer unless Options
// say otherwise: 16 MiB, room for about 80,000 events (three per
// connection: ten seconds of a host opening 2,500 connections a second
// while the daemon is held up). The kernel takes the memory only for the
// events queued.
const DefaultEventBuffer = 16 << 20

// New checks the kernel for set, the configuration and policies as
// policy.Load read them (Reload reads set.Config.Source again), and opens
// every socket the daemon needs; Run then starts it. The caller closes
// the Daemon.
func New(set *policy.Set, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Logger, path: set.Config.Source, ready: make(chan struct{}),
		reloadc: make(chan reloadReq), statusc: make(chan statusReq), loopc: make(chan func()), matched: map[uint32]matchInfo{},
		announceLog: newRateLog[uint32](announceLogBurst, announceLogInterval)}
	d.set = set
	d.build = buildinfo.Read()
	d.warnSkipped(set)
	if err := d.checkPMType(); err != nil {
		return nil, err
	}
	if ino, err := netns.Inode(opts.NetNS); err == nil {
		d.nsInode = ino
	}
	d.claimNeighbours()
	var err error
	if d.pmTypeFile, err = openPMType(opts.NetNS); err != nil {
		d.log.Warn("net.mptcp.pm_type cannot be read: status will not show it", "err", err)
	}
	cfg := &genl.Config{NetNS: opts.NetNS}
	// Events first: what happens from here on is seen, and the adoption
	// dump that follows covers what happened before.
	if d.events, err = genl.NewEvents(cfg); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.events.SetReadBuffer(cmp.Or(opts.EventBuffer, DefaultEventBuffer)); err != nil {
		d.log.Warn("event socket buffer not enlarged", "err", err)
	}
	if d.exec, err = newExecutor(cfg); err != nil {
		d.Close()
		return nil, err
	}
	if opts.DryRun {
		d.exec.do = func(int, engine.Action) error { return errNotSent }
	}
	d.inflight = map[inflightKey]bool{}
	if d.diag, err = sockdiag.New(&sockdiag.Config{NetNS: opts.NetNS, Listeners: true}); err != nil {
		d.Close()
		return nil, err
	}
	if d.mon, err = ifmon.New(ifmon.Config{NetNS: opts.NetNS, Rules: set.Config.Rules(), Logf: d.logf}); err != nil {
		d.Close()
		return nil, err
	}
	d.routes.router = d.mon
	d.owners = newOwners(d.diag, d.opts.NetNS, d.log)
	d.owners.setPolicies(set)
	if d.quality, err = openQuality(opts.Quality, opts.NetNS, d.log); err != nil {
		d.Close()
		return nil, err
	}
	if opts.MetricsListen != "" {
		d.metrics = newMetrics(d.Status)
	}
	d.handovers = map[handoverKey]handover{}
	d.dec = newDecisionHub(d.metrics, opts.DryRun)
	if err := d.syncHost(set); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) logf(format string, args ...any) { d.log.Debug(fmt.Sprintf(format, args...)) }

// checkPMType makes sure the namespace runs the userspace path manager:
// with the in-kernel one, the kernel ignores the commands the daemon sends.
// What it changes, Close puts back (see package pmtype).
func (d *Daemon) checkPMType() error {
	where := "this namespace"
	if d.opts.NetNSName != "" {
		where = "namespace " + d.opts.NetNSName
	}
	if d.opts.DryRun {
		// A dry run leaves pm_type alone: nothing changed, recorded or
		// put back at stop.
		v, err := netns.ReadSysctl(d.opts.NetNS, "net/mptcp/pm_type")
		if err != nil {
			return fmt.Errorf("MPTCP is not enabled in %s: %w", where, err)
		}
		if v != "1" {
			d.log.Warn("dry run: net.mptcp.pm_type is not 1, the kernel's own path manager is in charge; "+
				"the daemon says what it would do with the userspace one", "netns", where, "pm_type", v)
		}
		return nil
	}
	sw, err := pmtype.Read(d.opts.NetNS, d.opts.RuntimeDir)
	if errors.Is(err, pmtype.ErrNoMPTCP) {
		return fmt.Errorf("MPTCP is not enabled in %s: %w", where, err)
	}
	if err != nil {
		return err
	}
	if sw.Inherited {
		d.log.Warn("a daemon that did not stop cleanly changed net.mptcp.pm_type; the value it found is put back at stop",
			"netns", where, "found", sw.Found, "set", sw.Set, "record", sw.Record)
	}
	if v := sw.Current(); v != "1" {
		if !d.opts.SetPMType && !d.set.Config.SetPMType {
			return fmt.Errorf("net.mptcp.pm_type is %s in %s: the kernel's own path manager is in charge and would ignore mptcp-pm. "+
				"Run `sysctl -w net.mptcp.pm_type=1` (it affects new connections only), start with --set-pm-type, or set set_pm_type: true in %s",
				v, where, d.set.Config.Source)
		}
		if err := sw.Change(d.opts.RuntimeDir, "1"); err != nil {
			return err
		}
		if sw.RecordErr != nil {
			d.log.Warn("the pm_type found is not recorded: after a crash nothing puts it back", "err", sw.RecordErr)
		}
		d.log.Info("set net.mptcp.pm_type=1 (userspace path manager); connections opened before keep the in-kernel one; put back at stop",
			"netns", where, "was", v)
	}
	d.pmType = sw
	return nil
}

// restorePMType puts back the pm_type the daemon found, if it changed it.
func (d *Daemon) restorePMType() {
	if d.pmType == nil {
		return
	}
	wrote, err := d.pmType.Restore()
	switch {
	case err != nil:
		d.log.Warn("net.mptcp.pm_type not put back", "want", d.pmType.Found, "err", err)
	case wrote:
		d.log.Info("put back net.mptcp.pm_type", "value", d.pmType.Found)
	}
	d.pmType = nil
}

// Close closes every socket.
func (d *Daemon) Close() {
	if d.events != nil {
		_ = d.events.Close()
	}
	if d.exec != nil {
		d.exec.close()
	}
	if d.diag != nil {
		_ = d.diag.Close()
	}
	if d.quality != nil {
		_ = d.quality.close()
	}
	if d.pmTypeFile != nil {
		_ = d.pmTypeFile.Close()
	}
	d.listeners.closeAll()
	d.mptcpify.closeAll()
	if d.marker != nil {
		d.marker.Close()
		d.marker = nil
	}
	d.restorePMType()
}
