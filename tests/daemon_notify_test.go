package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationDaemonNotify runs the daemon as systemd's Type=notify
// would, with $NOTIFY_SOCKET naming a datagram socket of the test's:
// READY=1 arrives, and by then the control socket answers status; on
// SIGTERM, STOPPING=1 arrives and the daemon exits cleanly.
func TestIntegrationDaemonNotify(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, handoverConfig, nil)
	notify := filepath.Join(dir, "notify")
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	sock := filepath.Join(dir, "control.sock")
	log := &lockedLog{}
	cmd := exec.Command(binary, "-n", tb.Client, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--set-pm-type", "--control", sock)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	}()
	receive := func(want string) {
		t.Helper()
		_ = ns.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 4096)
		n, err := ns.Read(b)
		if err != nil {
			t.Fatalf("waiting for %q on NOTIFY_SOCKET: %v", want, err)
		}
		if got := string(b[:n]); got != want {
			t.Fatalf("NOTIFY_SOCKET got %q, want %q", got, want)
		}
	}
	receive("READY=1\n")
	// No wait, no retry: the socket is up when READY=1 is sent.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := control.Query(ctx, sock, control.QueryStatus); err != nil {
		t.Fatalf("status right after READY=1: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	receive("STOPPING=1\n")
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Errorf("daemon exited with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("daemon did not exit within 5 s of SIGTERM")
	}
}
