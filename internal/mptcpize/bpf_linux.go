//go:build linux

package mptcpize

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
)

// HookFunc is the kernel function the BPF method modifies:
//
//	int update_socket_protocol(int family, int type, int protocol)
//
// called by __sys_socket (net/socket.c, Linux 6.6) before the socket is
// created; an fmod_ret program's non-zero return value replaces the
// protocol.
const HookFunc = "update_socket_protocol"

// sockTypeMask is SOCK_TYPE_MASK (include/linux/net.h): type still carries
// SOCK_NONBLOCK and SOCK_CLOEXEC when the hook runs.
const sockTypeMask = 0xf

// mptcpifyInsns is the selftests' mptcpify.c, filtered by cgroup instead
// of pid so that it also covers the command's children:
//
//	if (bpf_get_current_cgroup_id() == cgroupID &&
//	    (family == AF_INET || family == AF_INET6) &&
//	    (type & SOCK_TYPE_MASK) == SOCK_STREAM &&
//	    (protocol == 0 || protocol == IPPROTO_TCP))
//		return IPPROTO_MPTCP;
//	return protocol;
//
// The arguments are u64 slots of the context; int arguments are compared
// on their low 32 bits only (the upper half of a register is undefined
// for an int argument).
func mptcpifyInsns(cgroupID uint64) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.FnGetCurrentCgroupId.Call(),
		asm.LoadImm(asm.R1, int64(cgroupID), asm.DWord),
		asm.JNE.Reg(asm.R0, asm.R1, "keep"),
		asm.LoadMem(asm.R2, asm.R6, 0, asm.DWord), // family
		asm.JEq.Imm32(asm.R2, unix.AF_INET, "stream"),
		asm.JNE.Imm32(asm.R2, unix.AF_INET6, "keep"),
		asm.LoadMem(asm.R2, asm.R6, 8, asm.DWord).WithSymbol("stream"), // type
		asm.And.Imm32(asm.R2, sockTypeMask),
		asm.JNE.Imm32(asm.R2, unix.SOCK_STREAM, "keep"),
		asm.LoadMem(asm.R2, asm.R6, 16, asm.DWord), // protocol
		asm.JEq.Imm32(asm.R2, 0, "mptcp"),
		asm.JNE.Imm32(asm.R2, unix.IPPROTO_TCP, "keep"),
		asm.Mov.Imm32(asm.R0, unix.IPPROTO_MPTCP).WithSymbol("mptcp"),
		asm.Return(),
		asm.LoadMem(asm.R0, asm.R6, 16, asm.DWord).WithSymbol("keep"),
		asm.Mov.Reg32(asm.R0, asm.R0),
		asm.Return(),
	}
}

// mptcpifySpec is the fmod_ret program for cgroupID.
func mptcpifySpec(cgroupID uint64) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Name:         "mptcpify",
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachModifyReturn,
		AttachTo:     HookFunc,
		Instructions: mptcpifyInsns(cgroupID),
		License:      "GPL",
	}
}

// StartBPF creates a cgroup below the caller's (mptcp-pm-run-PID), loads
// the mptcpify program for it and attaches it to update_socket_protocol.
// It needs root, kernel BTF, Linux 6.6 and a kernel that accepts fmod_ret
// programs: a kernel in lockdown refuses them with EPERM before the
// verifier runs, and the error then says so (errors.Is(err, unix.EPERM)).
func StartBPF() (*Scope, error) {
	self, err := cgroup.Self()
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	s, err := OpenCgroup(path.Join(self, fmt.Sprintf("mptcp-pm-run-%d", os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := s.Attach(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenCgroup opens the cgroup at cgPath (below the cgroup2 mount, e.g. a
// policy's match.cgroup), creating it if it does not exist; Close then
// removes it again. The Scope has no program until Attach.
func OpenCgroup(cgPath string) (*Scope, error) {
	mount, err := cgroup.Mount()
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	s := &Scope{Path: cgPath}
	dir := filepath.Join(mount, cgPath)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", cgPath, err)
	}
	switch err := os.Mkdir(dir, 0o755); {
	case err == nil:
		s.dirFS = dir // ours: removed at Close
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("cgroup %s: %w", cgPath, err)
	}
	if s.ID, err = cgroup.ID(mount, cgPath); err != nil {
		s.Close()
		return nil, fmt.Errorf("cgroup %s: %w", cgPath, err)
	}
	if s.dir, err = os.Open(dir); err != nil {
		s.Close()
		return nil, fmt.Errorf("cgroup %s: %w", cgPath, err)
	}
	return s, nil
}

// Attach loads the mptcpify program for the Scope's cgroup and attaches
// it to update_socket_protocol: from then on TCP sockets created by
// processes of that cgroup are MPTCP.
func (s *Scope) Attach() error {
	// A no-op where BPF memory is charged to the memory cgroup (5.11+).
	_ = rlimit.RemoveMemlock()
	prog, err := ebpf.NewProgram(mptcpifySpec(s.ID))
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			// cilium/ebpf suggests MEMLOCK here; with memcg accounting
			// that is never the cause.
			return fmt.Errorf("bpf: kernel refuses fmod_ret on %s: %w (kernel lockdown, or no CAP_BPF and CAP_PERFMON)", HookFunc, unix.EPERM)
		}
		return fmt.Errorf("bpf: load fmod_ret on %s: %w", HookFunc, err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachModifyReturn})
	if err != nil {
		prog.Close()
		return fmt.Errorf("bpf: attach fmod_ret to %s: %w", HookFunc, err)
	}
	s.prog, s.link = prog, l
	return nil
}
