//go:build linux

package netns

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Inode returns the inode number of the network namespace fd (0: the
// process's own), its identity while it exists: what `ls -iL
// /proc/self/ns/net` prints and the kernel's net->ns.inum.
func Inode(fd int) (uint64, error) {
	var st unix.Stat_t
	if fd == 0 {
		if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
			return 0, fmt.Errorf("netns: %w", err)
		}
		return st.Ino, nil
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("netns: fstat fd %d: %w", fd, err)
	}
	return st.Ino, nil
}

// NamedDir is where `ip netns` keeps the names of namespaces.
const NamedDir = "/var/run/netns"

// Name returns the name `ip netns` gives the network namespace with inode
// ino ("" when it has none), as `ip netns identify` does: a process run by
// `ip netns exec NAME` finds NAME. A namespace with several names gets
// the first in directory order.
func Name(ino uint64) string {
	ents, err := os.ReadDir(NamedDir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(NamedDir, e.Name()), &st) == nil && st.Ino == ino && st.Dev == nsfsDev() {
			return e.Name()
		}
	}
	return ""
}

// nsfsDev is the device of the nsfs file system, which every namespace
// file is on: a file in /var/run/netns with the inode number sought but
// another device is not a namespace.
func nsfsDev() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return 0
	}
	return st.Dev
}
