package mptcpize

import (
	"errors"
	"io"
	"os"
)

// Scope is an attached mptcpify program and the cgroup it is limited to.
// Start the command in it with CgroupFD (SysProcAttr.UseCgroupFD, i.e.
// clone3's CLONE_INTO_CGROUP), so that the command and everything it
// starts are in the cgroup from their first instruction. Close detaches
// the program and removes the cgroup. A Scope is used by one goroutine.
type Scope struct {
	// Path is the cgroup, relative to the cgroup2 mount.
	Path string
	// ID is the cgroup's ID (its inode), which the program compares with
	// bpf_get_current_cgroup_id().
	ID uint64

	dir   *os.File
	dirFS string // absolute path of the cgroup directory
	link  io.Closer
	prog  io.Closer
}

// CgroupFD returns the open cgroup directory, for SysProcAttr.CgroupFD.
func (s *Scope) CgroupFD() int { return int(s.dir.Fd()) }

// Close detaches the program and removes the cgroup if the Scope created
// it. Removing fails with EBUSY while a process the command left behind (a
// daemon) is still in it; the error says so, and the cgroup stays.
func (s *Scope) Close() error {
	var errs []error
	if s.link != nil {
		errs = append(errs, s.link.Close())
	}
	if s.prog != nil {
		errs = append(errs, s.prog.Close())
	}
	if s.dir != nil {
		errs = append(errs, s.dir.Close())
	}
	if s.dirFS != "" {
		errs = append(errs, os.Remove(s.dirFS))
	}
	return errors.Join(errs...)
}
