package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// makeControlDir makes sure the control socket's directory exists. With
// uid >= 0 (the daemon switches to that user, Options.User) the directory
// must be that user's, so that the daemon can still remove its socket at
// exit: one it makes is, and so is an empty one of root's (left by a
// daemon run as root; the socket was removed as stale), which it chowns.
// Any other owner is an error naming the fix: a directory of another user
// or a shared one (/tmp) is never taken over.
func makeControlDir(dir string, uid int) error {
	if uid < 0 {
		return os.MkdirAll(dir, 0o755)
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		return chownDir(dir, uid)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("control socket directory %s is %s, not a directory", dir, describeMode(fi.Mode()))
	}
	owner := int(fi.Sys().(*syscall.Stat_t).Uid)
	if owner == uid {
		return nil
	}
	if owner == 0 && fi.Mode().Perm()&0o022 == 0 && emptyDir(dir) {
		return chownDir(dir, uid)
	}
	return fmt.Errorf("control socket directory %s belongs to uid %d, not to uid %d (--user): the daemon could not remove its socket at exit; "+
		"chown it to that user, or choose another --control path", dir, owner, uid)
}

// chownDir gives directory dir to uid through a descriptor, so that a
// symbolic link swapped in for it is not followed.
func chownDir(dir string, uid int) error {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fchown(int(f.Fd()), uid, -1); err != nil {
		return &os.PathError{Op: "chown", Path: dir, Err: err}
	}
	return nil
}

func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
