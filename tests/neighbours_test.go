package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// status shows B's kernel side and exits 1, also when pointed at A's
// socket (A's daemon refuses a request for another namespace); the CLI
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
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("daemon pid %d ", d.cmd.Process.Pid)) {
		t.Errorf("status in %s: exit %d, stdout %q, stderr %q; want the daemon's view (pid %d)", a, r.code, r.stdout, r.stderr, d.cmd.Process.Pid)
	}
	if r := cli(t, a, "status"); r.code != 0 || !strings.Contains(r.stdout, "netns "+a) {
		t.Errorf("status -n %s: exit %d, stdout %q, stderr %q; want the daemon's view", a, r.code, r.stdout, r.stderr)
	}

	ip(t, b, "mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
	ip(t, b, "mptcp", "endpoint", "add", "127.0.0.1", "id", "7", "signal")
	for _, args := range [][]string{{"status"}, {"status", "--control", sock}} {
		r := netnsExecCLI(t, b, nil, args...)
		for _, want := range []string{"daemon none (", "kernel pm_type 0 (in-kernel path manager)",
			"limits subflows 3 add_addr_accepted 1", "endpoint 127.0.0.1 id 7 signal", "connections 0"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s in %s (no daemon): stdout lacks %q:\n%s", strings.Join(args, " "), b, want, r.stdout)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "no daemon answers for this network namespace") {
			t.Errorf("%s in %s (no daemon): exit %d, stderr %q; want exit 1 saying there is no daemon", strings.Join(args, " "), b, r.code, r.stderr)
		}
	}
	if r := netnsExecCLI(t, b, nil, "status", "--control", sock); !strings.Contains(r.stderr, "manages another network namespace") {
		t.Errorf("status in %s at %s's socket: stderr %q; want it to say the daemon manages another namespace", b, a, r.stderr)
	}

	// control_socket from the configuration file.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("control_socket: "+sock+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, "", "status"); r.code == 0 && strings.Contains(r.stdout, fmt.Sprintf("daemon pid %d ", d.cmd.Process.Pid)) {
		t.Errorf("status in the test's own namespace reached %s's daemon:\n%s", a, r.stdout)
	}
	env := []string{"MPTCP_PM_CONFIG=" + cfg}
	if r := netnsExecCLI(t, a, env, "status"); r.code != 0 || !strings.Contains(r.stdout, "daemon pid") {
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
}
