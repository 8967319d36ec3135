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
// SIGTERM, STOPPING=1 arrives and the daemon exits cleanly. The same in
// endpoint mode (READY=1 once its capabilities are dropped).
func TestIntegrationDaemonNotify(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, handoverConfig, nil)
	sock := filepath.Join(dir, "control.sock")
	notifyRun(t, tb.Client, dir, func() {
		// No wait, no retry: the socket is up when READY=1 is sent.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := control.Query(ctx, sock, control.QueryStatus); err != nil {
			t.Fatalf("status right after READY=1: %v", err)
		}
	}, "--control", sock)
	notifyRun(t, tb.Client, dir, func() {}, "--endpoints")
}

// notifyRun starts the daemon in ns on dir's configuration with
// NOTIFY_SOCKET set, waits for READY=1, calls ready, stops the daemon
// with SIGTERM and waits for STOPPING=1 and a clean exit.
func notifyRun(t *testing.T, ns, dir string, ready func(), args ...string) {
	t.Helper()
	notify := filepath.Join(dir, "notify")
	_ = os.Remove(notify)
	nsock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nsock.Close()
	log := &lockedLog{}
	cmd := exec.Command(binary, append([]string{"-n", ns, "daemon", "-c", filepath.Join(dir, "config.yaml"), "--set-pm-type"}, args...)...)
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
			t.Logf("daemon %v log:\n%s", args, log)
		}
	}()
	receive := func(want string) {
		t.Helper()
		_ = nsock.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 4096)
		n, err := nsock.Read(b)
		if err != nil {
			t.Fatalf("daemon %v: waiting for %q on NOTIFY_SOCKET: %v", args, want, err)
		}
		if got := string(b[:n]); got != want {
			t.Fatalf("daemon %v: NOTIFY_SOCKET got %q, want %q", args, got, want)
		}
	}
	receive("READY=1\n")
	ready()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	receive("STOPPING=1\n")
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Errorf("daemon %v exited with %v", args, err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("daemon %v did not exit within 5 s of SIGTERM", args)
	}
}
