package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within runs fn and fails the test if it takes more than 5 s: reading a
// FIFO would block for ever.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadNotRegular: a FIFO (or a link to one) in the policy directory is
// skipped with a warning naming it, without being opened for reading; a
// link to a regular file is read; a FIFO as the configuration file, or
// given to Check, is an error naming it.
func TestLoadNotRegular(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"config.yaml":          "",
		"policies.d/10-a.yaml": policyText("a", 1),
		"b.yaml":               policyText("b", 2),
	})
	pd := filepath.Join(dir, "policies.d")
	mkfifo(t, filepath.Join(pd, "20-fifo.yaml"))
	mkfifo(t, filepath.Join(dir, "fifo"))
	if err := os.Symlink(filepath.Join(dir, "fifo"), filepath.Join(pd, "30-link-to-fifo.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "b.yaml"), filepath.Join(pd, "40-b.yaml")); err != nil {
		t.Fatal(err)
	}
	var s *Set
	var err error
	within(t, "Load", func() { s, err = Load(filepath.Join(dir, "config.yaml")) })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var names []string
	for _, p := range s.Policies {
		names = append(names, p.Name)
	}
	if want := []string{"a", "b"}; !slices.Equal(names, want) {
		t.Errorf("policies %v, want %v", names, want)
	}
	var got []string
	for _, w := range s.Warnings {
		if !errors.Is(w, ErrNotRegular) {
			t.Errorf("warning %v is not ErrNotRegular", w)
		}
		got = append(got, w.Error())
	}
	want := []string{
		filepath.Join(pd, "20-fifo.yaml") + ": not a regular file (a FIFO): not read",
		filepath.Join(pd, "30-link-to-fifo.yaml") + ": not a regular file (a FIFO): not read",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}

	cfg := filepath.Join(dir, "fifo-config.yaml")
	mkfifo(t, cfg)
	within(t, "Load of a FIFO", func() { _, err = Load(cfg) })
	if !errors.Is(err, ErrNotRegular) || !strings.HasPrefix(err.Error(), cfg+": not a regular file (a FIFO)") {
		t.Errorf("Load(FIFO): %v", err)
	}
	within(t, "Check of a FIFO", func() { err = Check(filepath.Join(pd, "20-fifo.yaml")) })
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("Check(FIFO): %v", err)
	}
	within(t, "LoadConfig of a FIFO", func() { _, err = LoadConfig(cfg) })
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("LoadConfig(FIFO): %v", err)
	}
}
