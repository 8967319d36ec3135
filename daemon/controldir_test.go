package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// With --user, the control socket's directory is the user's: made for
// it, taken over when an empty one of root's, refused otherwise.
func TestControlDirForUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: this test must run as root")
		}
		t.Skip("needs root (chown)")
	}
	const uid = 65534
	base := t.TempDir()
	owner := func(p string) uint32 {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	made := filepath.Join(base, "run", "mptcp-pm")
	if err := makeControlDir(made, uid); err != nil {
		t.Fatal(err)
	}
	if o := owner(made); o != uid {
		t.Errorf("made %s: owner %d, want %d", made, o, uid)
	}
	if o := owner(filepath.Dir(made)); o != 0 {
		t.Errorf("parent %s: owner %d, want root's", filepath.Dir(made), o)
	}
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeControlDir(empty, uid); err != nil || owner(empty) != uid {
		t.Errorf("empty root directory: %v, owner %d", err, owner(empty))
	}
	full := filepath.Join(base, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := makeControlDir(full, uid)
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 0, not to uid 65534 (--user)") {
		t.Errorf("root directory with a file: %v", err)
	}
	if o := owner(full); o != 0 {
		t.Errorf("%s changed owner to %d", full, o)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeControlDir(file, uid); err == nil || !strings.Contains(err.Error(), "is a regular file, not a directory") {
		t.Errorf("a file: %v", err)
	}
}
