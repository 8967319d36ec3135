package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves m and returns /metrics as the text format gives it,
// parsed by Prometheus's own parser, and the raw text.
func scrape(t *testing.T, m *metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.serveListener(ctx, ln, slog.New(slog.DiscardHandler)) }()
	defer func() { cancel(); <-done }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the text format does not parse: %v\n%s", err, body)
	}
	return fams, string(body)
}

// TestMetricsKernelCounters checks the counters of kernel events, resyncs
// and overflows, and the build information, in the text format.
func TestMetricsKernelCounters(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return testStatus(), nil })
	for range 3 {
		m.kernelEvent(genl.EventCreated)
	}
	m.kernelEvent(genl.EventSubEstablished)
	m.kernelEvent(genl.EventType(200))
	m.resync(resyncStart)
	m.overflow()
	m.resync(resyncOverflow)
	m.resync(resyncRecheck)
	fams, _ := scrape(t, m)
	g := gathered(fams)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mptcp_pm_kernel_events_total", []string{"type", "created"}, 3},
		{"mptcp_pm_kernel_events_total", []string{"type", "sf_established"}, 1},
		{"mptcp_pm_kernel_events_total", []string{"type", "unknown"}, 1},
		{"mptcp_pm_kernel_events_total", []string{"type", "closed"}, 0},
		{"mptcp_pm_resyncs_total", []string{"reason", "start"}, 1},
		{"mptcp_pm_resyncs_total", []string{"reason", "overflow"}, 1},
		{"mptcp_pm_resyncs_total", []string{"reason", "overflow_recheck"}, 1},
		{"mptcp_pm_event_socket_overflows_total", nil, 1},
	} {
		if got := g.value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	bi := buildinfo.Read()
	if got := g.value("mptcp_pm_build_info", "version", bi.Version, "revision", bi.ShortRevision(), "goversion", bi.GoVersion); got != 1 {
		t.Errorf("mptcp_pm_build_info for %+v = %v, want 1", bi, got)
	}
}

// TestMetricsBucketsClean checks that every histogram bound prints as a
// short decimal (0.0005, not 0.0005000000000000001).
func TestMetricsBucketsClean(t *testing.T) {
	m := newMetrics(func(context.Context) (*Status, error) { return testStatus(), nil })
	m.handover(0)
	m.eventToCommand(0)
	m.sample([2]netip.AddrPort{}, "wlan0", 1, 1, 0)
	_, text := scrape(t, m)
	le := regexp.MustCompile(`le="([^"]*)"`)
	clean := regexp.MustCompile(`^([125](e-0[5-9])?|0\.0*[125]|[125]0*|\+Inf)$`)
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "mptcp_pm_") {
			continue
		}
		for _, mm := range le.FindAllStringSubmatch(line, -1) {
			n++
			if !clean.MatchString(mm[1]) {
				t.Errorf("bucket bound %q is not a clean number: %s", mm[1], line)
			}
		}
	}
	if n < 40 {
		t.Errorf("found %d bucket bounds in the text, want those of three histograms", n)
	}
	for _, want := range []string{`le="0.0005"`, `le="1e-05"`, `le="5"`, `le="10"`} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in the text format", want)
		}
	}
	if got, want := decadeBuckets(0.001, 10), []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10}; !slices.Equal(got, want) {
		t.Errorf("decadeBuckets(0.001, 10) = %v, want %v", got, want)
	}
}
