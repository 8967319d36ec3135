//go:build linux

// Package pmtype switches a network namespace's net.mptcp.pm_type for a
// daemon and puts back the value it found when the daemon stops. The value
// found is recorded under a runtime directory while the daemon runs, so
// that after a crash the next daemon knows it and puts that one back.
//
// Out of scope: deciding whether the daemon may switch (its caller's
// --set-pm-type) and the namespace itself (package netns).
package pmtype

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// DefaultRuntimeDir is where records are kept: the daemon's runtime
// directory (systemd's RuntimeDirectory=mptcp-pm), a tmpfs emptied at boot,
// when every namespace starts again at the kernel's default.
const DefaultRuntimeDir = "/run/mptcp-pm"

const key = "net/mptcp/pm_type"

// ErrNoMPTCP is the error of Read when net.mptcp.pm_type cannot be read:
// a kernel without MPTCP.
var ErrNoMPTCP = errors.New("net.mptcp.pm_type unreadable")

// Switch is a namespace's pm_type as a daemon found it at start and what
// it made it. Restore puts the value found back. A Switch is not safe for
// concurrent use.
type Switch struct {
	fd     int    // namespace (0: the caller's)
	Found  string // the value before any mptcp-pm daemon changed it
	Set    string // the value the daemon wants ("" when it changed nothing)
	Record string // the record's path ("" when there is none)
	// Inherited is true when the value found comes from the record of a
	// daemon that did not stop cleanly (it set Set and did not put Found
	// back).
	Inherited bool
	// RecordErr is why Change could not write the record (nil if it
	// did): the value found is then lost if the daemon crashes.
	RecordErr error
	// recordFile is the record, opened for writing while the daemon
	// still could: one that switched to another user (--user, or the
	// ambient capabilities dropped) may no longer remove it from the
	// runtime directory, but can still empty it (removeRecord).
	recordFile *os.File
}

// removeFile removes a record; tests replace it to fail.
var removeFile = os.Remove

// Read returns the namespace fd's pm_type as a daemon finds it at start,
// with runtime dir dir ("" for DefaultRuntimeDir): the current value, or,
// when a daemon that crashed left a record and its value is still in place,
// the value that daemon found. A record whose value was changed since is
// stale and removed. An error names what could not be read; without
// MPTCP in the kernel it wraps ErrNoMPTCP.
func Read(fd int, dir string) (*Switch, error) {
	cur, err := netns.ReadSysctl(fd, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoMPTCP, err)
	}
	path, err := recordPath(fd, dir)
	if err != nil {
		return nil, err
	}
	s := &Switch{fd: fd, Found: cur}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("pm_type record: %w", err)
	}
	found, set, ok := parseRecord(string(b))
	if !ok || set != cur {
		// Someone changed pm_type since: what was found then is no
		// longer what anyone wants back.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale pm_type record: %w", err)
		}
		return s, nil
	}
	s.Found, s.Set, s.Record, s.Inherited = found, set, path, true
	s.recordFile, _ = os.OpenFile(path, os.O_WRONLY, 0)
	return s, nil
}

// Current is the value in force now: Set if the daemon (or the one that
// crashed) changed it, else Found.
func (s *Switch) Current() string {
	if s.Set != "" {
		return s.Set
	}
	return s.Found
}

// Change makes pm_type want, first recording the value found in dir (""
// for DefaultRuntimeDir) so that a crash does not lose it. A record that
// cannot be written does not stop the change (Restore still works, a crash
// is not covered): RecordErr says why.
func (s *Switch) Change(dir, want string) error {
	s.RecordErr = s.record(dir, want)
	if err := netns.WriteSysctl(s.fd, key, want); err != nil {
		s.removeRecord()
		return err
	}
	s.Set = want
	return nil
}

// record writes the record of the value found and want.
func (s *Switch) record(dir, want string) error {
	path, err := recordPath(s.fd, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pm_type record: %w", err)
	}
	if err := writeFile(path, fmt.Sprintf("found=%s set=%s\n", s.Found, want)); err != nil {
		return fmt.Errorf("pm_type record: %w", err)
	}
	s.Record = path
	s.recordFile, _ = os.OpenFile(path, os.O_WRONLY, 0)
	return nil
}

// Restore puts back the value found if pm_type still has the value set,
// and removes the record. It reports whether it wrote the sysctl; when
// someone changed pm_type meanwhile it leaves their value.
func (s *Switch) Restore() (bool, error) {
	if s.Set == "" || s.Set == s.Found {
		s.removeRecord()
		return false, nil
	}
	cur, err := netns.ReadSysctl(s.fd, key)
	if err != nil {
		return false, err
	}
	if cur != s.Set {
		s.removeRecord()
		return false, nil
	}
	if err := netns.WriteSysctl(s.fd, key, s.Found); err != nil {
		return false, err
	}
	s.removeRecord()
	s.Set = ""
	return true, nil
}

// removeRecord removes the record, or, when the daemon may no longer
// remove it, empties it: an empty record is stale, and the next Read
// removes it.
func (s *Switch) removeRecord() {
	if s.Record != "" {
		if err := removeFile(s.Record); err != nil && !errors.Is(err, fs.ErrNotExist) && s.recordFile != nil {
			_ = s.recordFile.Truncate(0)
		}
		s.Record = ""
	}
	if s.recordFile != nil {
		_ = s.recordFile.Close()
		s.recordFile = nil
	}
}

// recordPath is the record of namespace fd in dir: one file per namespace,
// named by the namespace's inode number (unique while it exists).
func recordPath(fd int, dir string) (string, error) {
	if dir == "" {
		dir = DefaultRuntimeDir
	}
	var st unix.Stat_t
	var err error
	if fd == 0 {
		err = unix.Stat("/proc/thread-self/ns/net", &st)
	} else {
		err = unix.Fstat(fd, &st)
	}
	if err != nil {
		return "", fmt.Errorf("pm_type record: network namespace: %w", err)
	}
	return filepath.Join(dir, fmt.Sprintf("pm_type-netns-%d", st.Ino)), nil
}

// parseRecord reads "found=F set=S".
func parseRecord(s string) (found, set string, ok bool) {
	f, rest, ok1 := strings.Cut(strings.TrimSpace(s), " ")
	found, ok2 := strings.CutPrefix(f, "found=")
	set, ok3 := strings.CutPrefix(rest, "set=")
	return found, set, ok1 && ok2 && ok3 && found != "" && set != ""
}

// writeFile writes a file whole or not at all (a crash mid-write leaves
// the old one or none).
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
