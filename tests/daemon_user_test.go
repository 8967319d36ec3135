package tests

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationDaemonAsUser runs the daemon with --user nobody (uid
// 65534) under `ip netns exec`, so that it needs no -n (and so no
// CAP_SYS_ADMIN): every thread runs as 65534 with CAP_NET_ADMIN alone,
// the control socket and its directory are nobody's, status answers, a
// handover on link down still happens, and at exit the daemon removes its
// socket.
func TestIntegrationDaemonAsUser(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
	startMonitor(t, tb.Server)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	dir := writeConfig(t, handoverConfig, nil)
	// nobody must reach the socket's directory to remove the socket, and
	// read the configuration to reload.
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemonAs(t, tb.Client, dir, func(args []string) *exec.Cmd {
		return exec.Command("ip", append([]string{"netns", "exec", tb.Client, binary}, args...)...)
	}, "--user", "nobody", "--quality", "sockdiag")
	if !d.waitLog("capabilities dropped", 5*time.Second) {
		t.Fatal("no \"capabilities dropped\" line in the daemon's log")
	}
	pid := d.cmd.Process.Pid // ip netns exec execs the daemon in place
	checkProcCaps(t, pid, capMask(caps.CapNetAdmin))
	checkProcIDs(t, pid, 65534)
	for _, p := range []string{d.control, filepath.Dir(d.control)} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("%s: owner %d, want nobody (65534)", p, uid)
		}
	}

	if st := d.status(); st.PID != pid {
		t.Errorf("status: pid %d, want %d", st.PID, pid)
	}
	if r := cli(t, "", "reload", "--control", d.control); r.code != 0 {
		t.Errorf("reload as root: exit %d, stderr %q", r.code, r.stderr)
	}
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), activeOn("wlan0"))
	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	tb.Impair(t, testbed.PathWifi, "clear")
	s.wait(t)
	checkProcIDs(t, pid, 65534)

	d.stop()
	if _, err := os.Lstat(d.control); err == nil {
		t.Errorf("the daemon left its control socket %s at exit", d.control)
	}
}

// checkProcIDs checks that every thread of pid has uid and gid id (real,
// effective, saved and file system).
func checkProcIDs(t *testing.T, pid, id int) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("\t"+strconv.Itoa(id), 4)
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, _ := strings.Cut(line, ":"); (k == "Uid" || k == "Gid") && v != want {
				t.Errorf("thread %s of %d: %s:%s, want %q", task.Name(), pid, k, v, want)
			}
		}
	}
}

// startDaemonAs starts a daemon (see startDaemonWith) whose command is
// made by command, with its control socket in dir/run/.
func startDaemonAs(t *testing.T, ns, dir string, command func(args []string) *exec.Cmd, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, ns: ns, dir: dir, control: filepath.Join(dir, "run", "control.sock"), log: &lockedLog{},
		args: args, command: command}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

// TestIntegrationDaemonAmbient starts the daemon as the systemd unit does
// (User= with AmbientCapabilities=, emulated with setpriv): as uid 65534
// from the start, with the unit's capabilities as ambient and bounding
// sets, inside the namespace, with /run/mptcp-pm made for it (as
// RuntimeDirectory= does). It sets pm_type, loads its eBPF probes, answers
// status and keeps CAP_NET_ADMIN alone, with the ambient and inheritable
// sets cleared; at exit it removes its socket.
func TestIntegrationDaemonAmbient(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	testutil.LookPath(t, "setpriv")
	dir := writeConfig(t, dpConfig("single", ""), nil)
	for p := dir; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	unitCaps := "net_admin,bpf,perfmon,net_bind_service,sys_ptrace,dac_override,chown"
	plus := "+" + strings.ReplaceAll(unitCaps, ",", ",+")
	d := startDaemonAs(t, tb.Client, dir, func(args []string) *exec.Cmd {
		// ip netns exec mounts a sysfs of the namespace, without the
		// cgroup2 file system the probes attach to: mount it in the
		// command's own mount namespace.
		script := `mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; exec "$@"`
		return exec.Command("ip", append([]string{"netns", "exec", tb.Client, "sh", "-c", script, "sh",
			"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all," + plus,
			"--ambient-caps=-all," + plus, "--bounding-set=-all," + plus, "--", binary}, args...)...)
	}, "--quality", "bpf")
	if !d.waitLog("capabilities dropped", 5*time.Second) {
		t.Fatal("no \"capabilities dropped\" line in the daemon's log")
	}
	pid := d.cmd.Process.Pid
	checkProcIDs(t, pid, 65534)
	want := capMask(caps.CapNetAdmin)
	bounding := capMask(caps.CapNetAdmin, caps.CapBPF, caps.CapPerfmon, caps.CapNetBindService, caps.CapSysPtrace,
		caps.CapDACOverride, caps.Capability(0) /* cap_chown */)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		path := fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name())
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if got, exp := readCaps(t, path), (capSets{Prm: want, Eff: want, Bnd: bounding, NNP: 1}); got != exp {
			t.Errorf("%s: %+v, want %+v", path, got, exp)
		}
	}
	if st := d.status(); st.Quality != "ebpf" {
		t.Errorf("quality %q, want ebpf (probes loaded as uid 65534 with CAP_BPF and CAP_PERFMON)", st.Quality)
	}
	if v := dpSysctl(t, tb.Client, "net.mptcp.pm_type"); v != "1" {
		t.Errorf("net.mptcp.pm_type %q, want 1 (written with CAP_NET_ADMIN as uid 65534)", v)
	}
	d.stop()
	if _, err := os.Lstat(d.control); err == nil {
		t.Errorf("the daemon left its control socket %s at exit", d.control)
	}
}
