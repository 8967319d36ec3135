package tests

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationRunPolicy: a policy matches an application by its cgroup
// and asks for its sockets to be made MPTCP (mptcpify). Where the kernel
// refuses the eBPF hook the daemon says so, and `run --policy` starts the
// unmodified application in the policy's cgroup with MPTCP: its
// connection is MPTCP and the daemon gives it the policy's mode.
func TestIntegrationRunPolicy(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	server := netip.AddrPortFrom(testbed.Server4, 5201)
	echoServer(t, tb.Server, server)
	mount, err := cgroup.Mount()
	if err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 4)
	_, _ = rand.Read(r)
	cg := "/mptcp-pm-test-" + hex.EncodeToString(r)
	t.Cleanup(func() {
		for range 30 {
			if err := os.Remove(filepath.Join(mount, cg)); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	dir := writeConfig(t, `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: single
`, map[string]string{"app.yaml": "name: app\nmatch: { cgroup: " + cg + " }\nmode: aggregate\nmptcpify: true\n"})
	d := startDaemon(t, tb.Client, dir)

	var state string
	for _, p := range d.status().Policies {
		if p.Name == "app" {
			state = p.Mptcpify
		}
	}
	switch {
	case state == "ebpf":
		t.Logf("this kernel accepts the eBPF hook")
	case strings.HasPrefix(state, "unavailable: bpf: kernel refuses fmod_ret on update_socket_protocol"):
		if !d.waitLog("start the application with `mptcp-pm run --policy app` instead", time.Second) {
			t.Errorf("the daemon's log does not say what to do instead")
		}
	default:
		t.Fatalf("policy app: mptcpify %q, want ebpf or a clear refusal", state)
	}

	client := buildPlainClient(t)
	self, listed, stderr := runPlainClient(t, tb.Client, binary, "-n", tb.Client, "run", "--policy", "app",
		"-c", filepath.Join(dir, "config.yaml"), "--", client, server.String())
	if !self || !listed {
		t.Fatalf("run --policy: client says MPTCP %v, connection show lists it %v; want both (stderr %q)", self, listed, stderr)
	}
	if !strings.Contains(stderr, ", in cgroup "+cg+" of policy app") {
		t.Errorf("run's line does not name the policy's cgroup: %q", stderr)
	}
	// Its connection was the policy's: aggregate mode, a second subflow.
	if !d.waitLog("policy=app mode=aggregate", 5*time.Second) || !d.waitLog("create-subflow", 5*time.Second) {
		t.Errorf("the daemon did not give the connection policy app (aggregate)")
	}
}
