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

	"github.com/mptcp-pm/mptcp-pm/tests/stream"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestBenchHandover is the handover benchmark (scripts/bench-handover.sh).
// Each path manager runs BENCH_RUNS times (default 5) on a fresh testbed,
// the path managers interleaved; the medians are reported. The workloads
// (BENCH_WORKLOADS, comma-separated, default voice):
//
//   - voice: a voice-like stream (100-byte record every 10 ms, echoed) from
//     the client's Wi-Fi address; at 3 s the Wi-Fi path is impaired
//     (BENCH_IMPAIR: cut, blackhole, loss; default cut); the figure is the
//     longest gap between two echoes.
//   - download: the server sends to the client's Wi-Fi address at 20 Mbit/s
//     (paced); at 3 s the Wi-Fi path is impaired (BENCH_IMPAIR), the run
//     ends at 8 s; the figures are the longest time without received data
//     after the break and the goodput from the break +1 s to the end. A
//     run is dead (x) if the download broke or had no data for its last 2 s.
//   - jitter: the same download; at 3 s the Wi-Fi path gets RTT +80 ms
//     ± 80 ms and 1% loss each way for BENCH_JITTER_SECONDS (default 60),
//     then the run ends; the figures are the handovers (the daemon's
//     handovers_total; n/a for the kernel PM), the subflows established
//     on cellular, the bytes through the client's wwan0 (all and TCP) from
//     the impairment on, and the download's longest gap.
func TestBenchHandover(t *testing.T) {
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	impairments := strings.Split(os.Getenv("BENCH_IMPAIR"), ",") // cut (default), blackhole, loss
	if impairments[0] == "" {
		impairments = []string{"cut"}
	}
	workloads := strings.Split(os.Getenv("BENCH_WORKLOADS"), ",") // voice (default), download, jitter
	if workloads[0] == "" {
		workloads = []string{"voice"}
	}
	jitterFor := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("BENCH_JITTER_SECONDS")); err == nil && v > 0 {
		jitterFor = time.Duration(v) * time.Second
	}
	var out strings.Builder
	all := map[string]any{"runs": runs}
	for _, w := range workloads {
		switch w {
		case "voice":
			for _, impairment := range impairments {
				all[impairment] = benchHandover(t, runs, impairment, &out)
			}
		case "download":
			dl := map[string]any{}
			for _, impairment := range impairments {
				dl[impairment] = benchDownload(t, runs, impairment, &out)
			}
			all["download"] = dl
		case "jitter":
			all["jitter"] = benchJitter(t, runs, jitterFor, &out)
		default:
			t.Fatalf("BENCH_WORKLOADS: unknown workload %q (want voice, download, jitter)", w)
		}
	}
	fmt.Print(out.String())
	if path := os.Getenv("BENCH_JSON"); path != "" {
		j, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(path, j, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// benchVariant is one path manager: setup readies the testbed (before any
// connection) and returns the daemon's metrics address, "" for the
// kernel PM or a daemon without metrics.
type benchVariant struct {
	name  string
	setup func(t *testing.T, tb *testbed.Testbed) (metrics string)
}

// benchVariants are the path managers compared, the first the reference
// of the ratios; with metrics, the daemon serves its metrics (the jitter
// workload counts its handovers), otherwise it runs as it always did.
func benchVariants(metrics bool) []benchVariant {
	kernelPM := func(flags string) func(t *testing.T, tb *testbed.Testbed) string {
		return func(t *testing.T, tb *testbed.Testbed) string {
			mustCLI(t, tb.Server, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
			mustCLI(t, tb.Client, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
			mustCLI(t, tb.Client, append([]string{"endpoint", "add", "10.0.2.2", "dev", "wwan0"}, strings.Fields(flags)...)...)
			return ""
		}
	}
	daemonPM := func(config string) func(t *testing.T, tb *testbed.Testbed) string {
		return func(t *testing.T, tb *testbed.Testbed) string {
			sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
			startMonitor(t, tb.Server)
			if !metrics {
				startDaemon(t, tb.Client, writeConfig(t, config, nil))
				return ""
			}
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			startDaemonWith(t, tb.Client, writeConfig(t, config, nil), "--metrics", addr)
			return addr
		}
	}
	return []benchVariant{
		{"kernel PM, cellular endpoint backup", kernelPM("subflow backup")},
		{"kernel PM, cellular endpoint subflow (both active)", kernelPM("subflow")},
		{"mptcp-pm handover", daemonPM(handoverConfig)},
		{"mptcp-pm handover, warm standby", daemonPM(strings.Replace(handoverConfig, "hold_down: 1s", "hold_down: 1s, warm_standby: true", 1))},
		{"mptcp-pm interactive", daemonPM(dmConfig("interactive", "hold_down: 1s"))},
	}
}

// benchImpair is impair.sh's arguments for an impairment of the benchmark.
func benchImpair(impairment string) []string {
	if impairment == "loss" {
		return []string{"loss", "30"}
	}
	return []string{impairment}
}

// benchRow is one path manager's result.
type benchRow struct {
	Name     string    `json:"name"`
	MedianMS float64   `json:"median_ms"`
	Ratio    float64   `json:"ratio_to_kernel_backup"`
	RunsMS   []float64 `json:"runs_ms"`
	Failed   []string  `json:"failed_runs,omitempty"`
}

// median is the median of xs, 0 for none.
func median(xs []float64) float64 {
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

// fmtRuns is xs with one decimal, then an x per failed run.
func fmtRuns(xs []float64, failed int) string {
	var rs []string
	for _, x := range xs {
		rs = append(rs, strconv.FormatFloat(x, 'f', 1, 64))
	}
	for range failed {
		rs = append(rs, "x")
	}
	return strings.Join(rs, " ")
}

// benchHandover runs every path manager runs times against one
// impairment of the Wi-Fi path at 3 s and writes a table to b.
func benchHandover(t *testing.T, runs int, impairment string, b *strings.Builder) []benchRow {
	impair := benchImpair(impairment)
	variants := benchVariants(false)
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
		med, rat := strconv.FormatFloat(m, 'f', 1, 64), strconv.FormatFloat(ratio, 'f', 3, 64)
		if len(results[v.name]) == 0 {
			med, rat = "-", "-"
		}
		fmt.Fprintf(b, "%-52s %10s %8s  %s\n", v.name, med, rat, fmtRuns(results[v.name], len(failed[v.name])))
	}
	return rows
}

// Timeline of a download run: the break, the end, and how long without
// data at the end makes a run dead.
const (
	benchBreakAt = 3 * time.Second
	benchDLEnd   = 8 * time.Second
	benchDeadFor = 2 * time.Second
)

// benchDLRow is one path manager's download result. The medians are over
// the runs that did not die; Dead has why each dead run is.
type benchDLRow struct {
	Name          string    `json:"name"`
	MedianGapMS   float64   `json:"median_gap_ms"`
	Ratio         float64   `json:"ratio_to_kernel_backup"`
	MedianMbps    float64   `json:"median_goodput_mbps"`
	RunsGapMS     []float64 `json:"runs_gap_ms"`
	RunsMbps      []float64 `json:"runs_goodput_mbps"`
	Dead          []string  `json:"dead_runs,omitempty"`
	DeadRunsGapMS []float64 `json:"dead_runs_gap_ms,omitempty"`
}

// benchDownload runs every path manager runs times: a download, the Wi-Fi
// path impaired at 3 s; it writes a table to b.
func benchDownload(t *testing.T, runs int, impairment string, b *strings.Builder) []benchDLRow {
	impair := benchImpair(impairment)
	variants := benchVariants(false)
	rows := make([]benchDLRow, len(variants))
	for r := range runs {
		for i, v := range variants {
			rows[i].Name = v.name
			t.Run(fmt.Sprintf("download/%s/%s/run%d", impairment, v.name, r), func(t *testing.T) {
				tb := testbed.New(t)
				v.setup(t, tb)
				workloadServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), workloadPort))
				dl := startDownload(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, workloadPort), stream.DownloadOptions{})
				start := time.Now()
				time.Sleep(time.Until(start.Add(benchBreakAt)))
				brk := time.Now()
				tb.Impair(t, testbed.PathWifi, impair[0], impair[1:]...)
				time.Sleep(time.Until(start.Add(benchDLEnd)))
				res := dl.wait()
				at := brk.Sub(res.Start)
				gap, mbps := ms(res.MaxGapAfter(at)), res.Goodput(at+time.Second)/1e6
				t.Logf("%s run %d: %v; after the break (%v): longest gap %.1f ms, goodput %.2f Mbit/s",
					v.name, r, res, at.Round(time.Millisecond), gap, mbps)
				if res.Dead(benchDeadFor) {
					why := res.Err
					if why == "" {
						why = fmt.Sprintf("no data from %v to the end (%v)", res.LastData.Round(time.Millisecond), res.Duration.Round(time.Millisecond))
					}
					rows[i].Dead = append(rows[i].Dead, why)
					rows[i].DeadRunsGapMS = append(rows[i].DeadRunsGapMS, gap)
					return
				}
				rows[i].RunsGapMS = append(rows[i].RunsGapMS, gap)
				rows[i].RunsMbps = append(rows[i].RunsMbps, mbps)
			})
		}
	}
	for i := range rows {
		rows[i].MedianGapMS, rows[i].MedianMbps = median(rows[i].RunsGapMS), median(rows[i].RunsMbps)
		if base := rows[0].MedianGapMS; base > 0 {
			rows[i].Ratio = rows[i].MedianGapMS / base
		}
	}
	fmt.Fprintf(b, "handover benchmark (download, %d Mbit/s paced): Wi-Fi %s at %v, longest time without data after the break and goodput from the break +1 s to the end (%v), median of %d runs\n",
		stream.DefaultRate/1_000_000, strings.Join(impair, " "), benchBreakAt, benchDLEnd, runs)
	fmt.Fprintf(b, "%-52s %10s %8s %8s  %s\n", "path manager", "gap ms", "ratio", "Mbit/s", "runs (gap ms; x: dead, no data for the last 2 s or broken)")
	for _, row := range rows {
		med, rat, mbps := strconv.FormatFloat(row.MedianGapMS, 'f', 1, 64), strconv.FormatFloat(row.Ratio, 'f', 3, 64), strconv.FormatFloat(row.MedianMbps, 'f', 2, 64)
		if len(row.RunsGapMS) == 0 {
			med, rat, mbps = "-", "-", "-"
		}
		fmt.Fprintf(b, "%-52s %10s %8s %8s  %s\n", row.Name, med, rat, mbps, fmtRuns(row.RunsGapMS, len(row.Dead)))
	}
	return rows
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchJitterRun is one run of the jitter workload.
type benchJitterRun struct {
	Handovers    float64 `json:"handovers"` // -1: n/a (the kernel PM)
	CellSubflows int     `json:"cell_subflows"`
	CellBytes    uint64  `json:"cell_bytes"`     // wwan0, in and out, from the impairment on
	CellTCPBytes uint64  `json:"cell_tcp_bytes"` // of which TCP
	MaxGapMS     float64 `json:"max_gap_ms"`
	Err          string  `json:"error,omitempty"`
}

// benchJitterRow is one path manager's jitter result.
type benchJitterRow struct {
	Name               string           `json:"name"`
	MedianHandovers    float64          `json:"median_handovers"` // -1: n/a
	MedianCellSubflows float64          `json:"median_cell_subflows"`
	MedianCellBytes    float64          `json:"median_cell_bytes"`
	MedianCellTCPBytes float64          `json:"median_cell_tcp_bytes"`
	MedianGapMS        float64          `json:"median_gap_ms"`
	Runs               []benchJitterRun `json:"runs"`
}

// benchJitter runs every path manager runs times: a download, the Wi-Fi
// path jittery and lossy from 3 s for span; it writes a table to b.
func benchJitter(t *testing.T, runs int, span time.Duration, b *strings.Builder) []benchJitterRow {
	variants := benchVariants(true)
	rows := make([]benchJitterRow, len(variants))
	for r := range runs {
		for i, v := range variants {
			rows[i].Name = v.name
			t.Run(fmt.Sprintf("jitter/%s/run%d", v.name, r), func(t *testing.T) {
				tb := testbed.New(t)
				metrics := v.setup(t, tb)
				cells := watchSubflows(t, tb.Client, testbed.ClientCell4, testbed.ClientCell6)
				tcp := countTCP(t, tb.Client, testbed.CellDev)
				workloadServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), workloadPort))
				dl := startDownload(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, workloadPort), stream.DownloadOptions{})
				start := time.Now()
				time.Sleep(time.Until(start.Add(benchBreakAt)))
				rx0, tx0 := linkBytes(t, tb.Client, testbed.CellDev)
				trx0, ttx0 := tcp.bytes()
				from := time.Now()
				tb.Impair(t, testbed.PathWifi, "delay", "80", "80")
				tb.Impair(t, testbed.PathWifi, "loss", "1")
				time.Sleep(time.Until(from.Add(span)))
				rx1, tx1 := linkBytes(t, tb.Client, testbed.CellDev)
				trx1, ttx1 := tcp.bytes()
				run := benchJitterRun{Handovers: -1, CellSubflows: len(cells.since(time.Time{}))}
				if metrics != "" {
					run.Handovers = scrapeMetrics(t, metrics).value("mptcp_pm_handovers_total")
				}
				res := dl.wait()
				run.CellBytes, run.CellTCPBytes = rx1-rx0+tx1-tx0, trx1-trx0+ttx1-ttx0
				run.MaxGapMS, run.Err = res.MaxGapMS(), res.Err
				t.Logf("%s run %d: %+v; download: %v", v.name, r, run, res)
				rows[i].Runs = append(rows[i].Runs, run)
			})
		}
	}
	fmt.Fprintf(b, "handover benchmark (jitter): a %d Mbit/s download; from %v the Wi-Fi path has RTT +80 ms ± 80 ms and 1%% loss each way for %v; median of %d runs\n",
		stream.DefaultRate/1_000_000, benchBreakAt, span, runs)
	fmt.Fprintf(b, "%-52s %9s %9s %11s %11s %9s  %s\n", "path manager", "handovers", "cell sfs", "wwan0 B", "wwan0 TCP B", "gap ms", "runs (handovers/cell subflows/wwan0 bytes/gap ms; x: the download broke)")
	for i := range rows {
		row := &rows[i]
		var ho, sfs, by, tby, gap []float64
		var rs []string
		for _, run := range row.Runs {
			ho = append(ho, run.Handovers)
			sfs = append(sfs, float64(run.CellSubflows))
			by = append(by, float64(run.CellBytes))
			tby = append(tby, float64(run.CellTCPBytes))
			gap = append(gap, run.MaxGapMS)
			h := strconv.FormatFloat(run.Handovers, 'f', 0, 64)
			if run.Handovers < 0 {
				h = "n/a"
			}
			s := fmt.Sprintf("%s/%d/%d/%.1f", h, run.CellSubflows, run.CellBytes, run.MaxGapMS)
			if run.Err != "" {
				s += "x"
			}
			rs = append(rs, s)
		}
		row.MedianHandovers, row.MedianCellSubflows, row.MedianCellBytes = median(ho), median(sfs), median(by)
		row.MedianCellTCPBytes, row.MedianGapMS = median(tby), median(gap)
		h := strconv.FormatFloat(row.MedianHandovers, 'f', 1, 64)
		if row.MedianHandovers < 0 {
			h = "n/a"
		}
		fmt.Fprintf(b, "%-52s %9s %9.1f %11.0f %11.0f %9.1f  %s\n", row.Name, h, row.MedianCellSubflows, row.MedianCellBytes,
			row.MedianCellTCPBytes, row.MedianGapMS, strings.Join(rs, " "))
	}
	return rows
}
