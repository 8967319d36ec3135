//go:build linux

package ifmon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Helpers for the privileged tests: fresh, uniquely named namespaces that
// are deleted when the test ends, built with ip(8) (tests only shell out).

// requirePrivilege skips the test unless it runs as root with ip(8); under
// CI=true a skip is a failure, so a misconfigured runner cannot pass
// silently.
func requirePrivilege(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "needs ip(8) from iproute2: "+err.Error())
	}
}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

var nsSeq atomic.Int64

// newNetns creates a named namespace with a name unique to this process and
// test, brings its lo up, and returns the name and an open fd of it. The fd
// is closed and the namespace deleted by t.Cleanup.
func newNetns(t *testing.T) (string, int) {
	t.Helper()
	name := fmt.Sprintf("ifmon-%d-%d-%04x", os.Getpid(), nsSeq.Add(1), rand.IntN(1<<16))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("cannot create a network namespace: ip netns add: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ipns(t, name, "link set lo up")
	return name, int(f.Fd())
}

// ipns runs `ip -n ns ARGS` and fails the test on error.
func ipns(t *testing.T, ns, args string) {
	t.Helper()
	full := append([]string{"-n", ns}, strings.Fields(args)...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// ipBatch runs `ip -n ns -batch -` with the given commands, one a line.
func ipBatch(t *testing.T, ns string, lines []string) {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s -batch: %v: %s", ns, err, out)
	}
}

// waitOperUp waits until each link of ns reports operstate UP.
func waitOperUp(t *testing.T, ns string, links ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, l := range links {
		for {
			out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", l).CombinedOutput()
			if err == nil && strings.Contains(string(out), " state UP ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s not up: %v: %s", l, ns, err, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
