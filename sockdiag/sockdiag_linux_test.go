//go:build linux

package sockdiag

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestTCPInfoLayout checks parseTCPInfo's offsets against x/sys/unix's
// TCPInfo, whose size (280) is also what Linux 6.18 sends.
func TestTCPInfoLayout(t *testing.T) {
	ti := unix.TCPInfo{
		Retransmits:    3,
		Rto:            204000,
		Lost:           5,
		Rtt:            1500,
		Rttvar:         700,
		Snd_cwnd:       10,
		Total_retrans:  11,
		Bytes_acked:    1 << 40,
		Data_segs_out:  13,
		Bytes_retrans:  1<<33 + 1,
		Bytes_received: 1<<35 + 3,
		Data_segs_in:   17,
		Rcv_ooopack:    19,
		Rcv_rtt:        23,
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ti)), unsafe.Sizeof(ti))
	if len(b) != 280 {
		t.Errorf("unix.TCPInfo is %d bytes, Linux 6.18 sends 280", len(b))
	}
	var got Subflow
	if err := parseTCPInfo(b, &got); err != nil {
		t.Fatal(err)
	}
	want := Subflow{
		Retransmits:   3,
		RTO:           204 * time.Millisecond,
		Lost:          5,
		RTT:           1500 * time.Microsecond,
		RTTVar:        700 * time.Microsecond,
		SndCwnd:       10,
		TotalRetrans:  11,
		BytesAcked:    1 << 40,
		DataSegsOut:   13,
		BytesRetrans:  1<<33 + 1,
		BytesReceived: 1<<35 + 3,
		DataSegsIn:    17,
		OutOfOrder:    19,
		RcvRTT:        23 * time.Microsecond,
	}
	if got != want {
		t.Errorf("parseTCPInfo:\n got %+v\nwant %+v", got, want)
	}
}
