//go:build linux

package neighbours

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// TestClaimAndScan: one keeper per namespace unless forced; Scan finds a
// process named mptcpd in the namespace and not one outside it, and leaves
// the calling process's own marker out.
func TestClaimAndScan(t *testing.T) {
	testutil.RequireRoot(t, "create network namespaces", "sleep")
	name, fd := testutil.NewNamedNetns(t, "nbr")
	_, other := testutil.NewNamedNetns(t, "nbr")

	m, err := Claim(fd, RoleKeeper, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := Claim(fd, RoleKeeper, false); !errors.Is(err, ErrKeeperActive) {
		t.Fatalf("second keeper claim = %v, want ErrKeeperActive", err)
	}
	if m2, err := Claim(other, RoleKeeper, false); err != nil {
		t.Fatalf("keeper claim in another namespace = %v, want nil", err)
	} else {
		m2.Close()
	}
	// The lock held by another (here a bare socket), this process forces.
	m.Close()
	var lock int
	if err := netns.Do(fd, func() (err error) { lock, err = bindAbstract(lockName); return err }); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lock)
	if _, err := Claim(fd, RoleKeeper, false); !errors.Is(err, ErrKeeperActive) {
		t.Fatalf("keeper claim with the lock held = %v, want ErrKeeperActive", err)
	}
	forced, err := Claim(fd, RoleKeeper, true)
	if err != nil {
		t.Fatalf("forced claim = %v", err)
	}
	defer forced.Close()

	// A process named mptcpd in the namespace, another outside.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "mptcpd")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	in := exec.Command("ip", "netns", "exec", name, fake, "30")
	out := exec.Command(fake, "30")
	for _, c := range []*exec.Cmd{in, out} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	var got []Neighbour
	for range 100 { // ip netns exec execs the fake a moment later
		if got, err = Scan(fd); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got, Neighbour{Name: Mptcpd, PID: in.Process.Pid}) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(got, Neighbour{Name: Mptcpd, PID: in.Process.Pid}) || slices.Contains(got, Neighbour{Name: Mptcpd, PID: out.Process.Pid}) {
		t.Errorf("Scan = %v; want mptcpd pid %d (in the namespace) and not pid %d (outside)", got, in.Process.Pid, out.Process.Pid)
	}
	for _, n := range got {
		if n.Name == MptcpPM {
			t.Errorf("Scan lists this process's own marker: %v", n)
		}
	}
}

// BenchmarkScan is the cost of one look for neighbours in the caller's
// namespace, which the daemon pays every Interval: one read of /proc/net/unix
// and, per process, one read of /proc/PID/comm.
func BenchmarkScan(b *testing.B) {
	for b.Loop() {
		if _, err := Scan(0); err != nil {
			b.Fatal(err)
		}
	}
}
