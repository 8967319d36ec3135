//go:build linux

package caps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestDropCapabilities runs Drop in a child process (the
// test binary again) with many threads, as root and as a user without
// capabilities, and checks every thread's sets.
func TestDropCapabilities(t *testing.T) {
	if os.Getenv("MPTCP_PM_CAPS_CHILD") == "1" {
		dropChild()
		return
	}
	bin := os.Args[0]
	run := func(cred *syscall.Credential) string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run", "^TestDropCapabilities$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MPTCP_PM_CAPS_CHILD=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return string(out)
	}
	if os.Geteuid() == 0 {
		want := uint64(1)<<CapNetAdmin | 1<<CapBPF
		s, err := readCapSets("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		want &= s.prm
		out := run(nil)
		if !strings.Contains(out, fmt.Sprintf("threads ok: all have %016x bounding true\n", want)) {
			t.Errorf("as root: %s", out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: this test must run as root")
	}
	// Without capabilities (uid 65534 after exec): nothing to drop, no
	// error, no bounding set change.
	if os.Geteuid() == 0 {
		// A copy that uid 65534 may run: the build directory is 0700.
		dir, err := os.MkdirTemp("", "mptcp-pm-caps-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err == nil {
			bin = filepath.Join(dir, "daemon.test")
			err = os.WriteFile(bin, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		if out := run(&syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}); !strings.Contains(out, "threads ok: all have 0000000000000000 bounding false\n") {
			t.Errorf("as uid 65534: %s", out)
		}
	}
}

func dropChild() {
	// Threads: some locked and blocked, as netns.Do and the netlink
	// sockets leave them.
	block := make(chan struct{})
	for range 16 {
		go func() {
			runtime.LockOSThread()
			<-block
		}()
	}
	res, err := Drop([]Capability{CapNetAdmin, CapBPF})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var want uint64
	for _, c := range res.Kept {
		want |= 1 << uint(c)
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		s, err := readCapSets("/proc/self/task/" + task.Name() + "/status")
		if err != nil {
			continue
		}
		if s.prm != want || s.eff != want || s.inh != 0 || s.amb != 0 || s.nnp != 1 || (res.Bounding && s.bnd != want) {
			fmt.Printf("thread %s: %+v, want %016x\n", task.Name(), s, want)
			os.Exit(1)
		}
	}
	// A thread started now starts from the dropped sets.
	go func() {
		runtime.LockOSThread()
		<-block
	}()
	fmt.Printf("threads ok: all have %016x bounding %v\n", want, res.Bounding)
	close(block)
}
