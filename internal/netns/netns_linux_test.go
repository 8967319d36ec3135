//go:build linux

package netns

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestSysctlInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: this test must run as root")
		}
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("nsut-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	f, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	host, err := ReadSysctl(0, "net/mptcp/pm_type")
	if err != nil {
		t.Fatal(err)
	}
	want := "1"
	if host == "1" {
		want = "0"
	}
	if err := WriteSysctl(int(f.Fd()), "net/mptcp/pm_type", want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSysctl(int(f.Fd()), "net/mptcp/pm_type")
	if err != nil || got != want {
		t.Fatalf("pm_type in %s = %q, %v; want %q", name, got, err, want)
	}
	out, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-n", "net.mptcp.pm_type").Output()
	if err != nil || string(out) != want+"\n" {
		t.Fatalf("sysctl in %s says %q, %v; want %q", name, out, err, want)
	}
	if h, _ := ReadSysctl(0, "net/mptcp/pm_type"); h != host {
		t.Errorf("host pm_type changed from %s to %s", host, h)
	}
	if _, err := Open("no-such-ns-here"); err == nil {
		t.Error("Open of a missing namespace: no error")
	}
}
