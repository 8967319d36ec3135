//go:build linux

package pmtype

import (
	"errors"
	"os"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

func TestParseRecord(t *testing.T) {
	for in, want := range map[string][3]string{
		"found=0 set=1\n": {"0", "1", "ok"},
		"found=2 set=0":   {"2", "0", "ok"},
		"found= set=1":    {"", "1", ""},
		"garbage":         {"", "", ""},
		"set=1 found=0":   {"", "", ""},
	} {
		f, s, ok := parseRecord(in)
		if ok != (want[2] == "ok") || (ok && (f != want[0] || s != want[1])) {
			t.Errorf("parseRecord(%q) = %q, %q, %v; want %v", in, f, s, ok, want)
		}
	}
}

func sysctl(t *testing.T, fd int) string {
	t.Helper()
	v, err := netns.ReadSysctl(fd, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestChangeRestoreAndCrash: a clean stop puts back the value found; after
// a crash (no Restore) the next Read finds the record and the first value;
// a record whose value someone changed since is dropped.
func TestChangeRestoreAndCrash(t *testing.T) {
	testutil.RequireRoot(t, "create a network namespace")
	fd := testutil.NewNetns(t)
	dir := t.TempDir()

	s, err := Read(fd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Found != "0" || s.Inherited {
		t.Fatalf("fresh namespace: %+v, want found 0, not inherited", s)
	}
	if err := s.Change(dir, "1"); err != nil {
		t.Fatal(err)
	}
	if got := sysctl(t, fd); got != "1" {
		t.Fatalf("after Change: pm_type %s, want 1", got)
	}
	// A crash: no Restore. The next daemon inherits the record.
	s2, err := Read(fd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Inherited || s2.Found != "0" || s2.Current() != "1" {
		t.Fatalf("after a crash: %+v, want inherited, found 0, current 1", s2)
	}
	wrote, err := s2.Restore()
	if err != nil || !wrote {
		t.Fatalf("Restore = %v, %v; want true, nil", wrote, err)
	}
	if got := sysctl(t, fd); got != "0" {
		t.Fatalf("after Restore: pm_type %s, want 0", got)
	}
	if _, err := os.Stat(s.Record); !os.IsNotExist(err) {
		t.Fatalf("record %s still there after Restore (%v)", s.Record, err)
	}

	// Someone else changes pm_type after a crash: the record is stale.
	s3, _ := Read(fd, dir)
	if err := s3.Change(dir, "1"); err != nil {
		t.Fatal(err)
	}
	if err := netns.WriteSysctl(fd, key, "0"); err != nil {
		t.Fatal(err)
	}
	s4, err := Read(fd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s4.Inherited || s4.Found != "0" {
		t.Fatalf("stale record: %+v, want not inherited, found 0", s4)
	}
	// And Restore leaves the value someone else set.
	if wrote, err := s3.Restore(); err != nil || wrote {
		t.Fatalf("Restore over a value changed since = %v, %v; want false, nil", wrote, err)
	}
	if got := sysctl(t, fd); got != "0" {
		t.Fatalf("Restore changed a value set by someone else: pm_type %s, want 0", got)
	}
}

// TestRestoreCannotRemove: a daemon that switched to another user may no
// longer remove its record from the runtime directory; Restore then empties
// it, and the next Read takes it for stale (not inherited) and removes it.
func TestRestoreCannotRemove(t *testing.T) {
	testutil.RequireRoot(t, "create a network namespace")
	fd := testutil.NewNetns(t)
	dir := t.TempDir()
	s, err := Read(fd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Change(dir, "1"); err != nil || s.RecordErr != nil {
		t.Fatal(err, s.RecordErr)
	}
	record := s.Record
	removeFile = func(string) error { return os.ErrPermission }
	wrote, err := s.Restore()
	removeFile = os.Remove
	if err != nil || !wrote {
		t.Fatalf("Restore = %v, %v; want true, nil", wrote, err)
	}
	if b, err := os.ReadFile(record); err != nil || len(b) != 0 {
		t.Fatalf("record %s after a Restore that could not remove it: %q, %v; want it there, empty", record, b, err)
	}
	// pm_type is 1 again (someone else set it): an emptied record must
	// not make the next daemon put back 0.
	if err := netns.WriteSysctl(fd, key, "1"); err != nil {
		t.Fatal(err)
	}
	s2, err := Read(fd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Inherited || s2.Found != "1" {
		t.Fatalf("after an emptied record: %+v, want not inherited, found 1", s2)
	}
	if _, err := os.Stat(record); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("emptied record %s not removed by Read (%v)", record, err)
	}
}
