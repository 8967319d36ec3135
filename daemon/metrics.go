package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// metrics is the daemon's Prometheus metrics (--metrics ADDR), served on
// /metrics from a registry of its own, with the Go runtime and process
// collectors. Every method is safe on a nil *metrics (no metrics
// configured) and does nothing then. command, handover, sample and forget
// are called on the daemon's loop: they only update in-memory metrics and
// never block.
//
// The metrics, all in namespace mptcp_pm:
//
//   - mptcp_pm_connections{mode,application,side} (gauge): the connections
//     the daemon knows, by policy mode, application (policy name) and side
//     (client or server). Every loaded policy has its series, 0 without
//     connections.
//   - mptcp_pm_subflows{interface,backup} (gauge): their subflows, by local
//     interface ("unknown" if no interface has the address) and backup flag
//     ("true" or "false"). Every known interface has its series.
//   - mptcp_pm_bad_paths{interface,reason} (gauge): connections for which
//     the path over interface is measured bad, by reason (rto, stall, loss, rtt, silent).
//   - mptcp_pm_scrape_errors_total (counter): scrapes for which the loop's
//     view could not be had within 2 s; the three gauges above are missing
//     from those scrapes.
//   - mptcp_pm_commands_total{kind,result} (counter): commands sent to the
//     kernel's path manager, by kind (create-subflow, destroy-subflow,
//     set-backup, remove-addr) and result (ok or refused).
//   - mptcp_pm_handovers_total (counter) and mptcp_pm_handover_seconds
//     (histogram, 1 ms to 10 s): handovers of connections in handover mode,
//     and the time each took from what asked for it (a link going down, a
//     path measured bad...) to the new subflow being up.
//   - mptcp_pm_event_to_command_seconds (histogram, 10 µs to 1 s): for
//     each command a kernel event caused, the time from the event's
//     receipt to the command's sending.
//   - mptcp_pm_subflow_rtt_seconds{interface} (histogram, 100 µs to 5 s):
//     the smoothed RTT of every measurement of a client-side subflow.
//   - mptcp_pm_segments_sent_total{interface} and
//     mptcp_pm_segments_retransmitted_total{interface} (counters): segments
//     the client-side subflows sent and retransmitted, from the growth of
//     each subflow's cumulative counters between two measurements (the
//     first measurement of a subflow is only its baseline; segments sent
//     before it are not counted). The loss of a path is the ratio of their
//     rates:
//     rate(mptcp_pm_segments_retransmitted_total[5m]) / rate(mptcp_pm_segments_sent_total[5m]).
//   - mptcp_pm_kernel_events_total{type} (counter): the kernel's MPTCP
//     events the daemon received, by type as `ip mptcp monitor` names them,
//     lower case (created, sf_established...; unknown for a type this
//     build does not know).
//   - mptcp_pm_resyncs_total{reason} (counter): rebuilds of the view of
//     the kernel from a sock_diag dump, by reason: start, overflow, and
//     overflow_recheck (the second rebuild a second after an overflow).
//   - mptcp_pm_event_socket_overflows_total (counter): ENOBUFS on the
//     kernel event socket, each one events lost and a rebuild.
//   - mptcp_pm_build_info{version,revision,goversion} (gauge, always 1):
//     the running build (package internal/buildinfo).
type metrics struct {
	status func(context.Context) (*Status, error)
	reg    *prometheus.Registry

	commands        *prometheus.CounterVec
	handovers       prometheus.Counter
	handoverSeconds prometheus.Histogram
	eventToCmd      prometheus.Histogram
	rtt             *prometheus.HistogramVec
	sent            *prometheus.CounterVec
	retrans         *prometheus.CounterVec
	// events are the kernel events counted, by type (an array, not a
	// vector lookup: one increment per event on the loop).
	events    [256]prometheus.Counter
	resyncs   *prometheus.CounterVec
	overflows prometheus.Counter

	mu   sync.Mutex // guards last
	last map[[2]netip.AddrPort]segCounts
}

// segCounts are a subflow's cumulative counters at its last measurement.
type segCounts struct {
	iface            string
	segsOut, retrans uint64
}

const metricsNamespace = "mptcp_pm"

// statusTimeout bounds how long a scrape waits for the loop's view.
const statusTimeout = 2 * time.Second

// The metrics listener's limits: any local user can connect to it, and
// must not be able to take every file descriptor the daemon has (then the
// control socket and the kernel lookups fail) by holding connections
// open. Clients beyond maxMetricsClients wait in the kernel's backlog
// (they cost the daemon no descriptor); a client that sends no request,
// or idles between requests, is closed within metricsIdleTimeout.
const (
	maxMetricsClients     = 16
	metricsHeaderTimeout  = 5 * time.Second
	metricsReadTimeout    = 10 * time.Second
	metricsWriteTimeout   = 15 * time.Second // promhttp's 10 s, and the time to send
	metricsIdleTimeout    = 10 * time.Second
	metricsMaxHeaderBytes = 8 << 10
)

// newMetrics makes the metrics; status gives the loop's view for the
// gauges, read at scrape time.
func newMetrics(status func(context.Context) (*Status, error)) *metrics {
	m := &metrics{
		status: status,
		reg:    prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "commands_total",
			Help: "Commands sent to the kernel's path manager, by kind and result (ok or refused)."},
			[]string{"kind", "result"}),
		handovers: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "handovers_total",
			Help: "Handovers of connections in handover mode: the new subflow is up."}),
		handoverSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "handover_seconds",
			Help:    "Time from what asked for a handover to the new subflow being up.",
			Buckets: decadeBuckets(0.001, 10)}),
		eventToCmd: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "event_to_command_seconds",
			Help:    "Time from the receipt of a kernel event to the sending of a command it caused.",
			Buckets: decadeBuckets(0.00001, 1)}),
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "subflow_rtt_seconds",
			Help:    "Smoothed RTT of the client-side subflows at each measurement, by local interface.",
			Buckets: decadeBuckets(0.0001, 5)}, []string{"interface"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "segments_sent_total",
			Help: "Segments sent by the client-side subflows, by local interface."}, []string{"interface"}),
		retrans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "segments_retransmitted_total",
			Help: "Segments retransmitted by the client-side subflows, by local interface; loss = rate(this) / rate(mptcp_pm_segments_sent_total)."},
			[]string{"interface"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "resyncs_total",
			Help: "Rebuilds of the view of the kernel from a sock_diag dump, by reason (start, overflow, overflow_recheck)."},
			[]string{"reason"}),
		overflows: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "event_socket_overflows_total",
			Help: "Overflows (ENOBUFS) of the kernel event socket: events were lost and the view rebuilt."}),
		last: map[[2]netip.AddrPort]segCounts{},
	}
	kernelEvents := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "kernel_events_total",
		Help: "MPTCP events received from the kernel, by type."}, []string{"type"})
	for t := range m.events {
		m.events[t] = kernelEvents.WithLabelValues(eventLabel(genl.EventType(t)))
	}
	for _, r := range []string{resyncStart, resyncOverflow, resyncRecheck} {
		m.resyncs.WithLabelValues(r)
	}
	bi := buildinfo.Read()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "build_info",
		Help: "The running build: module version, commit and Go version; always 1."}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(bi.Version, bi.ShortRevision(), bi.GoVersion).Set(1)
	// The known kinds start at 0, so that rates and alerts on refusals
	// work before the first one.
	for _, k := range []engine.ActionKind{engine.CreateSubflow, engine.DestroySubflow, engine.SetBackup, engine.RemoveAddr} {
		m.commands.WithLabelValues(k.String(), "ok")
		m.commands.WithLabelValues(k.String(), "refused")
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statusCollector{status: status},
		m.commands, m.handovers, m.handoverSeconds, m.eventToCmd, m.rtt, m.sent, m.retrans,
		kernelEvents, m.resyncs, m.overflows, buildInfo,
	)
	return m
}

// serve serves /metrics on addr until ctx ends. It returns nil on a clean
// stop and the error otherwise, such as the address being in use.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) error {
	if m == nil {
		<-ctx.Done()
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return m.serveListener(ctx, ln, log)
}

// serveListener is serve on a listener, which it closes.
func (m *metrics) serveListener(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	// http.Server retries an accept that fails for lack of descriptors,
	// with a back-off; the limits keep this listener from causing it.
	srv := &http.Server{Handler: mux,
		ReadHeaderTimeout: metricsHeaderTimeout,
		ReadTimeout:       metricsReadTimeout,
		WriteTimeout:      metricsWriteTimeout,
		IdleTimeout:       metricsIdleTimeout,
		MaxHeaderBytes:    metricsMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(netutil.LimitListener(ln, maxMetricsClients)) }()
	log.Info("metrics", "listen", ln.Addr().String(), "path", "/metrics")
	select {
	case err := <-errc:
		return err // Serve never returns nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // a scrape that does not end
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// promLogger logs promhttp's errors.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// command counts one command sent to the kernel, refused or not.
func (m *metrics) command(kind string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "refused"
	}
	m.commands.WithLabelValues(kind, result).Inc()
}

// handover records the time one handover took.
func (m *metrics) handover(d time.Duration) {
	if m == nil {
		return
	}
	m.handovers.Inc()
	m.handoverSeconds.Observe(max(d, 0).Seconds())
}

// eventToCommand records the latency of one command a kernel event caused.
func (m *metrics) eventToCommand(d time.Duration) {
	if m == nil {
		return
	}
	m.eventToCmd.Observe(max(d, 0).Seconds())
}

// sample records one measurement of a subflow (cumulative counters): its
// RTT, and the growth of its counters since its last measurement. The
// first measurement of a subflow is its baseline; counters that went back
// are a new subflow with the same addresses, whose baseline they are.
func (m *metrics) sample(sf [2]netip.AddrPort, iface string, srtt time.Duration, segsOut, retrans uint64) {
	if m == nil {
		return
	}
	if srtt > 0 {
		m.rtt.WithLabelValues(iface).Observe(srtt.Seconds())
	}
	now := segCounts{iface: iface, segsOut: segsOut, retrans: retrans}
	m.mu.Lock()
	prev, ok := m.last[sf]
	m.last[sf] = now
	m.mu.Unlock()
	if !ok || prev.iface != iface || segsOut < prev.segsOut || retrans < prev.retrans {
		return
	}
	if d := segsOut - prev.segsOut; d > 0 {
		m.sent.WithLabelValues(iface).Add(float64(d))
	}
	if d := retrans - prev.retrans; d > 0 {
		m.retrans.WithLabelValues(iface).Add(float64(d))
	}
}

// forget drops the baselines of the subflows gone.
func (m *metrics) forget(gone [][2]netip.AddrPort) {
	if m == nil || len(gone) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range gone {
		delete(m.last, k)
	}
}

// statusCollector computes the gauges from the loop's view at scrape time.
type statusCollector struct {
	status func(context.Context) (*Status, error)
	errors atomic.Uint64
}

var (
	connectionsDesc = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "connections"),
		"Connections the daemon knows, by policy mode, application and side (client or server).",
		[]string{"mode", "application", "side"}, nil)
	subflowsDesc = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "subflows"),
		"Subflows of the connections the daemon knows, by local interface and backup flag.",
		[]string{"interface", "backup"}, nil)
	badPathsDesc = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "bad_paths"),
		"Connections for which the path over interface is measured bad, by reason (rto, stall, loss, rtt, silent).",
		[]string{"interface", "reason"}, nil)
	scrapeErrorsDesc = prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "scrape_errors_total"),
		"Scrapes for which the daemon's view could not be had (the connection, subflow and bad path gauges are missing).",
		nil, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectionsDesc
	ch <- subflowsDesc
	ch <- badPathsDesc
	ch <- scrapeErrorsDesc
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st, err := c.status(ctx)
	if err != nil || st == nil {
		c.errors.Add(1)
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorsDesc, prometheus.CounterValue, float64(c.errors.Load()))
	if err != nil || st == nil {
		return
	}
	type connKey struct{ mode, app, side string }
	type sfKey struct{ iface, backup string }
	type badKey struct{ iface, reason string }
	conns := map[connKey]int{}
	for _, p := range st.Policies {
		conns[connKey{p.Mode, p.Name, "client"}] += 0
		conns[connKey{p.Mode, p.Name, "server"}] += 0
	}
	sfs := map[sfKey]int{}
	for _, i := range st.Interfaces {
		sfs[sfKey{i.Name, "false"}] += 0
		sfs[sfKey{i.Name, "true"}] += 0
	}
	bad := map[badKey]int{}
	for _, cs := range st.Connections {
		side := "client"
		if cs.ServerSide {
			side = "server"
		}
		conns[connKey{cs.Mode, cs.Application, side}]++
		for _, sf := range cs.Subflows {
			iface := sf.Interface
			if iface == "" {
				iface = "unknown"
			}
			sfs[sfKey{iface, strconv.FormatBool(sf.Backup)}]++
		}
		for iface, why := range cs.Bad {
			bad[badKey{iface, why}]++
		}
	}
	for k, n := range conns {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(n), k.mode, k.app, k.side)
	}
	for k, n := range sfs {
		ch <- prometheus.MustNewConstMetric(subflowsDesc, prometheus.GaugeValue, float64(n), k.iface, k.backup)
	}
	for k, n := range bad {
		ch <- prometheus.MustNewConstMetric(badPathsDesc, prometheus.GaugeValue, float64(n), k.iface, k.reason)
	}
}
