package tests

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// plainClientSrc is a TCP client that never asks for MPTCP: it dials
// os.Args[1], echoes one record, prints its local address and whether the
// connection is MPTCP, and holds the connection for a while. Its module
// says go 1.24, whose default (multipathtcp=2) is MPTCP for listeners only.
const plainClientSrc = `package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.DialTimeout("tcp", os.Args[1], 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "hello"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		fmt.Fprintln(os.Stderr, "echo:", err, string(buf))
		os.Exit(2)
	}
	mp, _ := c.(*net.TCPConn).MultipathTCP()
	fmt.Printf("%s %v\n", c.LocalAddr(), mp)
	time.Sleep(1500 * time.Millisecond)
}
`

// buildPlainClient builds plainClientSrc into a temporary directory.
func buildPlainClient(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module plainclient\n\ngo 1.24\n", "main.go": plainClientSrc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "plainclient")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the plain client: %v\n%s", err, out)
	}
	return bin
}

// runPlainClient starts argv (which runs the plain client), reads the
// line the client prints once connected and reports whether
// `connection show` in ns lists an MPTCP connection from that address
// while the client holds it. It returns the client's own verdict, the
// kernel's, and mptcp-pm's standard error.
func runPlainClient(t *testing.T, ns string, argv ...string) (selfMPTCP, listed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var errb lockedLog
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	defer cmd.Wait()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("%s: no line from the client: %v (stderr %q)", strings.Join(argv, " "), err, errb.String())
	}
	local, verdict, _ := strings.Cut(strings.TrimSpace(line), " ")
	want := netip.MustParseAddrPort(local)
	want = netip.AddrPortFrom(want.Addr().Unmap(), want.Port())
	// The client holds the connection for 1.5 s; look three times.
	for range 3 {
		for _, c := range connections(t, ns) {
			if c.Local == want.String() {
				listed = true
			}
		}
		if listed {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v (stderr %q)", strings.Join(argv, " "), err, errb.String())
	}
	return verdict == "true", listed, errb.String()
}

// TestIntegrationRunGoClient: a Go client that never asks for MPTCP makes
// a plain TCP connection, and an MPTCP one under `mptcp-pm run`.
func TestIntegrationRunGoClient(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	client := buildPlainClient(t)
	server := netip.AddrPortFrom(testbed.Server4, 5201)
	echoServer(t, tb.Server, server)

	self, listed, _ := runPlainClient(t, tb.Client, "ip", "netns", "exec", tb.Client, client, server.String())
	if self || listed {
		t.Fatalf("control without run: client says MPTCP %v, connection show lists it %v; want neither", self, listed)
	}

	self, listed, stderr := runPlainClient(t, tb.Client, binary, "-n", tb.Client, "run", "--", client, server.String())
	if !self || !listed {
		t.Fatalf("under run: client says MPTCP %v, connection show lists it %v; want both (stderr %q)", self, listed, stderr)
	}
	line := strings.TrimSuffix(stderr, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "mptcp-pm: run: plainclient: MPTCP via ") ||
		!(strings.Contains(line, "GODEBUG=multipathtcp=1 (Go go1.") || strings.Contains(line, "eBPF fmod_ret")) {
		t.Errorf("stderr %q; want one line naming the method", stderr)
	}
	t.Logf("%s", line)
}

// connKey is the context key under which the HTTP server keeps the
// accepted connection.
type connKey struct{}

// slowHTTPServer serves /slow with MPTCP in ns on addr: it sends each
// request's verdict (is the accepted connection MPTCP?) on the returned
// channel, then answers "ok" after a second.
func slowHTTPServer(t *testing.T, ns string, addr netip.AddrPort) <-chan bool {
	t.Helper()
	ln := listenMPTCP(t, ns, addr)
	verdicts := make(chan bool, 4)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(*net.TCPConn)
		mp := false
		if c != nil {
			mp, _ = c.MultipathTCP()
		}
		verdicts <- mp
		time.Sleep(time.Second)
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return verdicts
}

func verdict(t *testing.T, ch <-chan bool) bool {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("the HTTP server got no request")
		return false
	}
}

// TestIntegrationRunCurl: curl (C, dynamically linked) reaches an MPTCP
// HTTP server with plain TCP, and with MPTCP through LD_PRELOAD under run.
func TestIntegrationRunCurl(t *testing.T) {
	t.Parallel()
	testutil.LookPath(t, "curl")
	tb := testbed.New(t)
	addr := netip.AddrPortFrom(testbed.Server4, 8080)
	verdicts := slowHTTPServer(t, tb.Server, addr)
	url := "http://" + addr.String() + "/slow"

	out := tb.Exec(t, tb.Client, "curl", "-s", "--max-time", "10", url)
	if out != "ok\n" || verdict(t, verdicts) {
		t.Fatalf("control: curl without run printed %q; want ok over plain TCP", out)
	}

	r := cli(t, tb.Client, "run", "--", "curl", "-s", "--max-time", "10", url)
	if r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("run curl: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !verdict(t, verdicts) {
		t.Errorf("run curl: the server's connection was not MPTCP (stderr %q)", r.stderr)
	}
	line := strings.TrimSuffix(r.stderr, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "mptcp-pm: run: curl: MPTCP via ") ||
		!(strings.Contains(line, "LD_PRELOAD (/") || strings.Contains(line, "eBPF fmod_ret")) {
		t.Errorf("stderr %q; want one line naming the method", r.stderr)
	}
	t.Logf("%s", line)

	// Asked for by name, GODEBUG does not apply to curl and nothing runs.
	failCLI(t, tb.Client, "run: curl: godebug: not a Go program", "run", "--method", "godebug", "--", "curl", "-s", url)
}

// TestIntegrationRunExitStatus: the command's exit status and the signals
// sent to mptcp-pm pass through; --quiet prints nothing.
func TestIntegrationRunExitStatus(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)

	r := cli(t, tb.Client, "run", "--", "sh", "-c", "exit 3")
	if r.code != 3 || !strings.HasPrefix(r.stderr, "mptcp-pm: run: sh: MPTCP via ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("run sh -c 'exit 3': exit %d stderr %q; want 3 and one line naming the method", r.code, r.stderr)
	}
	r = cli(t, tb.Client, "run", "--quiet", "--", "sh", "-c", "echo hi; exit 0")
	if r.code != 0 || r.stdout != "hi\n" || r.stderr != "" {
		t.Errorf("run --quiet: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// SIGTERM to mptcp-pm reaches the command, whose status is ours.
	cmd := exec.Command(binary, "-n", tb.Client, "run", "-q", "--", "sh", "-c",
		`trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("no ready line: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("after SIGTERM: %v; want exit status 7 from the command's trap", err)
	}
}
