package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/stream"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// daemonProc is a running `mptcp-pm -n NS daemon` with its own
// configuration directory and control socket.
type daemonProc struct {
	t       testing.TB
	ns      string
	dir     string // config.yaml and policies.d/
	control string
	cmd     *exec.Cmd
	log     *lockedLog
	args    []string // more command-line arguments
	// command, if set, makes the daemon's command from its arguments
	// (from "daemon" on) instead of `mptcp-pm -n NS daemon ...`: to run
	// it inside the namespace (`ip netns exec`), or as another user.
	command func(args []string) *exec.Cmd
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writeConfig writes config.yaml and the policies (file name -> YAML)
// into a new directory and returns it.
func writeConfig(t testing.TB, config string, policies map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, p := range policies {
		if err := os.WriteFile(filepath.Join(dir, "policies.d", name), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startDaemon runs the daemon in ns on the configuration in dir (made by
// writeConfig) with --set-pm-type and --log-level debug, and returns once
// its control socket answers. It is stopped at cleanup; its log is shown
// if the test failed.
func startDaemon(t testing.TB, ns, dir string) *daemonProc {
	t.Helper()
	return startDaemonWith(t, ns, dir)
}

// startDaemonWith is startDaemon with more command-line arguments.
func startDaemonWith(t testing.TB, ns, dir string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, ns: ns, dir: dir, control: filepath.Join(dir, "control.sock"), log: &lockedLog{}, args: args}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon log (%s):\n%s", ns, d.log.String())
		}
	})
	return d
}

func (d *daemonProc) start() {
	d.t.Helper()
	args := append([]string{"daemon", "-c", filepath.Join(d.dir, "config.yaml"),
		"--set-pm-type", "--control", d.control, "--log-level", "debug"}, d.args...)
	if d.command != nil {
		d.cmd = d.command(args)
	} else {
		d.cmd = exec.Command(binary, append([]string{"-n", d.ns}, args...)...)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start daemon: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := control.Query(ctx, d.control, control.QueryStatus)
		cancel()
		if err == nil {
			return
		}
		if d.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon in %s did not answer on %s within 10 s; log:\n%s", d.ns, d.control, d.log.String())
}

// stop ends the daemon with SIGTERM (if it still runs) and checks it
// exited cleanly.
func (d *daemonProc) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil && !strings.Contains(err.Error(), "killed") {
			d.t.Errorf("daemon in %s exited with %v", d.ns, err)
		}
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
		d.t.Errorf("daemon in %s did not stop on SIGTERM within 5 s", d.ns)
	}
	d.cmd = nil
}

// kill9 kills the daemon with SIGKILL, as a crash would.
func (d *daemonProc) kill9() {
	d.t.Helper()
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}

// restart starts the daemon again after kill9 or stop.
func (d *daemonProc) restart() { d.start() }

// hup sends SIGHUP (reload).
func (d *daemonProc) hup() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
}

// status asks the daemon for its view.
func (d *daemonProc) status() *control.Status {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := control.Query(ctx, d.control, control.QueryStatus)
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}
	return r.Status
}

// waitLog waits up to timeout for the daemon's log to contain s.
func (d *daemonProc) waitLog(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(d.log.String(), s) {
			return true
		}
	}
	return false
}

// conn returns the daemon's view of the connection whose local address is
// local, waiting up to 5 s for pred to hold.
func (d *daemonProc) conn(local net.Addr, pred func(control.ConnStatus) bool) control.ConnStatus {
	d.t.Helper()
	want := netip.MustParseAddrPort(local.String())
	want = netip.AddrPortFrom(want.Addr().Unmap(), want.Port())
	var last control.ConnStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, c := range d.status().Connections {
			if c.Local == want.String() {
				last = c
				if pred(c) {
					return c
				}
			}
		}
	}
	d.t.Fatalf("daemon's view of %s never met the condition; last: %+v", want, last)
	return last
}

// activeOn is a condition for conn: the non-backup subflows are exactly on
// the interfaces given, in any order.
func activeOn(ifaces ...string) func(control.ConnStatus) bool {
	want := slices.Sorted(slices.Values(ifaces))
	return func(c control.ConnStatus) bool {
		return slices.Equal(slices.Sorted(slices.Values(c.Active)), want)
	}
}

// streamer is a record stream running in the background.
type streamer struct {
	conn   *net.TCPConn
	cancel context.CancelFunc
	done   chan stream.Result
}

// startStream dials with MPTCP from local in the client namespace of tb to
// the server's echo listener at remote and streams 100-byte records every
// 10 ms until wait is called.
func startStream(t testing.TB, tb *testbed.Testbed, local netip.Addr, remote netip.AddrPort) *streamer {
	t.Helper()
	c := dialMPTCP(t, tb.Client, local, remote)
	ctx, cancel := context.WithCancel(context.Background())
	s := &streamer{conn: c, cancel: cancel, done: make(chan stream.Result, 1)}
	go func() { s.done <- stream.Run(ctx, c, 10*time.Millisecond, 100, 15*time.Second) }()
	t.Cleanup(cancel)
	return s
}

// wait stops the stream and returns its result, failing the test if a
// record was lost or reordered.
func (s *streamer) wait(t testing.TB) stream.Result {
	t.Helper()
	s.cancel()
	r := <-s.done
	if r.Err != "" {
		t.Fatalf("stream: %v", r)
	}
	return r
}

// runStreamAs runs the mptcp-stream client as another user and/or in a
// cgroup (cgroupDir: a cgroup v2 directory, "" for none) in ns, and
// returns its JSON result line. The client streams for duration.
func runStreamAs(t testing.TB, ns string, uid int, cgroupDir string, local netip.Addr, remote netip.AddrPort, duration time.Duration) map[string]any {
	t.Helper()
	client := fmt.Sprintf("%s client -local %s -remote %s -duration %s", streamBinary, local, remote, duration)
	if uid >= 0 {
		client = fmt.Sprintf("setpriv --reuid=%d --regid=%d --clear-groups %s", uid, uid, client)
	}
	script := "exec " + client
	if cgroupDir != "" {
		script = fmt.Sprintf("echo $$ > %s/cgroup.procs && %s", cgroupDir, script)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("stream client (uid %d, cgroup %q): %v\nstdout %s\nstderr %s", uid, cgroupDir, err, out.String(), errb.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stream client output %q: %v", out.String(), err)
	}
	return r
}
