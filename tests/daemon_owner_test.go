package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
	"net/netip"
)

// holdFDsEnv makes the test binary, started again as a child, hold that
// many open /dev/null descriptors until its stdin closes (holdFDs).
const holdFDsEnv = "MPTCP_PM_TEST_HOLD_FDS"

func init() {
	if n, err := strconv.Atoi(os.Getenv(holdFDsEnv)); err == nil {
		holdFDs(n)
		os.Exit(0)
	}
}

// holdFDs raises RLIMIT_NOFILE's soft limit to n + 64 (the hard limit
// must allow it), opens n descriptors, says "ready" and waits for stdin to
// close.
func holdFDs(n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("getrlimit:", err)
		return
	}
	lim.Cur = uint64(n + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return
	}
	fds := make([]int, 0, n)
	for range n {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0)
		if err != nil {
			fmt.Println("open:", err)
			return
		}
		fds = append(fds, fd)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = fds
}

// startFDHolders starts processes holding n descriptors between them,
// each as many as RLIMIT_NOFILE's hard limit allows (containers often
// cap it, at 20,000 on the CI machine, and refuse to raise it); they end
// at cleanup.
func startFDHolders(t *testing.T, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 1024 {
		t.Fatalf("RLIMIT_NOFILE hard limit %d: too low to hold descriptors", lim.Max)
	}
	each := int(min(lim.Max-128, 1<<20))
	for n > 0 {
		startFDHolder(t, min(n, each))
		n -= each
	}
}

// startFDHolder starts a process holding n descriptors; it ends at cleanup.
func startFDHolder(t *testing.T, n int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", holdFDsEnv, n))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("descriptor holder (%d descriptors): %q", n, line)
	}
}

// TestIntegrationDaemonPolicyByProcessManyFDs: processes holding 60,000
// descriptors does not hold up the loop while the daemon looks for the
// process of new connections (it reads every process's /proc/PID/fd): the
// event-to-command latency of the connections stays low, and the
// connections of the process a policy names still get that policy.
//
// The clients are started after the holder, so /proc lists them after
// it: a scan for their sockets reads the holder's descriptors first.
// Before the scan moved off the loop, every connection's commands waited
// for it (p99 ~0.2-0.5 s here).
func TestIntegrationDaemonPolicyByProcessManyFDs(t *testing.T) {
	t.Parallel()
	startFDHolders(t, 60_000)
	tb, d, _ := newDaemonBed(t, dpConfig("aggregate", ""), map[string]string{
		"stream.yaml": dpPolicy("stream", "{ process: mptcp-stream }", "interactive", ""),
	})
	remote := netip.AddrPortFrom(testbed.Server4, 5201)
	const clients = 8
	var results []<-chan map[string]any
	for range clients {
		results = append(results, dpStreamAs(t, tb.Client, -1, "", testbed.ClientWifi4, remote, 4*time.Second))
		time.Sleep(150 * time.Millisecond)
	}
	// Every client's connection ends up matched to its process's policy
	// with subflows on both paths.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, c := range d.status().Connections {
			if !c.ServerSide && c.Application == "stream" && c.Mode == "interactive" {
				n++
			}
		}
		if n == clients {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := d.status()
	var seen []string
	matched := 0
	for _, c := range st.Connections {
		if !c.ServerSide {
			seen = append(seen, fmt.Sprintf("%s %s/%s %v", c.Local, c.Application, c.Mode, dpIfaces(c)))
			if c.Application == "stream" && c.Mode == "interactive" {
				matched++
			}
		}
	}
	if matched != clients {
		t.Errorf("%d of %d client connections matched to the process's policy (stream, interactive): %v", matched, clients, seen)
	}
	checkLatency(t, st.Latency)
	for _, r := range results {
		dpStreamResult(t, r)
	}
	// The connections are gone: the latency of what came after counts too.
	checkLatency(t, d.status().Latency)
}

// checkLatency fails t if the event-to-command latency's p99 is 100 ms or
// more (0.2-0.5 s when the loop read /proc).
func checkLatency(t *testing.T, l control.LatencyStatus) {
	t.Helper()
	t.Logf("event to command: %d commands, p50 %.0f us, p99 %.0f us, max %.0f us", l.Count, l.P50, l.P99, l.Max)
	if l.Count == 0 {
		t.Error("no command measured")
	}
	if l.P99 >= 100_000 {
		t.Errorf("event-to-command p99 %.0f us, want < 100 ms", l.P99)
	}
}
