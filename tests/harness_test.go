// Package tests holds the end-to-end tests of mptcp-pm: the real binary
// against the real kernel, in namespaces of scripts/testbed.sh.
package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// binary is the mptcp-pm command built for this run by TestMain, and
// streamBinary the test peer tests/cmd/mptcp-stream.
var binary, streamBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mptcp-pm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Other users run the stream tool in some tests.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "mptcp-pm")
	streamBinary = filepath.Join(dir, "mptcp-stream")
	for pkg, out := range map[string]string{"./cmd/mptcp-pm": binary, "./tests/cmd/mptcp-stream": streamBinary} {
		build := exec.Command("go", "build", "-o", out, "github.com/mptcp-pm/mptcp-pm/"+strings.TrimPrefix(pkg, "./"))
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.Exit(2)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the command printed.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs `mptcp-pm -n ns args…` (no -n when ns is "") and returns its
// output and exit status; it fails the test only if the command could not
// run at all.
func cli(t testing.TB, ns string, args ...string) result {
	t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return runCmd(t, exec.CommandContext(ctx, binary, args...), "mptcp-pm "+strings.Join(args, " "))
}

// runCmd runs cmd and returns its output and exit status; it fails the test
// (naming the command what) only if cmd could not run at all.
func runCmd(t testing.TB, cmd *exec.Cmd, what string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", what, err)
	}
	return r
}

// mustCLI runs the command and fails the test unless it exits 0 with
// nothing on stderr; it returns stdout.
func mustCLI(t testing.TB, ns string, args ...string) string {
	t.Helper()
	r := cli(t, ns, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("mptcp-pm -n %s %s: exit %d\nstdout: %s\nstderr: %s", ns, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// failCLI runs the command, expects exit status 1 and one line on stderr
// containing want, and returns that line.
func failCLI(t testing.TB, ns, want string, args ...string) string {
	t.Helper()
	r := cli(t, ns, args...)
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code != 1 || strings.Contains(line, "\n") || !strings.Contains(line, want) {
		t.Fatalf("mptcp-pm -n %s %s: exit %d, stderr %q; want exit 1 and one line containing %q",
			ns, strings.Join(args, " "), r.code, r.stderr, want)
	}
	return line
}

// ip runs `ip -n ns args…` and returns its stdout, failing on error.
func ip(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("ip -n %s %s: %v", ns, strings.Join(args, " "), err)
	}
	return string(out)
}

// sysctl sets a sysctl inside ns.
func sysctl(t testing.TB, ns, key, value string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+value).CombinedOutput(); err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v: %s", key, value, ns, err, out)
	}
}

// event is one line of `mptcp-pm -j monitor --json-legacy` (the schema
// these tests were written against: "type", tokens in eight hex digits).
type event map[string]any

func (e event) str(k string) string {
	v, _ := e[k].(string)
	return v
}

func (e event) num(k string) (int, bool) {
	v, ok := e[k].(float64)
	return int(v), ok
}

// monitor is a running `mptcp-pm -j monitor --json-legacy` in one namespace.
type monitor struct {
	ns     string
	cmd    *exec.Cmd
	events chan event
	mu     sync.Mutex
	seen   []event // everything read, for failure messages
	stderr lockedLog
}

// startMonitor starts the monitor in ns and returns once it provably
// receives events: it opens MPTCP listeners in ns until the monitor reports
// one. The monitor is stopped at cleanup.
func startMonitor(t testing.TB, ns string) *monitor {
	t.Helper()
	m := &monitor{ns: ns, events: make(chan event, 1024)}
	m.cmd = exec.Command(binary, "-n", ns, "-j", "monitor", "--json-legacy")
	m.cmd.Stderr = &m.stderr
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start monitor: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(m.events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = event{"type": "BAD-JSON", "line": sc.Text()}
			}
			m.mu.Lock()
			m.seen = append(m.seen, ev)
			m.mu.Unlock()
			m.events <- ev
		}
	}()
	t.Cleanup(func() {
		_ = m.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = m.cmd.Process.Kill()
			t.Errorf("monitor in %s did not stop on SIGINT", ns)
		}
		if err := m.cmd.Wait(); err != nil {
			t.Errorf("monitor in %s: %v (stderr %q)", ns, err, m.stderr.String())
		}
	})
	// Readiness: a listener's LISTENER_CREATED must come through.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ln := listenMPTCP(t, ns, netip.MustParseAddrPort("127.0.0.1:0"))
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		_, ok := m.waitFor(200*time.Millisecond, func(e event) bool {
			p, _ := e.num("sport")
			return e.str("type") == "LISTENER_CLOSED" && p == port
		})
		if ok {
			return m
		}
	}
	t.Fatalf("monitor in %s never reported a listener (stderr %q)", ns, m.stderr.String())
	return nil
}

// waitFor reads events until one satisfies pred or timeout passes.
func (m *monitor) waitFor(timeout time.Duration, pred func(event) bool) (event, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-m.events:
			if !ok {
				return nil, false
			}
			if pred(ev) {
				return ev, true
			}
		case <-timer.C:
			return nil, false
		}
	}
}

// expect waits up to 5 s for an event of type typ whose fields include
// want (numbers as int, strings as string, booleans as bool), and fails the
// test otherwise.
func (m *monitor) expect(t testing.TB, typ string, want map[string]any) event {
	t.Helper()
	ev, ok := m.waitFor(5*time.Second, func(e event) bool { return matchEvent(e, typ, want) })
	if !ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		var b strings.Builder
		for _, e := range m.seen {
			j, _ := json.Marshal(e)
			b.Write(j)
			b.WriteByte('\n')
		}
		t.Fatalf("monitor in %s: no %s event with %v within 5s; seen:\n%s", m.ns, typ, want, b.String())
	}
	return ev
}

// absent in a wanted event means the attribute must not be there.
type absentT struct{}

var absent = absentT{}

func (absentT) String() string { return "<absent>" }

// matchEvent reports whether e has type typ and the fields of want (numbers
// as int, strings, booleans, or absent).
func matchEvent(e event, typ string, want map[string]any) bool {
	if e.str("type") != typ {
		return false
	}
	for k, v := range want {
		switch v := v.(type) {
		case int:
			if n, ok := e.num(k); !ok || n != v {
				return false
			}
		case absentT:
			if _, ok := e[k]; ok {
				return false
			}
		default:
			if e[k] != v {
				return false
			}
		}
	}
	return true
}

// listenMPTCP opens an MPTCP listener in ns, closed at cleanup.
func listenMPTCP(t testing.TB, ns string, addr netip.AddrPort) net.Listener {
	t.Helper()
	return listenMPTCPNet(t, ns, "tcp", addr)
}

// listenMPTCPNet is listenMPTCP on a given network: "tcp4" gives an
// AF_INET socket, "tcp" on an unspecified address a dual-stack AF_INET6
// one (whose IPv4 connections the kernel reports as v4-mapped).
func listenMPTCPNet(t testing.TB, ns, network string, addr netip.AddrPort) net.Listener {
	t.Helper()
	var ln net.Listener
	err := testbed.Do(ns, func() (err error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(true)
		ln, err = lc.Listen(context.Background(), network, addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("listen MPTCP %s %s in %s: %v", network, addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// echoServer listens with MPTCP in ns on addr and echoes every connection
// until cleanup. It returns the listener.
func echoServer(t testing.TB, ns string, addr netip.AddrPort) net.Listener {
	t.Helper()
	return echoServerNet(t, ns, "tcp", addr)
}

// echoServerNet is echoServer on a given network (see listenMPTCPNet).
func echoServerNet(t testing.TB, ns, network string, addr netip.AddrPort) net.Listener {
	t.Helper()
	ln := listenMPTCPNet(t, ns, network, addr)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// dialMPTCP connects from local (port 0: any) in ns to remote with MPTCP,
// closed at cleanup, and checks the connection really is MPTCP.
func dialMPTCP(t testing.TB, ns string, local netip.Addr, remote netip.AddrPort) *net.TCPConn {
	t.Helper()
	var c net.Conn
	err := testbed.Do(ns, func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		if local.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
		}
		d.SetMultipathTCP(true)
		c, err = d.Dial("tcp", remote.String())
		return err
	})
	if err != nil {
		t.Fatalf("dial MPTCP %s -> %s in %s: %v", local, remote, ns, err)
	}
	t.Cleanup(func() { c.Close() })
	tc := c.(*net.TCPConn)
	if ok, err := tc.MultipathTCP(); err != nil || !ok {
		t.Fatalf("connection %s -> %s is not MPTCP (err %v)", local, remote, err)
	}
	return tc
}

// echo writes a record and reads it back, failing the test on error or
// mismatch within 5 s.
func echo(t testing.TB, c net.Conn, payload string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(payload))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(buf) != payload {
		t.Fatalf("echo: got %q, want %q", buf, payload)
	}
}

// connJSON is one connection of `mptcp-pm -j connection show`.
type connJSON struct {
	Token    string `json:"token"`
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	State    string `json:"state"`
	Subflows []struct {
		Local        string `json:"local"`
		Remote       string `json:"remote"`
		State        string `json:"state"`
		LocID        int    `json:"locid"`
		RemID        int    `json:"remid"`
		Backup       bool   `json:"backup"`
		BackupRemote bool   `json:"backup_remote"`
		Dev          string `json:"dev"`
		RTTus        int64  `json:"rtt_us"`
	} `json:"subflows"`
}

// connections returns `mptcp-pm -n ns -j connection show`.
func connections(t testing.TB, ns string) []connJSON {
	t.Helper()
	var cs []connJSON
	if err := json.Unmarshal([]byte(mustCLI(t, ns, "-j", "connection", "show")), &cs); err != nil {
		t.Fatalf("connection show -j: %v", err)
	}
	return cs
}

// connectionOf finds the connection in ns whose local address is local,
// waiting up to 5 s until it has at least n subflows.
func connectionOf(t testing.TB, ns string, local net.Addr, n int) connJSON {
	t.Helper()
	want := netip.MustParseAddrPort(local.String())
	want = netip.AddrPortFrom(want.Addr().Unmap(), want.Port())
	var last []connJSON
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = connections(t, ns)
		for _, c := range last {
			if c.Local == want.String() && len(c.Subflows) >= n {
				return c
			}
		}
	}
	t.Fatalf("no connection from %s with %d subflows in %s; have %+v", want, n, ns, last)
	return connJSON{}
}
