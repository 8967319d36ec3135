//go:build linux

package netem

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestUAPIConstants checks the copied numbers that x/sys/unix also has.
func TestUAPIConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"NLMSG_HDRLEN", sizeofNlmsghdr, unix.NLMSG_HDRLEN},
		{"sizeof nfgenmsg", sizeofNfgenmsg, int(unsafe.Sizeof(unix.Nfgenmsg{}))},
		{"NLA_HDRLEN", sizeofNlattr, unix.NLA_HDRLEN},
		{"NLMSG_ERROR", nlmsgError, unix.NLMSG_ERROR},
		{"NLM_F_REQUEST", nlmFRequest, unix.NLM_F_REQUEST},
		{"NLM_F_ACK", nlmFAck, unix.NLM_F_ACK},
		{"NLA_TYPE_MASK", nlaTypeMask, ^(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER) & 0xffff},
		{"NFNETLINK_V0", nfnetlinkV0, unix.NFNETLINK_V0},
		{"NFNL_SUBSYS_QUEUE", nfnlSubsysQueue, unix.NFNL_SUBSYS_QUEUE},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d here, %d in x/sys/unix", c.name, c.got, c.want)
		}
	}
}
