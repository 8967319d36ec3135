package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// capSets are a thread's capability sets and no_new_privs flag from
// /proc/PID/task/TID/status.
type capSets struct{ Inh, Prm, Eff, Bnd, Amb, NNP uint64 }

func readCaps(t *testing.T, path string) capSets {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s capSets
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		p := map[string]*uint64{"CapInh": &s.Inh, "CapPrm": &s.Prm, "CapEff": &s.Eff, "CapBnd": &s.Bnd, "CapAmb": &s.Amb, "NoNewPrivs": &s.NNP}[k]
		if p == nil {
			continue
		}
		if *p, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
			t.Fatalf("%s: %s: %v", path, k, err)
		}
	}
	return s
}

func capMask(caps ...caps.Capability) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << uint(c)
	}
	return m
}

// checkProcCaps checks that every thread of pid has permitted = effective
// = bounding = want (limited to what this test process may hold), empty
// inheritable and ambient sets, and no_new_privs set.
func checkProcCaps(t *testing.T, pid int, want uint64) {
	t.Helper()
	want &= readCaps(t, "/proc/self/status").Prm
	exp := capSets{Prm: want, Eff: want, Bnd: want, NNP: 1}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		path := fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name())
		if _, err := os.Stat(path); err != nil {
			continue // the thread ended
		}
		if got := readCaps(t, path); got != exp {
			t.Errorf("%s: CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x NoNewPrivs %d; want %016x %016x %016x %016x %016x %d",
				path, got.Inh, got.Prm, got.Eff, got.Bnd, got.Amb, got.NNP, exp.Inh, exp.Prm, exp.Eff, exp.Bnd, exp.Amb, exp.NNP)
		}
	}
}

// What the daemon keeps with -n (see caps.For): with
// plain policies, and with mptcpify and a port below 1024 to listen on.
var (
	plainCaps = capMask(caps.CapNetAdmin, caps.CapSysAdmin)
	fullCaps  = capMask(caps.CapNetAdmin, caps.CapNetBindService, caps.CapBPF, caps.CapPerfmon,
		caps.CapDACOverride, caps.CapSysAdmin)
)

// TestIntegrationDaemonCapabilities checks the capability sets of a
// running daemon with eBPF probes, then that it still does its job with
// them (a handover on link down); that a reload to a configuration that
// needs what it dropped is refused, naming it; and that a daemon started
// on that configuration keeps what it needs and uses it (an mptcpify
// program loaded, a listener on an announced port below 1024 opened in the
// -n namespace).
func TestIntegrationDaemonCapabilities(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBedWith(t, handoverConfig, nil, "--quality", "bpf")
	if !d.waitLog("capabilities dropped", time.Second) {
		t.Fatalf("no \"capabilities dropped\" line in the daemon's log")
	}
	checkProcCaps(t, d.cmd.Process.Pid, plainCaps)
	if st := d.status(); st.Quality != "ebpf" {
		t.Errorf("quality %q, want ebpf", st.Quality)
	}

	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), activeOn("wlan0"))
	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	tb.Impair(t, testbed.PathWifi, "clear")

	// Reload: a policy with mptcpify (CAP_BPF, CAP_PERFMON) and a default
	// that announces port 443 (CAP_NET_BIND_SERVICE, setns: CAP_SYS_ADMIN).
	r := make([]byte, 4)
	_, _ = rand.Read(r)
	cg := "/mptcp-pm-captest-" + hex.EncodeToString(r)
	if err := os.WriteFile(filepath.Join(d.dir, "config.yaml"), []byte(handoverConfig+"  announce: [\""+testbed.ClientCell4.String()+":443\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "policies.d", "app.yaml"), []byte("name: app\nmatch: { cgroup: "+cg+" }\nmode: aggregate\nmptcpify: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := cli(t, "", "reload", "--control", d.control)
	if res.code == 0 || !strings.Contains(res.stderr, "cap_net_bind_service") || !strings.Contains(res.stderr, "cap_bpf") ||
		!strings.Contains(res.stderr, "which the daemon dropped at start: restart it to run this configuration") {
		t.Fatalf("reload needing dropped capabilities: exit %d, stderr %q", res.code, res.stderr)
	}
	checkProcCaps(t, d.cmd.Process.Pid, plainCaps)
	s.wait(t)

	// Started on it, the daemon keeps what it needs. (It removes the
	// cgroup it made when it stops.)
	d.stop()
	d.start()
	if !d.waitLog("capabilities dropped", 5*time.Second) {
		t.Fatalf("no \"capabilities dropped\" line in the restarted daemon's log")
	}
	checkProcCaps(t, d.cmd.Process.Pid, fullCaps)
	if res := cli(t, "", "reload", "--control", d.control); res.code != 0 {
		t.Fatalf("reload: exit %d, stderr %q", res.code, res.stderr)
	}
	for _, p := range d.status().Policies {
		if p.Name == "app" && p.Mptcpify != "ebpf" && !strings.Contains(p.Mptcpify, "kernel refuses fmod_ret") {
			t.Errorf("mptcpify after the drop: %q, want ebpf (or a kernel in lockdown)", p.Mptcpify)
		}
	}
	if !d.waitLog("listening for joins to an announced address", time.Second) {
		t.Errorf("no listener on the announced port 443")
	}
	checkProcCaps(t, d.cmd.Process.Pid, fullCaps)
}

// TestIntegrationDaemonCapabilitiesQualityOff: without measurements the
// daemon keeps the same set (mptcpify on reload is what needs CAP_BPF and
// CAP_PERFMON, not the probes, loaded before the drop), and endpoint
// mode keeps CAP_NET_ADMIN, and CAP_SYS_ADMIN for -n.
func TestIntegrationDaemonCapabilitiesQualityOff(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	d := startDaemonWith(t, tb.Client, writeConfig(t, dpConfig("single", ""), nil), "--quality", "off")
	checkProcCaps(t, d.cmd.Process.Pid, plainCaps)
	if st := d.status(); st.Quality != "none" && st.Quality != "off" {
		t.Errorf("quality %q, want none", st.Quality)
	}
	d.stop()

	dir := writeConfig(t, dpConfig("single", "pm: kernel\n"), nil)
	cmd := exec.Command(binary, "-n", tb.Client, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--set-pm-type")
	log := &lockedLog{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "endpoint keeper started"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("endpoint keeper did not start; log:\n%s", log)
		}
	}
	checkProcCaps(t, cmd.Process.Pid, capMask(caps.CapNetAdmin, caps.CapSysAdmin))
	// It still manages endpoints: the Wi-Fi address gets one.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := cli(t, tb.Client, "endpoint", "show"); strings.Contains(r.stdout, testbed.ClientWifi4.String()+" ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no endpoint for %s after the drop; log:\n%s", testbed.ClientWifi4, log)
		}
	}
}

// asUser runs the binary with args as uid:gid with no supplementary
// groups.
func asUser(t *testing.T, uid, gid uint32, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	return runCmd(t, cmd, fmt.Sprintf("run as %d:%d", uid, gid))
}

// TestIntegrationControlSocketSecurity: with a control group the socket
// is 0660 and the group's members may read but not reload; others may do
// neither; malformed and stuck clients get an error and never hold up the
// daemon, which keeps answering and following the kernel meanwhile.
func TestIntegrationControlSocketSecurity(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
	startMonitor(t, tb.Server)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	// nogroup (65534) exists on Debian and most distributions.
	d := startDaemon(t, tb.Client, writeConfig(t, dpConfig("aggregate", "control_group: nogroup\n"), nil))
	fi, err := os.Stat(d.control)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Uid != 0 || st.Gid != 65534 {
		t.Fatalf("control socket: mode %v owner %d:%d, want 0660 root:nogroup (0:65534)", fi.Mode(), st.Uid, st.Gid)
	}
	for dir := filepath.Dir(d.control); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if r := asUser(t, 65534, 65534, "status", "--control", d.control); r.code != 0 || !strings.Contains(r.stdout, "  default      aggregate") {
		t.Errorf("status as a member of the control group: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		name     string
		uid, gid uint32
		args     []string
		want     string
	}{
		{"reload as a member", 65534, 65534, []string{"reload"}, "mptcp-pm: daemon: permission denied: reload needs root\n"},
		{"status as a non-member", 65533, 65533, []string{"status"}, "mptcp-pm: daemon: permission denied: status needs root or the control group\n"},
		{"reload as a non-member", 65533, 65533, []string{"reload"}, "mptcp-pm: daemon: permission denied: reload needs root\n"},
	} {
		// The socket's mode would stop a non-member before the daemon
		// does: open it, so that the daemon's own check is what is tested.
		if err := os.Chmod(d.control, 0o666); err != nil {
			t.Fatal(err)
		}
		if r := asUser(t, c.uid, c.gid, append(c.args, "--control", d.control)...); r.code != 1 || r.stderr != c.want || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, r.code, r.stdout, r.stderr, c.want)
		}
	}

	// Bad clients, all connected at once.
	dial := func() *net.UnixConn {
		t.Helper()
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: d.control, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	silent := dial()
	slow := dial()
	if _, err := slow.Write([]byte(`{"query": "sta`)); err != nil {
		t.Fatal(err)
	}
	huge := dial()
	hugeDone := make(chan error, 1)
	go func() {
		_, err := huge.Write(bytes.Repeat([]byte("a"), 1<<20))
		hugeDone <- err
	}()
	notJSON, unknown := dial(), dial()
	if _, err := notJSON.Write([]byte("status\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := unknown.Write([]byte(`{"query": "shutdown"}` + "\n")); err != nil {
		t.Fatal(err)
	}

	// Meanwhile the daemon answers at once and follows a new connection.
	start := time.Now()
	_ = d.status()
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("status took %v while bad clients were connected", took)
	}
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return len(c.Subflows) == 2 })

	reply := func(name string, c *net.UnixConn, within time.Duration) string {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(within))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Errorf("%s: no reply within %v: %v", name, within, err)
		}
		return line
	}
	for _, c := range []struct {
		name string
		c    *net.UnixConn
		want string
	}{
		{"not JSON", notJSON, `{"error":"bad request: invalid character 's' looking for beginning of value"}` + "\n"},
		{"unknown query", unknown, `{"error":"unknown query \"shutdown\" (want status, reload or explain)"}` + "\n"},
		{"1 MiB without a newline", huge, `{"error":"bad request: no complete line within 4096 bytes and 2s"}` + "\n"},
		{"half a request", slow, `{"error":"bad request: no complete line within 4096 bytes and 2s"}` + "\n"},
		{"nothing", silent, `{"error":"bad request: no complete line within 4096 bytes and 2s"}` + "\n"},
	} {
		if got := reply(c.name, c.c, 3*time.Second); got != c.want {
			t.Errorf("%s: reply %q, want %q", c.name, got, c.want)
		}
	}
	select {
	case <-hugeDone: // refused (the daemon closed its end) or written
	case <-time.After(3 * time.Second):
		t.Errorf("the 1 MiB write is still blocked 3 s after the reply")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := control.Query(ctx, d.control, control.QueryStatus); err != nil {
		t.Errorf("status after the bad clients: %v", err)
	}
	s.wait(t)
}
