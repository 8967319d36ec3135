package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// connection watch draws a frame per interval, with the throughput since
// the frame before; closed subflows are left out.
func TestConnectionWatch(t *testing.T) {
	e, _, _ := testEnv(&fakePM{}, nil)
	var polls atomic.Uint64
	e.dumpConns = func(*env) ([]connection, error) {
		n := polls.Add(1)
		return []connection{{Token: 0x5b06d65d, Local: netip.MustParseAddrPort("10.0.1.2:33853"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"),
			Subflows: []sockdiag.Subflow{
				{Local: netip.MustParseAddrPort("10.0.1.2:33853"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: 1,
					RTT: 1500 * time.Microsecond, BytesAcked: n * 125000, TotalRetrans: uint32(n)},
				{Local: netip.MustParseAddrPort("10.0.2.2:36193"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: tcpClose},
			}}}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	e.ctx, e.stdout = ctx, out
	done := make(chan error, 1)
	go func() {
		done <- run(e, []string{"connection", "watch", "--interval", "100ms", "--control", filepath.Join(t.TempDir(), "none.sock")})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "token 5b06d65d") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(strings.TrimSpace(out.String()), "\n\n")
	if len(frames) < 3 {
		t.Fatalf("%d frames, want 3:\n%s", len(frames), out.String())
	}
	if !strings.Contains(frames[0], "10.0.1.2:33853 -> 10.0.3.2:5201  - Mbit/s  rtt 1.50ms  retrans - (1 in all)") {
		t.Errorf("first frame (no rate yet):\n%s", frames[0])
	}
	if !strings.Contains(frames[1], " Mbit/s  rtt 1.50ms  retrans 1 (2 in all)") || strings.Contains(frames[1], "- Mbit/s") {
		t.Errorf("second frame (a rate):\n%s", frames[1])
	}
	if strings.Contains(out.String(), "10.0.2.2") {
		t.Errorf("a closed subflow is drawn:\n%s", out.String())
	}
}
