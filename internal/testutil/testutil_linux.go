//go:build linux

package testutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MPTCPToken returns the local token of an MPTCP socket from
// getsockopt(SOL_MPTCP, MPTCP_INFO): mptcpi_token is at offset 12 of
// struct mptcp_info (include/uapi/linux/mptcp.h).
func MPTCPToken(t testing.TB, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var buf [256]byte
	var serr error
	err = rc.Control(func(fd uintptr) {
		n := uint32(len(buf))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_MPTCP, 1, // MPTCP_INFO
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e != 0 {
			serr = e
		} else if n < 16 {
			serr = fmt.Errorf("mptcp_info of %d bytes", n)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		t.Fatalf("getsockopt MPTCP_INFO: %v", err)
	}
	return binary.NativeEndian.Uint32(buf[12:])
}
