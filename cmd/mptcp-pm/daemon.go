package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/daemon"
	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/keeper"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

const daemonUsage = `Usage: mptcp-pm daemon [-c FILE] [--set-pm-type] [--endpoints] [--force] [--dry-run] [--control PATH] [--log-level LEVEL] [--quality SOURCE] [--metrics ADDR] [--event-buffer BYTES] [--audit-interval DURATION] [--user NAME]

Runs the path manager for the namespace (-n NETNS: that namespace) with the
userspace path manager (net.mptcp.pm_type=1). FILE is the main
configuration, default /etc/mptcp-pm/config.yaml; its policy directory
holds one policy per application.
  --set-pm-type      set net.mptcp.pm_type=1 if it is not (new connections only;
                     0 in endpoint mode)
  --endpoints        endpoint mode, as pm: kernel in FILE: leave the connections
                     to the kernel's path manager (net.mptcp.pm_type=0) and keep
                     its endpoints in line with the interfaces, after FILE's
                     endpoints section. No control socket and no policies;
                     see the endpoints with ` + "`mptcp-pm endpoint show`" + `
  --force            endpoint mode: start even though another manager of the
                     endpoints (another mptcp-pm in endpoint mode,
                     NetworkManager, mptcpd) runs in the namespace
  --dry-run          decide as usual but send the kernel nothing: each command
                     is logged as "would create-subflow ..." (and again after
                     a back-off while it is still wanted), pm_type, listeners
                     and eBPF programs are left alone; not in endpoint mode
  --control PATH     control socket (default /run/mptcp-pm/control.sock,
                     /run/mptcp-pm/netns-NETNS.sock with -n); a stale socket
                     there is replaced, anything else is an error
  --log-level LEVEL  debug, info, warn or error (default: the configuration's)
  --quality SOURCE   how subflows are measured: auto (eBPF probes, else
                     sock_diag polling; the default), bpf, sockdiag or off
  --metrics ADDR     serve Prometheus metrics on http://ADDR/metrics (ADDR is
                     host:port, e.g. 127.0.0.1:9464; the listener is in the
                     namespace mptcp-pm runs in, not the -n one); the daemon
                     exits with an error if it cannot listen on ADDR
  --event-buffer BYTES  receive buffer of the kernel event socket (default
                     16777216, 16 MiB, about 80,000 events); when it
                     overflows the daemon rebuilds its view from a kernel
                     dump, and once more a second later
  --audit-interval DURATION  how often, while it has connections, the
                     daemon checks that the kernel still has them, and
                     forgets those it has not (their CLOSED event never
                     came); default 30s, from 100ms to 1h
  --user NAME        once its sockets are open, switch to user NAME (and its
                     groups), keeping only the capabilities it needs; the
                     control socket and its directory become NAME's
SIGHUP reloads the configuration and policies; a bad file changes nothing
(endpoint mode does not reload: restart it).
Starts as root (or as a user with the capabilities it needs as ambient
ones, as systemd starts it) and drops, once its sockets are open, every
capability it no longer needs (see docs/privileges.md). Under systemd
(Type=notify) it sends READY=1 once its control socket answers. The Go garbage
collector runs at GOGC=50 unless GOGC is set: the heap is mostly
per-connection state, and that halves its headroom.
`

const statusUsage = `Usage: mptcp-pm status [--brief] [--control PATH]

Shows the running daemon's view: its version, how long it has run, which
path manager the kernel uses (net.mptcp.pm_type), warnings about what to
fix (such as a handover policy with no interface of its backup class,
or another manager of MPTCP in the namespace: "neighbour mptcpd pid 42"),
policies, interfaces and their classes, and each connection with its
application, mode, active interfaces and subflows; the counts of
connections and subflows; the event-to-command
latency (for each command a kernel event caused, from the event's receipt
to the command's sending) and the kernel's time for those commands (from
sending to acknowledgement): median, 99th percentile and maximum over the
last 65,536 such commands. -j prints it as JSON.
With no daemon for the namespace (none listens, or the one at the socket
manages another namespace), it prints the kernel's side instead: pm_type,
limits, endpoints, the managers of MPTCP found and MPTCP connections, and
exits with status 1.
  --brief   count the connections, do not list them (for busy hosts)
  --control PATH  the control socket (default: control_socket in
            /etc/mptcp-pm/config.yaml, else /run/mptcp-pm/control.sock, or
            /run/mptcp-pm/netns-NAME.sock in namespace NAME)
`

const reloadUsage = `Usage: mptcp-pm reload [--control PATH]

Makes the running daemon read its configuration and policies again (as
SIGHUP does) and reports whether they were accepted. Needs root.
`

const defaultConfig = "/etc/mptcp-pm/config.yaml"

// daemonGCPercent is the daemon's GOGC unless the environment sets one.
const daemonGCPercent = 50

// parseFlags reads --name VALUE / --name=VALUE / --flag words.
func parseFlags(cmd string, args []string, values map[string]*string, bools map[string]*bool) ([]string, error) {
	var rest []string
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if p, ok := bools[name]; ok && !hasVal {
			*p = true
			continue
		}
		p, ok := values[name]
		if !ok {
			return nil, usagef("%s: unknown option %q", cmd, a)
		}
		if !hasVal {
			if len(args) == 0 {
				return nil, usagef("%s: option %s needs a value", cmd, a)
			}
			val, args = args[0], args[1:]
		}
		*p = val
	}
	return rest, nil
}

// daemonFlags are the settings of `mptcp-pm daemon`, checked.
type daemonFlags struct {
	config, socket, level, quality, metrics, user string
	setPM, endpoints, force, dryRun               bool
	eventBuffer                                   int
	auditInterval                                 time.Duration
}

// parseDaemonFlags reads and checks the arguments of `mptcp-pm daemon`.
func parseDaemonFlags(args []string) (daemonFlags, error) {
	var f daemonFlags
	var evbuf, audit string
	rest, err := parseFlags("daemon", args,
		map[string]*string{"c": &f.config, "config": &f.config, "control": &f.socket, "log-level": &f.level, "quality": &f.quality,
			"metrics": &f.metrics, "event-buffer": &evbuf, "audit-interval": &audit, "user": &f.user},
		map[string]*bool{"set-pm-type": &f.setPM, "endpoints": &f.endpoints, "force": &f.force, "dry-run": &f.dryRun})
	if err != nil {
		return f, err
	}
	if len(rest) > 0 {
		return f, usagef("daemon: unexpected argument %q", rest[0])
	}
	if f.config == "" {
		f.config = defaultConfig
	}
	if evbuf != "" {
		n, err := strconv.Atoi(evbuf)
		if err != nil || n < 4096 || n > 1<<30 {
			return f, usagef("daemon: invalid --event-buffer %q (want a number of bytes from 4096 to 1073741824)", evbuf)
		}
		f.eventBuffer = n
	}
	if audit != "" {
		d, err := time.ParseDuration(audit)
		if err != nil || d < 100*time.Millisecond || d > time.Hour {
			return f, usagef("daemon: invalid --audit-interval %q (want a duration from 100ms to 1h, e.g. 30s)", audit)
		}
		f.auditInterval = d
	}
	if f.metrics != "" {
		if _, _, err := net.SplitHostPort(f.metrics); err != nil {
			return f, usagef("daemon: invalid --metrics %q (want HOST:PORT, e.g. 127.0.0.1:9464)", f.metrics)
		}
	}
	switch f.quality {
	case "", daemon.QualityAuto, daemon.QualityBPF, daemon.QualitySockdiag, daemon.QualityOff:
	default:
		return f, usagef("daemon: invalid --quality %q (want %s, %s, %s or %s)", f.quality,
			daemon.QualityAuto, daemon.QualityBPF, daemon.QualitySockdiag, daemon.QualityOff)
	}
	return f, nil
}

func runDaemon(e *env, args []string) error {
	f, err := parseDaemonFlags(args)
	if err != nil {
		return err
	}
	// Check the configuration before anything else, to name its mistakes.
	// It is read once, with the policies unless in endpoint mode.
	set, err := loadInstalled(f.config, f.endpoints)
	if err != nil {
		return err
	}
	conf := set.Config
	log, err := daemonLogger(e, cmp.Or(f.level, conf.LogLevel))
	if err != nil {
		return err
	}
	var as *caps.Identity
	if f.user != "" {
		if as, err = caps.LookupUser(f.user); err != nil {
			return fmt.Errorf("daemon: --user: %w", err)
		}
	}
	if endpointMode(conf, f.endpoints) {
		if f.dryRun {
			return usagef("daemon: --dry-run applies to the userspace path manager, not to endpoint mode (pm: kernel in %s, or --endpoints)", f.config)
		}
		if f.socket != "" || f.quality != "" || f.metrics != "" {
			log.Info("endpoint mode: --control, --quality and --metrics do not apply")
		}
		return runEndpointKeeper(e, log, conf, as, keeper.Options{NetNS: e.nsfd, NetNSName: netnsName(e), SetPMType: f.setPM, Force: f.force, Logger: log})
	}
	if f.force {
		log.Info("--force applies to endpoint mode only")
	}
	if conf.HasEndpoints {
		log.Info("the endpoints section applies in endpoint mode only (pm: kernel or --endpoints)", "config", f.config)
	}
	d, err := daemon.New(set, daemon.Options{NetNS: e.nsfd, NetNSName: netnsName(e),
		SetPMType: f.setPM, ControlSocket: f.socket, Quality: f.quality, MetricsListen: f.metrics, EventBuffer: f.eventBuffer,
		AuditInterval: f.auditInterval, DropCapabilities: true, User: as, DryRun: f.dryRun, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	return runUserspace(e, log, d)
}

// daemonLogger is the daemon's logger at level, which also sets the
// garbage collector's pace.
func daemonLogger(e *env, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("daemon: invalid log level %q (want debug, info, warn or error)", level)
	}
	if os.Getenv("GOGC") == "" {
		// The heap is mostly long-lived per-connection state: collecting
		// at 1.5 times it instead of twice keeps 10,000 connections
		// under 40 MiB of RSS for little CPU (see docs/scale.md).
		debug.SetGCPercent(daemonGCPercent)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lv})), nil
}

// runUserspace runs d until the context ends, reloading on SIGHUP once it
// is ready. d drops the capabilities it does not need once its control
// socket is set up (see daemon.Options.DropCapabilities).
func runUserspace(e *env, log *slog.Logger, d *daemon.Daemon) error {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	notified := notifySystemd(ctx, log, d.Ready())
	defer notified()
	defer cancel() // STOPPING=1 also when the daemon fails
	go func() {
		select {
		case <-d.Ready():
		case <-ctx.Done():
			return
		}
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading")
				_ = d.Reload(ctx) // the daemon logs the outcome
			case <-ctx.Done():
				return
			}
		}
	}()
	err := d.Run(ctx)
	if err == nil || errors.Is(err, context.Canceled) {
		log.Info("stopped")
		return nil
	}
	return err
}

// runEndpointKeeper runs endpoint mode until the context ends.
func runEndpointKeeper(e *env, log *slog.Logger, conf *policy.Config, as *caps.Identity, opts keeper.Options) error {
	k, err := keeper.New(conf, opts)
	if err != nil {
		return err
	}
	defer k.Close()
	drop, err := caps.Drop(caps.List(caps.ForEndpoints()), as)
	if err != nil {
		return err
	}
	log.Info("capabilities dropped", "kept", drop.String(), "bounding", drop.Bounding, "uid", os.Getuid())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ready := make(chan struct{})
	close(ready) // its sockets are open and the capabilities dropped
	defer notifySystemd(ctx, log, ready)()
	defer cancel()
	go func() {
		for {
			select {
			case <-hup:
				log.Warn("SIGHUP: endpoint mode does not reload; restart the daemon to apply a changed configuration")
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := k.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped; the endpoints stay as they are")
	return nil
}

func runStatus(e *env, args []string) error {
	var socket string
	var brief bool
	rest, err := parseFlags("status", args, map[string]*string{"control": &socket}, map[string]*bool{"brief": &brief})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("status: unexpected argument %q", rest[0])
	}
	r, err := askDaemon(e, socket, control.Request{Query: control.QueryStatus, Brief: brief}, 5*time.Second)
	if errors.Is(err, errNoDaemon) {
		return kernelStatus(e, err)
	}
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, r.Status)
	}
	printStatus(e.stdout, r.Status, time.Now())
	return nil
}

func runReload(e *env, args []string) error {
	var socket string
	rest, err := parseFlags("reload", args, map[string]*string{"control": &socket}, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("reload: unexpected argument %q", rest[0])
	}
	_, err = askDaemon(e, socket, control.Request{Query: control.QueryReload}, 5*time.Second)
	return err
}
