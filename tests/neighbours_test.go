package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// TestIntegrationPMTypeRestored: the daemon started with --set-pm-type
// puts back the net.mptcp.pm_type it found when it stops (SIGTERM); after
// a crash (SIGKILL) the value stays, and the next daemon, told by the
// record under /run/mptcp-pm, puts back the first value at its stop. The
// same for endpoint mode.
func TestIntegrationPMTypeRestored(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	dir := writeConfig(t, dpConfig("single", ""), nil)

	d := startDaemon(t, ns, dir)
	if v := pmType(t, ns); v != "1" {
		t.Fatalf("pm_type %s with the daemon running, want 1", v)
	}
	d.stop()
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type %s after a clean stop, want 0 (the value found); log:\n%s", v, d.log.String())
	}
	if !strings.Contains(d.log.String(), "put back net.mptcp.pm_type") {
		t.Errorf("the stop does not log the value put back:\n%s", d.log.String())
	}

	d.restart()
	d.kill9()
	if v := pmType(t, ns); v != "1" {
		t.Fatalf("pm_type %s after SIGKILL, want 1 (a crash cannot put anything back)", v)
	}
	d.restart()
	if !d.waitLog("did not stop cleanly", 2*time.Second) {
		t.Errorf("the start after a crash does not say it found a record:\n%s", d.log.String())
	}
	d.stop()
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type %s after the crash and a clean stop of the next daemon, want 0", v)
	}

	// Endpoint mode, from pm_type=1.
	sysctl(t, ns, "net.mptcp.pm_type", "1")
	k := startKeeper(t, ns, writeConfig(t, "endpoints: {limits: {subflows: 1}}\n", nil), "--endpoints")
	if v := pmType(t, ns); v != "0" {
		t.Fatalf("pm_type %s with the keeper running, want 0", v)
	}
	k.stop()
	if v := pmType(t, ns); v != "1" {
		t.Errorf("pm_type %s after the keeper's clean stop, want 1 (the value found); log:\n%s", v, k.log.String())
	}
}

// startUnderNetnsExec runs `ip netns exec NS mptcp-pm daemon -c DIR/config.yaml
// --set-pm-type --log-level debug ARGS...` (the daemon sees its namespace
// as its own, and /sys remounted) and waits for its log to say it started.
// It is stopped at cleanup; its control socket is whatever it picks.
func startUnderNetnsExec(t *testing.T, ns, dir string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, ns: ns, dir: dir, log: &lockedLog{}}
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, binary, "daemon", "-c", filepath.Join(dir, "config.yaml"),
		"--set-pm-type", "--log-level", "debug"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log (ip netns exec %s):\n%s", ns, d.log.String())
		}
	})
	if !d.waitLog(`msg=started`, 10*time.Second) {
		t.Fatalf("daemon under ip netns exec %s did not start within 10 s; log:\n%s", ns, d.log.String())
	}
	return d
}

// netnsExecCLI runs `ip netns exec NS mptcp-pm ARGS...` with env added to
// the environment.
func netnsExecCLI(t *testing.T, ns string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, binary}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return runCmd(t, cmd, "ip netns exec "+ns+" mptcp-pm "+strings.Join(args, " "))
}

// TestIntegrationStatusNamespace: `ip netns exec A mptcp-pm status`
// reaches the daemon started by `ip netns exec A mptcp-pm daemon` (both
// find /run/mptcp-pm/netns-A.sock); from namespace B, with no daemon,
// status shows B's kernel side and exits 1, also when MPTCP_PM_CONTROL
// points at A's socket (A's daemon refuses a request for another
// namespace), while --control reaches A's daemon explicitly; the CLI
// takes the socket from the configuration's control_socket, and
// `connection show` takes --control.
func TestIntegrationStatusNamespace(t *testing.T) {
	t.Parallel()
	a, b := newNS(t), newNS(t)
	dir := writeConfig(t, dpConfig("single", ""), nil)
	d := startUnderNetnsExec(t, a, dir)
	sock := "/run/mptcp-pm/netns-" + a + ".sock"
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the daemon under ip netns exec %s has no socket at %s: %v", a, sock, err)
	}

	r := netnsExecCLI(t, a, nil, "status")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf(", process %d,", d.cmd.Process.Pid)) {
		t.Errorf("status in %s: exit %d, stdout %q, stderr %q; want the daemon's view (pid %d)", a, r.code, r.stdout, r.stderr, d.cmd.Process.Pid)
	}
	if r := cli(t, a, "status"); r.code != 0 || !strings.Contains(r.stdout, ", network namespace "+a+"\n") {
		t.Errorf("status -n %s: exit %d, stdout %q, stderr %q; want the daemon's view", a, r.code, r.stdout, r.stderr)
	}

	ip(t, b, "mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
	ip(t, b, "mptcp", "endpoint", "add", "127.0.0.1", "id", "7", "signal")
	echoServer(t, b, netip.MustParseAddrPort("127.0.0.1:7002"))
	c := dialMPTCP(t, b, netip.Addr{}, netip.MustParseAddrPort("127.0.0.1:7002"))
	defer c.Close()
	echo(t, c, "ping")
	token := fmt.Sprintf("token %08x ", testutil.MPTCPToken(t, c))
	for _, env := range [][]string{nil, {"MPTCP_PM_CONTROL=" + sock}} {
		r := netnsExecCLI(t, b, env, "status")
		for _, want := range []string{"daemon none (", "kernel pm_type 0 (in-kernel path manager)",
			"limits subflows 3 add_addr_accepted 1", "endpoint 127.0.0.1 id 7 signal", "connections 2", token} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status %v in %s (no daemon): stdout lacks %q:\n%s", env, b, want, r.stdout)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "no daemon answers for this network namespace") {
			t.Errorf("status %v in %s (no daemon): exit %d, stderr %q; want exit 1 saying there is no daemon", env, b, r.code, r.stderr)
		}
	}
	if r := netnsExecCLI(t, b, []string{"MPTCP_PM_CONTROL=" + sock}, "status"); !strings.Contains(r.stderr, "manages another network namespace") {
		t.Errorf("status in %s with MPTCP_PM_CONTROL at %s's socket: stderr %q; want it to say the daemon manages another namespace", b, a, r.stderr)
	}
	// --control names a daemon explicitly: it answers, and says its
	// namespace.
	if r := netnsExecCLI(t, b, nil, "status", "--control", sock); r.code != 0 || !strings.Contains(r.stdout, ", network namespace "+a+"\n") {
		t.Errorf("status --control %s in %s: exit %d, stdout %q, stderr %q; want the view of %s's daemon", sock, b, r.code, r.stdout, r.stderr, a)
	}

	// control_socket from the configuration file.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("control_socket: "+sock+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, "", "status"); r.code == 0 && strings.Contains(r.stdout, fmt.Sprintf(", process %d,", d.cmd.Process.Pid)) {
		t.Errorf("status in the test's own namespace reached %s's daemon:\n%s", a, r.stdout)
	}
	env := []string{"MPTCP_PM_CONFIG=" + cfg}
	if r := netnsExecCLI(t, a, env, "status"); r.code != 0 || !strings.Contains(r.stdout, ", process ") {
		t.Errorf("status in %s with control_socket %s in the configuration: exit %d, stderr %q", a, sock, r.code, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(bad, []byte("control_socket: relative.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := netnsExecCLI(t, a, []string{"MPTCP_PM_CONFIG=" + bad}, "status"); r.code != 1 || !strings.Contains(r.stderr, bad+":1:") {
		t.Errorf("status with a bad configuration: exit %d, stderr %q; want exit 1 naming %s:1:", r.code, r.stderr, bad)
	}
	if r := netnsExecCLI(t, b, nil, "connection", "show", "--control", sock); r.code != 0 {
		t.Errorf("connection show --control in %s: exit %d, stderr %q", b, r.code, r.stderr)
	}
	if r := netnsExecCLI(t, b, nil, "connection", "show", "--bogus", sock); r.code == 0 || !strings.Contains(r.stderr, `unknown option "--bogus"`) {
		t.Errorf("connection show --bogus: exit %d, stderr %q; want an error naming the option", r.code, r.stderr)
	}

	// Without -n the daemon keeps only CAP_NET_ADMIN, and as uid 0 still
	// puts pm_type back at its stop.
	d.stop()
	if v := pmType(t, a); v != "0" {
		t.Errorf("pm_type %s in %s after the stop of the daemon run by ip netns exec, want 0; log:\n%s", v, a, d.log.String())
	}
}

// startFake runs a copy of sleep(1) named name inside ns (as `ip netns
// exec` runs it), killed at cleanup, and returns its pid once it runs
// under that name.
func startFake(t *testing.T, ns, name string) int {
	t.Helper()
	sleep := testutil.LookPath(t, "sleep")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, fake, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	comm := fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(comm); err == nil && strings.TrimSpace(string(b)) == name {
			return cmd.Process.Pid
		}
	}
	t.Fatalf("%s did not start in %s", name, ns)
	return 0
}

// TestIntegrationSecondKeeper: a second mptcp-pm in endpoint mode in a
// namespace refuses to start and names the first; with --force it starts
// and warns; `status` (no control socket in endpoint mode) lists both and
// warns. The userspace daemon warns of an mptcpd in its namespace, in its
// log and status.
func TestIntegrationSecondKeeper(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	first := startKeeper(t, ns, writeConfig(t, "endpoints: {limits: {subflows: 1}}\n", nil), "--endpoints")
	p1 := first.cmd.Process.Pid

	dir := writeConfig(t, "endpoints: {limits: {subflows: 1}}\n", nil)
	r := cli(t, ns, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--endpoints", "--set-pm-type")
	want := fmt.Sprintf("endpoint mode refused in namespace %s: mptcp-pm keeper pid %d already manages its endpoints", ns, p1)
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("second keeper: exit %d, stderr %q; want exit 1 and %q, naming --force", r.code, r.stderr, want)
	}

	second := startKeeper(t, ns, dir, "--endpoints", "--force")
	p2 := second.cmd.Process.Pid
	if !strings.Contains(second.log.String(), fmt.Sprintf("neighbour=\"mptcp-pm keeper pid %d\"", p1)) {
		t.Errorf("the forced keeper does not warn of the first:\n%s", second.log.String())
	}
	r = cli(t, ns, "status")
	for _, want := range []string{"daemon none (", fmt.Sprintf("neighbour mptcp-pm keeper pid %d (manages endpoints)", p1),
		fmt.Sprintf("neighbour mptcp-pm keeper pid %d (manages endpoints)", p2), "warning: 2 managers of the endpoints in this namespace"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status with two keepers: stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	// The userspace daemon next to an mptcpd.
	ns2 := newNS(t)
	pid := startFake(t, ns2, "mptcpd")
	d := startDaemon(t, ns2, writeConfig(t, dpConfig("single", ""), nil))
	line := fmt.Sprintf("mptcpd pid %d: a path manager too", pid)
	if st := d.status(); !slices.ContainsFunc(st.Warnings, func(s string) bool { return strings.HasPrefix(s, "neighbour "+line) }) {
		t.Errorf("daemon status warnings %q; want %q", st.Warnings, "neighbour "+line)
	}
	if out := mustCLI(t, ns2, "status", "--control", d.control); !strings.Contains(out, "warning: neighbour "+line) {
		t.Errorf("status does not warn of mptcpd:\n%s", out)
	}
	if !strings.Contains(d.log.String(), "another MPTCP manager in this namespace") {
		t.Errorf("the daemon does not log the mptcpd:\n%s", d.log.String())
	}
}

// TestIntegrationBPFUnderNetnsExec: run by `ip netns exec`, which hides
// the host's cgroup2 mount, the daemon mounts the hierarchy privately,
// attaches its probes there and measures with eBPF (status says quality
// ebpf), and logs so; the probes see the namespace's subflows.
func TestIntegrationBPFUnderNetnsExec(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	if out, err := exec.Command("ip", "netns", "exec", ns, "grep", "-c", " - cgroup2 ", "/proc/self/mountinfo").Output(); err == nil {
		t.Fatalf("ip netns exec %s shows a cgroup2 mount (%s): this test needs one that hides it", ns, strings.TrimSpace(string(out)))
	}
	d := startUnderNetnsExec(t, ns, writeConfig(t, dpConfig("single", ""), nil), "--quality", "bpf")
	if !strings.Contains(d.log.String(), `msg="measuring subflows with eBPF probes" cgroup="private cgroup2 mount (none visible)"`) {
		t.Errorf("the daemon does not say it measures with eBPF through a private cgroup2 mount:\n%s", d.log.String())
	}
	r := netnsExecCLI(t, ns, nil, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "path quality measured by eBPF probes\n") {
		t.Errorf("status under ip netns exec %s: exit %d, stdout %q, stderr %q; want quality ebpf", ns, r.code, r.stdout, r.stderr)
	}
	if out, _ := exec.Command("grep", "-c", "mptcp-pm-cgroup2-", "/proc/self/mountinfo").Output(); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("the private cgroup2 mount shows in the test's mount namespace (%s)", strings.TrimSpace(string(out)))
	}

	// Probes attached through a private mount see the namespace's
	// subflows: `monitor quality`, loaded the same way, reports a new
	// MPTCP connection over lo as MEASURED.
	echoServer(t, ns, netip.MustParseAddrPort("127.0.0.1:7001"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mon := exec.CommandContext(ctx, "ip", "netns", "exec", ns, binary, "-j", "monitor", "quality")
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	mon.Stderr = &lockedLog{}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = mon.Wait() }()
	measured := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"event":"MEASURED"`) && strings.Contains(sc.Text(), "127.0.0.1") {
				close(measured)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	// New connections until the probes (attached some time after the
	// monitor starts) report one.
	deadline := time.After(8 * time.Second)
	for {
		// The handshake is what MEASURED reports: no data is sent.
		c := dialMPTCP(t, ns, netip.Addr{}, netip.MustParseAddrPort("127.0.0.1:7001"))
		select {
		case <-measured:
			c.Close()
			return
		case <-deadline:
			c.Close()
			t.Fatalf("monitor quality under ip netns exec %s reported no MEASURED subflow within 8 s (stderr %q)", ns, mon.Stderr.(*lockedLog).String())
		case <-time.After(200 * time.Millisecond):
			c.Close()
		}
	}
}
