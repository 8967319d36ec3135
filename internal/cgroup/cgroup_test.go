package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup"},
		{"25 24 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n31 25 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified"},
	} {
		got, err := parseMountinfo(strings.NewReader(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("parseMountinfo(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseMountinfo(strings.NewReader("25 24 0:22 / /sys ro - sysfs sysfs ro\n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no cgroup2: err %v, want not-exist", err)
	}
}

func TestContains(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/b/c", "a/bc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ino := func(p string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	for _, tt := range []struct {
		path, member string
		want         bool
	}{
		{"/a/b", "a/b", true}, {"/a/b", "a/b/c", true}, {"/a/b", "a/bc", false}, {"/a", "a/bc", true}, {"/nope", "a", false},
	} {
		got, err := Contains(dir, tt.path, ino(tt.member))
		if err != nil || got != tt.want {
			t.Errorf("Contains(%s, %s) = %v, %v; want %v", tt.path, tt.member, got, err, tt.want)
		}
	}
	id, err := ID(dir, "/a/b/c")
	if err != nil || id != ino("a/b/c") {
		t.Errorf("ID = %d, %v; want %d", id, err, ino("a/b/c"))
	}
}
