//go:build linux

package testutil

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// NewNamedNetns creates a network namespace named prefix-PID-RANDOM (as
// `ip netns add` names them, so `ip -n NAME` reaches it) and returns the
// name and an open fd of it. The fd is closed, then the namespace deleted,
// by t.Cleanup. Its lo stays down. If the namespace cannot be made the
// test is skipped (see SkipOrFail); callers check privilege first.
func NewNamedNetns(t testing.TB, prefix string) (string, int) {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), strings.ToLower(rand.Text()[:8]))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		SkipOrFail(t, fmt.Sprintf("cannot create a network namespace: ip netns add %s: %v: %s", name, err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	t.Cleanup(func() { netns.Release(fd) }) // first: the namespace's thread
	return name, fd
}

// NewNetns returns an fd of a fresh, unnamed network namespace, closed by
// t.Cleanup (the namespace and its links go with it). The namespace is made
// by a locked thread that never unlocks, so it ends with its goroutine and
// no thread returns to the scheduler inside it. Without privilege the test
// is skipped, and under CI=true it fails.
func NewNetns(t testing.TB) int {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ch <- result{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		SkipOrFail(t, fmt.Sprintf("cannot create a network namespace (needs CAP_SYS_ADMIN): %v", r.err))
	}
	t.Cleanup(func() { unix.Close(r.fd) })
	t.Cleanup(func() { netns.Release(r.fd) }) // first: the namespace's thread
	return r.fd
}

// NetlinkHandle returns a vishvananda/netlink handle whose socket lives in
// the namespace fd, closed by t.Cleanup.
func NetlinkHandle(t testing.TB, fd int) *netlink.Handle {
	t.Helper()
	var h *netlink.Handle
	if err := netns.Do(fd, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}
