//go:build linux

package cgroup

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MountPrivate mounts the cgroup2 hierarchy on a new temporary directory,
// for a process that sees none: `ip netns exec` remounts /sys, and the
// host's /sys/fs/cgroup goes with it. A cgroup2 mount shows the one
// hierarchy of the host, from the root of the caller's cgroup namespace, so
// what is attached through it applies as through /sys/fs/cgroup. Call
// release once attached: it detaches the mount (MNT_DETACH: open files of
// it stay valid, nobody else ever sees it) and removes the directory.
// Mounting needs CAP_SYS_ADMIN.
func MountPrivate() (dir string, release func(), err error) {
	dir, err = os.MkdirTemp("", "mptcp-pm-cgroup2-")
	if err != nil {
		return "", nil, fmt.Errorf("cgroup: private mount: %w", err)
	}
	if err := unix.Mount("cgroup2", dir, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		_ = os.Remove(dir)
		return "", nil, fmt.Errorf("cgroup: mount cgroup2 on %s: %w", dir, err)
	}
	return dir, func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = os.Remove(dir)
	}, nil
}
