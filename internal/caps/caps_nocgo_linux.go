//go:build linux && !cgo

package caps

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// applyAllThreads clears the ambient set, drops the capabilities of
// dropBounding from the bounding set and sets permitted = effective = want
// (inheritable empty) on every thread of the runtime, which stops thread
// creation meanwhile (syscall.AllThreadsSyscall, cgo not linked in).
func applyAllThreads(dropBounding, want uint64) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("set no_new_privs: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("clear the ambient set: %w", e)
	}
	for c := 0; c < 64; c++ {
		if dropBounding&(1<<uint(c)) == 0 {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 {
			return fmt.Errorf("drop %s from the bounding set: %w", Capability(c), e)
		}
	}
	hdr, data := capData(want)
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// retry does nothing: AllThreadsSyscall reached every thread, and new ones
// start from one that had dropped its capabilities.
func retry(tid int, dropBounding, want uint64) {}

// restoreSignal does nothing: no signal handler was installed.
func restoreSignal() error { return nil }

// capData splits a 64-bit set into the capset(2) version 3 layout.
func capData(set uint64) (unix.CapUserHeader, [2]unix.CapUserData) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[0].Permitted = uint32(set), uint32(set)
	data[1].Effective, data[1].Permitted = uint32(set>>32), uint32(set>>32)
	return hdr, data
}
