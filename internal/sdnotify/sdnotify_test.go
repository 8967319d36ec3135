package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a datagram socket as systemd's notify socket would be.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	n := FromEnv()
	if !n.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	if err := n.Notify(Ready, "STATUS=serving"); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, c); got != "READY=1\nSTATUS=serving\n" {
		t.Errorf("got %q", got)
	}

	// An abstract socket.
	abstract := "@mptcp-pm-sdnotify-test-" + strings.ReplaceAll(filepath.Base(t.TempDir()), "/", "")
	ca := listen(t, "\x00"+abstract[1:])
	if err := (&Notifier{addr: abstract}).Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, ca); got != "STOPPING=1\n" {
		t.Errorf("abstract: got %q", got)
	}
}

func TestNotifyDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n.Enabled() || n.Notify(Ready) != nil {
		t.Error("a Notifier without NOTIFY_SOCKET sends or fails")
	}
	if err := (&Notifier{addr: "relative"}).Notify(Ready); err == nil || !strings.Contains(err.Error(), `NOTIFY_SOCKET "relative" is neither a path nor an abstract socket`) {
		t.Errorf("relative NOTIFY_SOCKET: %v", err)
	}
}
