// Package testbed brings up the two-path MPTCP testbed of scripts/testbed.sh
// for end-to-end tests and impairs its paths with scripts/impair.sh.
//
// The topology is three network namespaces, a client, a router and a
// server. The client reaches the server over a Wi-Fi-like path (WifiDev)
// and a cellular-like path (CellDev), each with its own addresses and
// source-based policy routing; the server has two addresses (Server4 and
// Server4b, Server6 and Server6b). The router forwards between them and is
// where a path is cut, blackholed, made lossy or delayed. See
// scripts/README.md.
//
// A typical test:
//
//	func TestFailover(t *testing.T) {
//		tb := testbed.New(t) // skips unless privileged
//		var ln net.Listener
//		err := testbed.Do(tb.Server, func() (err error) {
//			ln, err = net.Listen("tcp", ":0")
//			return err
//		})
//		...
//		tb.Impair(t, testbed.PathWifi, "cut")
//	}
//
// Everything here needs root; RequirePrivileged (called by New) skips the
// test otherwise, or fails it when CI=true.
package testbed

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Interface names in the client namespace.
const (
	WifiDev = "wlan0" // Wi-Fi-like interface, path PathWifi
	CellDev = "wwan0" // cellular-like interface, path PathCell
)

// Path names accepted by Testbed.Impair.
const (
	PathWifi = "wifi" // WifiDev and its router peer rwlan0
	PathCell = "cell" // CellDev and its router peer rwwan0
)

// Addresses of the testbed. They are the same in every testbed; each
// testbed lives in its own namespaces.
var (
	ClientWifi4 = netip.MustParseAddr("10.0.1.2")  // client on WifiDev
	ClientCell4 = netip.MustParseAddr("10.0.2.2")  // client on CellDev
	ClientWifi6 = netip.MustParseAddr("fd00:1::2") // client on WifiDev
	ClientCell6 = netip.MustParseAddr("fd00:2::2") // client on CellDev
	Server4     = netip.MustParseAddr("10.0.3.2")  // server on eth0
	Server4b    = netip.MustParseAddr("10.0.4.2")  // server on eth1, a second address to announce
	Server6     = netip.MustParseAddr("fd00:3::2") // server on eth0
	Server6b    = netip.MustParseAddr("fd00:4::2") // server on eth1
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/var/run/netns"

// Testbed is one running testbed. The fields are network namespace names,
// usable with `ip netns exec`, Exec, NetNSFD and Do.
type Testbed struct {
	Prefix string // namespace name prefix, as given to scripts/testbed.sh
	Client string // Prefix + "-cli"
	Router string // Prefix + "-rtr"
	Server string // Prefix + "-srv"
}

// New brings up a fresh testbed with a unique prefix via scripts/testbed.sh
// and registers a cleanup that tears it down. It calls RequirePrivileged
// first. With TESTBED_KEEP=1 in the environment, the testbed of a failed
// test is left in place for inspection (remove it with
// `scripts/testbed.sh down PREFIX`).
func New(t testing.TB) *Testbed {
	t.Helper()
	RequirePrivileged(t)
	script := scriptPath(t, "testbed.sh")
	prefix := "t" + randomString(9) // 10 characters, unique enough
	if out, err := exec.Command(script, "up", prefix).CombinedOutput(); err != nil {
		t.Fatalf("testbed.sh up %s: %v\n%s", prefix, err, out)
	}
	tb := &Testbed{
		Prefix: prefix,
		Client: prefix + "-cli",
		Router: prefix + "-rtr",
		Server: prefix + "-srv",
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("TESTBED_KEEP") == "1" {
			t.Logf("TESTBED_KEEP=1: leaving testbed %s up; remove it with %s down %s", prefix, script, prefix)
			return
		}
		if out, err := exec.Command(script, "down", prefix).CombinedOutput(); err != nil {
			t.Errorf("testbed.sh down %s: %v\n%s", prefix, err, out)
		}
	})
	return tb
}

// Impair runs scripts/impair.sh on this testbed: path is PathWifi or
// PathCell ("all" for clear), action one of cut, up, blackhole, loss N,
// delay MS [JITTER_MS], clear, show. It fails the test on error and logs
// the output, if any.
//
// "delay", "300" adds 300 ms to the path's round-trip time (150 ms each
// way) with the mptcp-netem delayer; impair.sh builds it with `go build`
// unless MPTCP_NETEM names a binary (see scripts/README.md).
func (tb *Testbed) Impair(t testing.TB, path, action string, args ...string) {
	t.Helper()
	argv := append([]string{"-p", tb.Prefix, path, action}, args...)
	out, err := exec.Command(scriptPath(t, "impair.sh"), argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("impair.sh %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if len(out) > 0 {
		t.Logf("impair.sh %s:\n%s", strings.Join(argv, " "), out)
	}
}

// Exec runs `ip netns exec ns name args...` and returns its standard
// output. On error it fails the test, quoting the combined output. Like
// t.Fatal, it must be called from the test's goroutine.
func (tb *Testbed) Exec(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	var stdout bytes.Buffer
	combined := &lockedBuffer{}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout = io.MultiWriter(&stdout, combined)
	cmd.Stderr = combined
	if err := cmd.Run(); err != nil {
		t.Fatalf("ip netns exec %s %s %s: %v\n%s", ns, name, strings.Join(args, " "), err, combined.String())
	}
	return stdout.String()
}

// NetNSFD opens the network namespace ns (/var/run/netns/ns) and returns the
// file descriptor, for unix.Setns or netlink sockets bound to a namespace.
// It is closed when the test finishes.
func (tb *Testbed) NetNSFD(t testing.TB, ns string) int {
	t.Helper()
	fd, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open netns %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// Do runs fn with the calling goroutine locked to its OS thread and that
// thread switched into the network namespace ns, then switches back.
// Sockets created inside fn belong to ns and stay there when used later
// from any goroutine. Goroutines started by fn do not run in ns.
//
// If switching back fails, the thread is left locked, so the Go runtime
// terminates it with the goroutine instead of reusing a thread that is in
// a foreign namespace.
func Do(ns string, fn func() error) (err error) {
	target, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer unix.Close(target)

	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	defer func() {
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			// Stay locked: the thread dies with this goroutine.
			err = errors.Join(err, fmt.Errorf("leave netns %s: %w", ns, rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// RequirePrivileged skips the test unless it can build testbeds: running
// as root, a kernel with MPTCP (/proc/sys/net/mptcp/enabled), the tools the
// scripts use, and permission to run `ip netns add`. When the environment
// has CI=true it fails the test instead, since a skip in CI hides a
// broken setup.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	reason := privileged()
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testbed unavailable: %s (CI=true: failing instead of skipping)", reason)
	}
	t.Skipf("testbed unavailable: %s", reason)
}

// privileged returns why testbeds cannot be built here, or "". The answer
// is computed once per process.
var privileged = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
		return "kernel without MPTCP (/proc/sys/net/mptcp/enabled: " + err.Error() + ")"
	}
	for _, tool := range []struct{ cmd, pkg string }{
		{"bash", "bash"},
		{"ip", "iproute2"},
		{"nft", "nftables"},
		{"ethtool", "ethtool"},
		{"ping", "iputils-ping"},
		{"flock", "util-linux"},
		{"sysctl", "procps"},
	} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			return fmt.Sprintf("%s not found (apt-get install %s)", tool.cmd, tool.pkg)
		}
	}
	probe := fmt.Sprintf("tbprobe-%d-%s", os.Getpid(), randomString(6))
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Sprintf("ip netns add not permitted: %v: %s", err, bytes.TrimSpace(out))
	}
	if out, err := exec.Command("ip", "netns", "del", probe).CombinedOutput(); err != nil {
		return fmt.Sprintf("ip netns del %s: %v: %s", probe, err, bytes.TrimSpace(out))
	}
	return ""
})

// randomString returns n (at most 26) random characters from [a-z2-7].
func randomString(n int) string {
	return strings.ToLower(rand.Text()[:n])
}

// repoRoot is the directory holding go.mod, found by walking up from the
// working directory (a package directory under go test).
var repoRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
})

// scriptPath returns the path of scripts/name in the repository.
func scriptPath(t testing.TB, name string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("finding the repository root: %v", err)
	}
	return filepath.Join(root, "scripts", name)
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// command's stdout and stderr copiers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
