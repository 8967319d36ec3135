package daemon

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestTemporaryAccept(t *testing.T) {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, unix.ECONNABORTED} {
		if err := (&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", e)}); !temporaryAccept(err) {
			t.Errorf("%v: not temporary", err)
		}
	}
	for _, err := range []error{net.ErrClosed, unix.EBADF, unix.EINVAL, errors.New("x")} {
		if temporaryAccept(err) {
			t.Errorf("%v: temporary", err)
		}
	}
}

// TestListenControl: the socket gets its mode and group, a stale socket is
// replaced, anything else at the path is refused and left alone, and
// close removes only the socket it made.
func TestListenControl(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	ln, err := listenControl(path, 0o660, -1, os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 || int(fi.Sys().(*syscall.Stat_t).Gid) != os.Getgid() {
		t.Errorf("socket: mode %v gid %d, want a socket 0660 gid %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid, os.Getgid())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left in the directory: %v, want only the socket", ents)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if _, err := listenControl(path, 0o600, -1, -1); err == nil || !strings.Contains(err.Error(), "another daemon is serving") {
		t.Errorf("second listener: %v, want another daemon is serving", err)
	}

	// Replaced by someone else: close leaves their file alone.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln.close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "theirs" {
		t.Errorf("after close: %q %v, want the file left alone", b, err)
	}
	if _, err := listenControl(path, 0o600, -1, -1); err == nil || !strings.Contains(err.Error(), "is not a socket (a regular file)") {
		t.Errorf("on a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "theirs" {
		t.Errorf("after a refused start: %q %v, want the file left alone", b, err)
	}
	os.Remove(path)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(path, 0o600, -1, -1); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("on a directory: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("directory removed: %v", err)
	}
	os.Remove(path)

	// A stale socket (bound, not listening) is replaced, and removed at
	// close since it is then ours.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ln, err = listenControl(path, 0o600, -1, -1)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	ln.close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after close: %v, want the socket removed", err)
	}
}

// maxSunPath is the longest path a unix socket can be bound to:
// sizeof(sockaddr_un.sun_path) minus the NUL (include/uapi/linux/un.h).
const maxSunPath = 107

// TestListenControlLongPath: the private directory's name makes the path
// bound longer than the socket's; one that fits sun_path only by itself
// works all the same.
func TestListenControlLongPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, strings.Repeat("x", maxSunPath-len(dir)-1))
	if len(path) != maxSunPath {
		t.Fatalf("path of %d bytes", len(path))
	}
	ln, err := listenControl(path, 0o600, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v %v, want mode 0600", fi, err)
	}
}

// TestOpenPrivateDir: a directory that is not 0700, or a link, is not the
// private directory made.
func TestOpenPrivateDir(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "priv")
	if err := os.Mkdir(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := openPrivateDir(priv)
	if err != nil {
		t.Fatalf("private directory: %v", err)
	}
	f.Close()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := openPrivateDir(open); err == nil || !strings.Contains(err.Error(), "mode 0777): replaced") {
		t.Errorf("0777 directory: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(priv, link); err != nil {
		t.Fatal(err)
	}
	if _, err := openPrivateDir(link); !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ELOOP) {
		t.Errorf("link to a directory: %v, want ENOTDIR or ELOOP (O_NOFOLLOW)", err)
	}
}
