// Package cgroup maps cgroup v2 paths to the IDs the kernel reports for
// sockets (INET_DIAG_CGROUP_ID: the inode number of the cgroup's
// directory), on hosts with a unified or a hybrid cgroup layout.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Mount returns where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup
// on a unified host, /sys/fs/cgroup/unified on a hybrid one.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f)
}

func parseMountinfo(f interface{ Read([]byte) (int, error) }) (string, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fields := strings.Fields(post); len(fields) > 0 && fields[0] == "cgroup2" {
			if pf := strings.Fields(pre); len(pf) >= 5 {
				return pf[4], nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cgroup: read mountinfo: %w", err)
	}
	return "", fmt.Errorf("cgroup: no cgroup2 mount: %w", os.ErrNotExist)
}

// Self returns the cgroup v2 path of the calling process ("0::PATH" in
// /proc/self/cgroup).
func Self() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("cgroup: no cgroup v2 line in /proc/self/cgroup: %w", os.ErrNotExist)
}

// ID returns the ID of the cgroup at path (relative to the cgroup2 mount,
// e.g. "/system.slice/voice.service").
func ID(mount, path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(mount, path), &st); err != nil {
		return 0, fmt.Errorf("cgroup: %s: %w", path, err)
	}
	return st.Ino, nil
}

// Contains reports whether the cgroup with ID id is path or one of its
// descendants. A path that does not exist contains nothing.
func Contains(mount, path string, id uint64) (bool, error) {
	root := filepath.Join(mount, path)
	found := false
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return nil // a cgroup removed while walking
		}
		if !d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && st.Ino == id {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cgroup: walk %s: %w", path, err)
	}
	return found, nil
}
