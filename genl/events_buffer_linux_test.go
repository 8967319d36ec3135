//go:build linux

package genl

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// TestEventsReadBufferForced checks that the event socket's buffer can be
// made larger than net.core.rmem_max (the daemon relies on it: a default
// host's cap holds about 1,000 events). It needs root and an MPTCP kernel;
// with CI=true missing either is a failure.
func TestEventsReadBufferForced(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.SkipOrFail(t, "needs root (SO_RCVBUFFORCE)")
	}
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatalf("rmem_max: %v", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("rmem_max: %v", err)
	}
	ev, err := NewEvents(nil)
	if err != nil {
		testutil.SkipOrFail(t, fmt.Sprintf("no MPTCP events here: %v", err))
	}
	defer ev.Close()
	want := 2 * rmemMax
	if err := ev.SetReadBuffer(want); err != nil {
		t.Fatalf("SetReadBuffer(%d): %v", want, err)
	}
	got, err := ev.ReadBuffer()
	if err != nil {
		t.Fatalf("ReadBuffer: %v", err)
	}
	// The kernel doubles what it is given.
	if got != 2*want {
		t.Fatalf("ReadBuffer = %d after SetReadBuffer(%d) with rmem_max %d, want %d", got, want, rmemMax, 2*want)
	}
}
