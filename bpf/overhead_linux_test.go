//go:build linux && bench

package bpf

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestOverhead measures what the probes cost a bulk MPTCP transfer: 2
// subflows over veth, the client pinned to CPU 0 and the server to CPU 1,
// interleaved runs with and without the probes. It only runs with
// the bench build tag (see bench_overhead.sh); BPF_OVERHEAD_REPS (5) and
// BPF_OVERHEAD_SECONDS (3) tune it.
func TestOverhead(t *testing.T) {
	requirePrivileges(t, "taskset")
	reps := envInt("BPF_OVERHEAD_REPS", 5)
	secs := envInt("BPF_OVERHEAD_SECONDS", 3)

	tb := newNamespaces(t)
	const addr = srvAddr + ":5201"
	srv := exec.Command("ip", "netns", "exec", tb.srv, "taskset", "-c", "1", os.Args[0], "-test.run=^$", addr)
	srv.Env = append(os.Environ(), helperEnv+"=bulk-server")
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("server: %q %v", lines.Text(), lines.Err())
	}

	// once runs one transfer and returns the server's Mbit/s; with a
	// non-nil stats it also returns the sockops program's run statistics.
	once := func(probe bool, stats *ebpf.ProgramStats) float64 {
		var p *Probes
		var log *eventLog
		if probe {
			p = loadProbes(t, Config{NetNS: tb.cliFD})
			log = collect(p.Events())
		}
		// Loading parses the kernel's BTF: let the garbage collector
		// finish with it before the transfer, in both modes, so that it
		// does not compete for the two pinned CPUs.
		runtime.GC()
		time.Sleep(300 * time.Millisecond)
		cli := exec.Command("ip", "netns", "exec", tb.cli, "taskset", "-c", "0", os.Args[0], "-test.run=^$",
			fmt.Sprintf("%s,%ds", addr, secs))
		cli.Env = append(os.Environ(), helperEnv+"=bulk-client")
		if b, err := cli.CombinedOutput(); err != nil {
			t.Fatalf("client: %v: %s", err, b)
		}
		if !lines.Scan() {
			t.Fatalf("server: %v", lines.Err())
		}
		var n, ns int64
		if _, err := fmt.Sscan(lines.Text(), &n, &ns); err != nil || ns == 0 {
			t.Fatalf("server: %q: %v", lines.Text(), err)
		}
		if probe {
			// The probes saw both client subflows.
			est := 0
			log.wait(time.Second, func(ev Event) bool {
				if ev.Kind == EventEstablished {
					est++
				}
				return est >= 2
			})
			if stats != nil {
				st, err := p.p.objs.MptcpSockops.Stats()
				if err != nil {
					t.Fatal(err)
				}
				*stats = *st
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if est < 2 {
				t.Fatalf("probes saw %d established subflows, want 2", est)
			}
		}
		return float64(n) * 8 / (float64(ns) / 1e9) / 1e6
	}

	var off, on, ratios []float64
	for i := range reps {
		var a, b float64
		if i%2 == 0 {
			a = once(false, nil)
			b = once(true, nil)
		} else {
			b = once(true, nil)
			a = once(false, nil)
		}
		t.Logf("rep %d: without %.0f Mbit/s, with %.0f Mbit/s, ratio %.3f", i+1, a, b, b/a)
		off, on, ratios = append(off, a), append(on, b), append(ratios, b/a)
	}
	mOff, mOn := median(off), median(on)
	t.Logf("median without probes %.0f Mbit/s, with probes %.0f Mbit/s: ratio of medians %.3f, median of per-rep ratios %.3f",
		mOff, mOn, mOn/mOff, median(ratios))

	// One more run with BPF run-time statistics on (they cost two clock
	// reads per run, so they stay off during the runs above).
	st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		t.Fatalf("enable BPF stats: %v", err)
	}
	defer st.Close()
	var ps ebpf.ProgramStats
	mbps := once(true, &ps)
	if ps.RunCount > 0 {
		t.Logf("program cost at %.0f Mbit/s: %d runs in %d s (%.0f/s), %v per run, %.2f%% of one CPU",
			mbps, ps.RunCount, secs, float64(ps.RunCount)/float64(secs), ps.Runtime/time.Duration(ps.RunCount),
			100*ps.Runtime.Seconds()/float64(secs))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
