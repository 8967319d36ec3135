package testutil

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// AddrPort returns the address of a socket with a v4-mapped address
// unmapped, as the daemon and `connection show` print it.
func AddrPort(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("address %v: %v", a, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// SkipOrFail skips the test with reason, or fails it under CI=true, so
// that a misconfigured runner cannot pass silently.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

// LookPath returns the path of the program name, and skips the test when
// it is missing (fails it under CI=true, which installs them all).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, fmt.Sprintf("%s is not installed: %v", name, err))
	}
	return p
}

// RequireRoot skips the test (fails it under CI=true) unless it runs as
// root on a kernel with MPTCP (/proc/sys/net/mptcp/enabled) and finds
// ip(8) and tools on PATH. why says what root is needed for.
func RequireRoot(t testing.TB, why string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, fmt.Sprintf("needs root to %s (euid %d)", why, os.Geteuid()))
	}
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
		SkipOrFail(t, fmt.Sprintf("kernel without MPTCP: %v", err))
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		LookPath(t, tool)
	}
}

// BuildGo writes files (name → contents, go.mod among them) into the
// directory src, builds the program there with CGO_ENABLED=0 (a static Go
// executable) and the local toolchain, and returns the path of the binary,
// out. Without a go command the test is skipped.
func BuildGo(t testing.TB, src, out string, files map[string]string) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build a test program")
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gocmd, "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}
