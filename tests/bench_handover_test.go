//go:build bench

package tests

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestBenchHandover is the handover benchmark (scripts/bench-handover.sh):
// a voice-like stream (100-byte record every 10 ms, echoed) from the
// client's Wi-Fi address; at 3 s the Wi-Fi path is impaired; the figure is
// the longest gap between two echoes. Each path manager runs BENCH_RUNS
// times (default 5) on a fresh testbed; the median is reported.
func TestBenchHandover(t *testing.T) {
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	impairments := strings.Split(os.Getenv("BENCH_IMPAIR"), ",") // cut (default), blackhole, loss
	if impairments[0] == "" {
		impairments = []string{"cut"}
	}
	var out strings.Builder
	all := map[string]any{"runs": runs}
	for _, impairment := range impairments {
		rows := benchHandover(t, runs, impairment, &out)
		all[impairment] = rows
	}
	fmt.Print(out.String())
	if path := os.Getenv("BENCH_JSON"); path != "" {
		j, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(path, j, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// benchRow is one path manager's result.
type benchRow struct {
	Name     string    `json:"name"`
	MedianMS float64   `json:"median_ms"`
	Ratio    float64   `json:"ratio_to_kernel_backup"`
	RunsMS   []float64 `json:"runs_ms"`
	Failed   []string  `json:"failed_runs,omitempty"`
}

// benchHandover runs every path manager runs times against one
// impairment of the Wi-Fi path at 3 s and writes a table to b.
func benchHandover(t *testing.T, runs int, impairment string, b *strings.Builder) []benchRow {
	impair := []string{impairment}
	if impairment == "loss" {
		impair = []string{"loss", "30"}
	}
	type variant struct {
		name  string
		setup func(t *testing.T, tb *testbed.Testbed)
	}
	kernelPM := func(flags string) func(t *testing.T, tb *testbed.Testbed) {
		return func(t *testing.T, tb *testbed.Testbed) {
			mustCLI(t, tb.Server, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
			mustCLI(t, tb.Client, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
			mustCLI(t, tb.Client, append([]string{"endpoint", "add", "10.0.2.2", "dev", "wwan0"}, strings.Fields(flags)...)...)
		}
	}
	daemonPM := func(config string) func(t *testing.T, tb *testbed.Testbed) {
		return func(t *testing.T, tb *testbed.Testbed) {
			sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
			startMonitor(t, tb.Server)
			startDaemon(t, tb.Client, writeConfig(t, config, nil))
		}
	}
	variants := []variant{
		{"kernel PM, cellular endpoint backup", kernelPM("subflow backup")},
		{"kernel PM, cellular endpoint subflow (both active)", kernelPM("subflow")},
		{"mptcp-pm handover", daemonPM(handoverConfig)},
		{"mptcp-pm handover, warm standby", daemonPM(strings.Replace(handoverConfig, "hold_down: 1s", "hold_down: 1s, warm_standby: true", 1))},
	}
	results := map[string][]float64{}
	failed := map[string][]string{} // runs whose stream broke: the stall did not end
	for r := range runs {
		// Interleave the variants so that machine noise hits all alike.
		for _, v := range variants {
			t.Run(fmt.Sprintf("%s/%s/run%d", impairment, v.name, r), func(t *testing.T) {
				tb := testbed.New(t)
				v.setup(t, tb)
				echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
				s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
				time.Sleep(3 * time.Second)
				tb.Impair(t, testbed.PathWifi, impair[0], impair[1:]...)
				time.Sleep(3 * time.Second)
				s.cancel()
				res := <-s.done
				t.Logf("%s run %d: %v", v.name, r, res)
				if res.Err != "" {
					failed[v.name] = append(failed[v.name], res.Err)
					return
				}
				results[v.name] = append(results[v.name], res.MaxGapMS())
			})
		}
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		if len(s) == 0 {
			return 0
		}
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	base := median(results[variants[0].name])
	fmt.Fprintf(b, "handover benchmark: Wi-Fi %s at 3 s, longest gap between echoes, median of %d runs\n", strings.Join(impair, " "), runs)
	fmt.Fprintf(b, "%-52s %10s %8s  %s\n", "path manager", "median ms", "ratio", "runs (ms; x: the stream never recovered)")
	var rows []benchRow
	for _, v := range variants {
		m := median(results[v.name])
		ratio := 0.0
		if base > 0 {
			ratio = m / base
		}
		rows = append(rows, benchRow{v.name, m, ratio, results[v.name], failed[v.name]})
		var rs []string
		for _, x := range results[v.name] {
			rs = append(rs, strconv.FormatFloat(x, 'f', 1, 64))
		}
		for range failed[v.name] {
			rs = append(rs, "x")
		}
		med, rat := strconv.FormatFloat(m, 'f', 1, 64), strconv.FormatFloat(ratio, 'f', 3, 64)
		if len(results[v.name]) == 0 {
			med, rat = "-", "-"
		}
		fmt.Fprintf(b, "%-52s %10s %8s  %s\n", v.name, med, rat, strings.Join(rs, " "))
	}
	return rows
}
