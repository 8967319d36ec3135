//go:build linux

package caps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDropCapabilities runs Drop in a child process (the test binary
// again) with many threads: as root, as root switching to uid 65534, and
// as a user without capabilities; the child checks every thread's sets
// and ids in /proc/self/task/*/status, including a thread started after
// the drop.
func TestDropCapabilities(t *testing.T) {
	if os.Getenv("MPTCP_PM_CAPS_CHILD") == "1" {
		dropChild()
		return
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: this test must run as root")
		}
		t.Skip("needs root")
	}
	// A copy that uid 65534 may run: the build directory is 0700, and so
	// is t.TempDir's parent.
	dir, err := os.MkdirTemp("", "mptcp-pm-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	bin := filepath.Join(dir, "caps.test")
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	run := func(cred *syscall.Credential, as string) string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run", "^TestDropCapabilities$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MPTCP_PM_CAPS_CHILD=1", "MPTCP_PM_CAPS_AS="+as)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child (uid %v, switching to %q): %v\n%s", cred, as, err, out)
		}
		return string(out)
	}
	s, err := readThreadState("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	want := (uint64(1)<<CapNetAdmin | 1<<CapBPF) & s.prm
	if out := run(nil, ""); !strings.Contains(out, fmt.Sprintf("threads ok: all have %016x bounding true uid 0\n", want)) {
		t.Errorf("as root: %s", out)
	}
	if out := run(nil, "65534"); !strings.Contains(out, fmt.Sprintf("threads ok: all have %016x bounding true uid 65534\n", want)) {
		t.Errorf("as root, switching to uid 65534: %s", out)
	}
	// Without capabilities: nothing to drop, no error, no bounding set
	// change; asking to switch user is an error that says why.
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	if out := run(nobody, ""); !strings.Contains(out, "threads ok: all have 0000000000000000 bounding false uid 65534\n") {
		t.Errorf("as uid 65534: %s", out)
	}
	if out := run(nobody, "65534"); !strings.Contains(out, "error: drop capabilities: cannot switch to user 65534: the process has no capabilities") {
		t.Errorf("as uid 65534, switching: %s", out)
	}
}

func dropChild() {
	// Threads: some locked and blocked, as netns.Do and the netlink
	// sockets leave them, and one whose goroutine ended locked (the
	// thread exits).
	block := make(chan struct{})
	for range 16 {
		go func() {
			runtime.LockOSThread()
			<-block
		}()
	}
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(done)
	}()
	<-done
	var as *Identity
	if n := os.Getenv("MPTCP_PM_CAPS_AS"); n != "" {
		uid, _ := strconv.Atoi(n)
		as = &Identity{Name: n, UID: uid, GID: uid}
	}
	res, err := Drop([]Capability{CapNetAdmin, CapBPF}, as)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	want := uint64(0)
	for _, c := range res.Kept {
		want |= 1 << uint(c)
	}
	check := func() bool {
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			s, err := readThreadState("/proc/self/task/" + task.Name() + "/status")
			if err != nil {
				continue
			}
			if s.prm != want || s.eff != want || s.inh != 0 || s.amb != 0 || s.nnp != 1 || (res.Bounding && s.bnd != want) ||
				(as != nil && (s.uids[0] != as.UID || s.uids[1] != as.UID || s.uids[2] != as.UID || s.uids[3] != as.UID)) {
				fmt.Printf("thread %s: %s, want caps %016x\n", task.Name(), s, want)
				return false
			}
		}
		return true
	}
	if !check() {
		os.Exit(1)
	}
	// A thread started now starts from the dropped sets.
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(started)
		<-block
	}()
	<-started
	if !check() {
		os.Exit(1)
	}
	fmt.Printf("threads ok: all have %016x bounding %v uid %d\n", want, res.Bounding, os.Geteuid())
	close(block)
}
