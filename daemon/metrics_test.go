package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// gathered is one gathered registry: family name -> its metrics.
type gathered map[string]*dto.MetricFamily

func gather(t *testing.T, m *metrics) gathered {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	g := gathered{}
	for _, f := range fams {
		g[f.GetName()] = f
	}
	return g
}

// find returns the metric of family name with exactly the labels given
// (name=value pairs), or nil.
func (g gathered) find(name string, labels ...string) *dto.Metric {
	f := g[name]
	if f == nil {
		return nil
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if v, has := want[l.GetName()]; !has || v != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value is the value of a gauge or counter, -1 if it is missing.
func (g gathered) value(name string, labels ...string) float64 {
	m := g.find(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return -1
}

func testStatus() *Status {
	return &Status{
		Policies: []PolicyStatus{{Name: "video", Mode: "handover"}, {Name: "default", Mode: "aggregate"}},
		Interfaces: []InterfaceStatus{
			{Name: "wlan0", Class: "wifi", Up: true},
			{Name: "wwan0", Class: "cellular", Up: true},
		},
		Connections: []ConnStatus{
			{Token: "1", Application: "video", Mode: "handover", Subflows: []SubflowStatus{
				{Interface: "wlan0"}, {Interface: "wwan0", Backup: true}}, Bad: map[string]string{"wwan0": "rtt"}},
			{Token: "2", Application: "video", Mode: "handover", Subflows: []SubflowStatus{{Interface: "wlan0"}}},
			{Token: "3", Application: "default", Mode: "aggregate", Subflows: []SubflowStatus{
				{Interface: "wlan0"}, {Interface: "wwan0"}, {}}, Bad: map[string]string{"wlan0": "loss"}},
			{Token: "4", Application: "default", Mode: "aggregate", ServerSide: true, Subflows: []SubflowStatus{{Interface: "wlan0"}},
				Bad: map[string]string{"wlan0": "loss"}},
		},
	}
}

func TestMetricsStatusGauges(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return testStatus(), nil })
	g := gather(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mptcp_pm_connections", []string{"mode", "handover", "application", "video", "side", "client"}, 2},
		{"mptcp_pm_connections", []string{"mode", "handover", "application", "video", "side", "server"}, 0},
		{"mptcp_pm_connections", []string{"mode", "aggregate", "application", "default", "side", "client"}, 1},
		{"mptcp_pm_connections", []string{"mode", "aggregate", "application", "default", "side", "server"}, 1},
		{"mptcp_pm_subflows", []string{"interface", "wlan0", "backup", "false"}, 4},
		{"mptcp_pm_subflows", []string{"interface", "wlan0", "backup", "true"}, 0},
		{"mptcp_pm_subflows", []string{"interface", "wwan0", "backup", "false"}, 1},
		{"mptcp_pm_subflows", []string{"interface", "wwan0", "backup", "true"}, 1},
		{"mptcp_pm_subflows", []string{"interface", "unknown", "backup", "false"}, 1},
		{"mptcp_pm_bad_paths", []string{"interface", "wlan0", "reason", "loss"}, 2},
		{"mptcp_pm_bad_paths", []string{"interface", "wwan0", "reason", "rtt"}, 1},
		{"mptcp_pm_scrape_errors_total", nil, 0},
		// The Go and process collectors are registered too.
		{"go_goroutines", nil, -2},
		{"process_open_fds", nil, -2},
	} {
		got := g.value(c.name, c.labels...)
		if c.want == -2 {
			if got < 0 {
				t.Errorf("%s missing", c.name)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(g["mptcp_pm_connections"].GetMetric()); n != 4 {
		t.Errorf("%d connection series, want 4", n)
	}
}

func TestMetricsStatusError(t *testing.T) {
	m := newMetrics(func(ctx context.Context) (*Status, error) { return nil, errors.New("loop busy") })
	for i := 1; i <= 2; i++ {
		g := gather(t, m)
		if g["mptcp_pm_connections"] != nil || g["mptcp_pm_subflows"] != nil {
			t.Errorf("gauges present although the status failed")
		}
		if got := g.value("mptcp_pm_scrape_errors_total"); got != float64(i) {
			t.Errorf("scrape %d: scrape_errors_total = %v", i, got)
		}
	}
	// A status that never answers: the scrape gives up after statusTimeout.
	m = newMetrics(func(ctx context.Context) (*Status, error) { <-ctx.Done(); return nil, ctx.Err() })
	start := time.Now()
	if got := gather(t, m).value("mptcp_pm_scrape_errors_total"); got != 1 {
		t.Errorf("scrape_errors_total = %v after a timeout", got)
	}
	if d := time.Since(start); d > statusTimeout+time.Second {
		t.Errorf("scrape took %v", d)
	}
}

func TestMetricsCommandsAndHandovers(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return &Status{}, nil })
	g := gather(t, m)
	if got := g.value("mptcp_pm_commands_total", "kind", "set-backup", "result", "refused"); got != 0 {
		t.Errorf("known kinds do not start at 0: %v", got)
	}
	m.command("create-subflow", nil)
	m.command("create-subflow", nil)
	m.command("create-subflow", errors.New("EINVAL"))
	m.command("remove-addr", nil)
	m.handover(120 * time.Millisecond)
	m.handover(2 * time.Second)
	m.handover(-time.Millisecond) // clock step: counted as 0
	g = gather(t, m)
	for _, c := range []struct {
		kind, result string
		want         float64
	}{{"create-subflow", "ok", 2}, {"create-subflow", "refused", 1}, {"remove-addr", "ok", 1}, {"destroy-subflow", "ok", 0}} {
		if got := g.value("mptcp_pm_commands_total", "kind", c.kind, "result", c.result); got != c.want {
			t.Errorf("commands_total{kind=%s,result=%s} = %v, want %v", c.kind, c.result, got, c.want)
		}
	}
	if got := g.value("mptcp_pm_handovers_total"); got != 3 {
		t.Errorf("handovers_total = %v", got)
	}
	h := g.find("mptcp_pm_handover_seconds").GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 2.119 || h.GetSampleSum() > 2.121 {
		t.Errorf("handover_seconds count %d sum %v, want 3, 2.12", h.GetSampleCount(), h.GetSampleSum())
	}
	b := h.GetBucket()
	if len(b) == 0 || b[0].GetUpperBound() != 0.001 || b[len(b)-1].GetUpperBound() < 9.99 || b[len(b)-1].GetUpperBound() > 10.01 {
		t.Errorf("handover buckets from %v to %v, want 1 ms to 10 s", b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
	}
}

func TestMetricsSamples(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return &Status{}, nil })
	a := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:5201")}
	b := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.2.2:40001"), netip.MustParseAddrPort("10.0.3.2:5201")}
	ms := time.Millisecond
	check := func(step, iface string, sent, retrans float64) {
		t.Helper()
		g := gather(t, m)
		if got := g.value("mptcp_pm_segments_sent_total", "interface", iface); got != sent {
			t.Errorf("%s: segments_sent_total{%s} = %v, want %v", step, iface, got, sent)
		}
		if got := g.value("mptcp_pm_segments_retransmitted_total", "interface", iface); got != retrans {
			t.Errorf("%s: segments_retransmitted_total{%s} = %v, want %v", step, iface, got, retrans)
		}
	}

	m.sample(a, "wlan0", 10*ms, 1000, 10) // baseline only
	check("baseline", "wlan0", -1, -1)
	m.sample(a, "wlan0", 12*ms, 1100, 15)
	check("delta", "wlan0", 100, 5)
	m.sample(b, "wwan0", 60*ms, 50, 0)
	m.sample(a, "wlan0", 0, 1100, 15) // no growth, no RTT yet
	m.sample(b, "wwan0", 70*ms, 80, 1)
	check("second subflow", "wlan0", 100, 5)
	check("second subflow", "wwan0", 30, 1)

	// Counters going back: a new subflow with the same addresses; its
	// values are the new baseline.
	m.sample(a, "wlan0", 10*ms, 20, 0)
	check("re-baseline", "wlan0", 100, 5)
	m.sample(a, "wlan0", 10*ms, 70, 2)
	check("after re-baseline", "wlan0", 150, 7)

	// Forgotten: the next sample of a is a baseline again.
	m.forget([][2]netip.AddrPort{a})
	if _, ok := m.last[a]; ok || len(m.last) != 1 {
		t.Errorf("forget kept %v", m.last)
	}
	m.sample(a, "wlan0", 10*ms, 500, 50)
	check("after forget", "wlan0", 150, 7)
	m.sample(b, "wwan0", 70*ms, 90, 1)
	check("kept", "wwan0", 40, 1)

	g := gather(t, m)
	h := g.find("mptcp_pm_subflow_rtt_seconds", "interface", "wlan0").GetHistogram()
	if h.GetSampleCount() != 5 { // the sample without an RTT is not counted
		t.Errorf("rtt count{wlan0} = %d, want 5", h.GetSampleCount())
	}
	if want := 0.052; h.GetSampleSum() < want-1e-9 || h.GetSampleSum() > want+1e-9 {
		t.Errorf("rtt sum{wlan0} = %v, want %v", h.GetSampleSum(), want)
	}
	if b := h.GetBucket(); b[0].GetUpperBound() < 0.0000999 || b[0].GetUpperBound() > 0.0001001 || b[len(b)-1].GetUpperBound() < 4.99 {
		t.Errorf("rtt buckets from %v to %v, want 100 µs to 5 s", b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
	}
	if h := g.find("mptcp_pm_subflow_rtt_seconds", "interface", "wwan0").GetHistogram(); h.GetSampleCount() != 3 {
		t.Errorf("rtt count{wwan0} = %d, want 3", h.GetSampleCount())
	}
}

func TestMetricsNil(t *testing.T) {
	var m *metrics
	m.command("create-subflow", nil)
	m.handover(time.Second)
	m.sample([2]netip.AddrPort{}, "wlan0", time.Millisecond, 1, 1)
	m.forget(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.serve(ctx, "127.0.0.1:0", nil); err != nil {
		t.Errorf("nil serve: %v", err)
	}
}

func TestMetricsServe(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return testStatus(), nil })
	m.command("create-subflow", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.serveListener(ctx, ln, slog.New(slog.DiscardHandler)) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	for _, s := range []string{
		`mptcp_pm_commands_total{kind="create-subflow",result="ok"} 1`,
		`mptcp_pm_connections{application="video",mode="handover",side="client"} 2`,
		"# TYPE mptcp_pm_handover_seconds histogram",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}

	// The address in use: serve says so.
	if err := m.serve(ctx, ln.Addr().String(), nil); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("serve on a used address: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after ctx ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop when ctx ended")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Errorf("still listening after the stop")
	}
}

// TestMetricsClientLimit: clients that hold connections open take at most
// maxMetricsClients descriptors; one more is served once one of them goes.
func TestMetricsClientLimit(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return testStatus(), nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.serveListener(ctx, ln, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		<-done
	}()
	idle := make([]net.Conn, maxMetricsClients)
	for i := range idle {
		if idle[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		defer idle[i].Close()
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(500 * time.Millisecond); err == nil {
		t.Fatalf("served a client beyond the %d held open", maxMetricsClients)
	}
	idle[0].Close()
	if err := get(3 * time.Second); err != nil {
		t.Fatalf("not served after a held client went: %v", err)
	}
}
