package tests

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// freePort returns a TCP port free on 127.0.0.1 now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// scrape is one parsed /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics gets and parses http://addr/metrics.
func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metric returns the metric of family name whose labels include those
// given (name=value pairs), or nil.
func (s scrape) metric(name string, labels ...string) *dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is the value of a counter or gauge, or a histogram's count; -1 if
// the metric is missing.
func (s scrape) value(name string, labels ...string) float64 {
	m := s.metric(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

func TestIntegrationDaemonMetrics(t *testing.T) {
	t.Parallel()
	// The daemon process runs in the host namespace (only its netlink and
	// sock_diag sockets are in the client's): its listener is on the host's
	// loopback, where this test scrapes it.
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tb, d, _ := newDaemonBedWith(t, handoverConfig, nil, "--metrics", addr)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == "handover" && c.Application == "default" && len(c.Subflows) == 1 && activeOn("wlan0")(c)
	})
	// Wi-Fi is measured (a baseline and growth) before the cut.
	var m scrape
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		m = scrapeMetrics(t, addr)
		if m.value("mptcp_pm_segments_sent_total", "interface", "wlan0") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no segments counted on wlan0 within 5 s: rtt count %v, sent %v", m.value("mptcp_pm_subflow_rtt_seconds", "interface", "wlan0"),
				m.value("mptcp_pm_segments_sent_total", "interface", "wlan0"))
		}
	}
	if got := m.value("mptcp_pm_connections", "application", "default", "mode", "handover", "side", "client"); got != 1 {
		t.Errorf("before the cut: connections{default,handover,client} = %v, want 1", got)
	}
	if got := m.value("mptcp_pm_subflows", "interface", "wlan0", "backup", "false"); got != 1 {
		t.Errorf("before the cut: subflows{wlan0} = %v, want 1", got)
	}

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	m = scrapeMetrics(t, addr)

	if got := m.value("mptcp_pm_connections", "application", "default", "mode", "handover", "side", "client"); got != 1 {
		t.Errorf("connections{default,handover,client} = %v, want 1", got)
	}
	if got := m.value("mptcp_pm_handovers_total"); got < 1 {
		t.Errorf("handovers_total = %v, want >= 1", got)
	}
	h := m.metric("mptcp_pm_handover_seconds").GetHistogram()
	if h.GetSampleCount() < 1 || h.GetSampleSum() >= 5 {
		t.Errorf("handover_seconds count %d sum %v s, want >= 1 and < 5 s", h.GetSampleCount(), h.GetSampleSum())
	}
	t.Logf("handover_seconds: count %d sum %.6f s", h.GetSampleCount(), h.GetSampleSum())
	if got := m.value("mptcp_pm_commands_total", "kind", "create-subflow", "result", "ok"); got < 1 {
		t.Errorf(`commands_total{kind="create-subflow",result="ok"} = %v, want >= 1`, got)
	}
	if got := m.value("mptcp_pm_subflows", "interface", "wwan0", "backup", "false"); got != 1 {
		t.Errorf("subflows{wwan0,backup=false} = %v, want 1", got)
	}
	if got := m.value("mptcp_pm_subflow_rtt_seconds", "interface", "wlan0"); got <= 0 {
		t.Errorf("subflow_rtt_seconds_count{wlan0} = %v, want > 0", got)
	}
	if got := m.value("mptcp_pm_segments_sent_total", "interface", "wlan0"); got <= 0 {
		t.Errorf("segments_sent_total{wlan0} = %v, want > 0", got)
	}
	// The kernel's events as they came, the rebuild at start, no
	// overflow, and the build.
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"mptcp_pm_kernel_events_total", []string{"type", "created"}, 1},
		{"mptcp_pm_kernel_events_total", []string{"type", "established"}, 1},
		{"mptcp_pm_kernel_events_total", []string{"type", "sf_established"}, 1},
		{"mptcp_pm_resyncs_total", []string{"reason", "start"}, 1},
	} {
		if got := m.value(c.name, c.labels...); got < c.min {
			t.Errorf("%s%v = %v, want >= %v", c.name, c.labels, got, c.min)
		}
	}
	if got := m.value("mptcp_pm_event_socket_overflows_total"); got != 0 {
		t.Errorf("event_socket_overflows_total = %v, want 0", got)
	}
	if b := m.metric("mptcp_pm_build_info"); b == nil || b.GetGauge().GetValue() != 1 || len(b.GetLabel()) != 3 {
		t.Errorf("build_info = %v, want 1 with version, revision and goversion", b)
	}
	if got := m.value("mptcp_pm_scrape_errors_total"); got != 0 {
		t.Errorf("scrape_errors_total = %v", got)
	}
	if m["go_goroutines"] == nil || m["process_resident_memory_bytes"] == nil {
		t.Errorf("the Go and process collectors are missing")
	}
	for _, n := range []string{"mptcp_pm_segments_retransmitted_total", "mptcp_pm_bad_paths"} {
		if f := m[n]; f != nil {
			for _, x := range f.GetMetric() {
				t.Logf("%s%v = %v", n, x.GetLabel(), m.value(n, labelPairs(x)...))
			}
		}
	}
	r := s.wait(t)
	t.Logf("stream: %v", r)
}

func labelPairs(m *dto.Metric) []string {
	var r []string
	for _, l := range m.GetLabel() {
		r = append(r, l.GetName(), l.GetValue())
	}
	return r
}
