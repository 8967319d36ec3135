package stream

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// serveLoopback runs Serve on every connection to a loopback listener and
// returns a connected client.
func serveLoopback(t *testing.T) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = Serve(c) }()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPatternAnyOffset(t *testing.T) {
	whole := make([]byte, 1000)
	Pattern(whole, 7, 0)
	for _, off := range []int{0, 1, 7, 8, 9, 13, 500} {
		for _, n := range []int{0, 1, 3, 8, 17, 400} {
			part := make([]byte, n)
			Pattern(part, 7, uint64(off))
			if !bytes.Equal(part, whole[off:off+n]) {
				t.Fatalf("Pattern at %d, %d bytes: differs from the whole", off, n)
			}
		}
	}
	other := make([]byte, 1000)
	Pattern(other, 8, 0)
	if bytes.Equal(other, whole) {
		t.Fatal("two seeds, same pattern")
	}
}

func TestDownloadPaced(t *testing.T) {
	c := serveLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := Download(ctx, c, DownloadOptions{Rate: 8_000_000, Idle: time.Second})
	t.Logf("%v", r)
	// Never more than the pace (and 100 ms of catching up) allows over
	// the run as it was measured; less, on a loaded machine, is no fault
	// of the pacer (the bounds come from the run, not the clock).
	if most := paced(8_000_000, r.Duration); r.Err != "" || r.Bytes == 0 || float64(r.Bytes) > most {
		t.Fatalf("paced at 8 Mbit/s for %v: %v, at most %.0f bytes", r.Duration, r, most)
	}
	if g, most := r.Goodput(500*time.Millisecond), paced(8_000_000, r.Duration-500*time.Millisecond)*8/(r.Duration-500*time.Millisecond).Seconds(); g == 0 || g > most {
		t.Fatalf("goodput after 500 ms: %.0f bit/s, want at most %.0f", g, most)
	}
}

// paced is the most a download paced at rate (bit/s) may carry in d: the
// pace and 100 ms of catching up, with 5% to spare.
func paced(rate float64, d time.Duration) float64 {
	return rate / 8 * (d + 100*time.Millisecond).Seconds() * 1.05
}

func TestDownloadSizeThenIdle(t *testing.T) {
	t.Parallel()
	c := serveLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := Download(ctx, c, DownloadOptions{Bulk: true, Size: 3<<20 + 5, Idle: 300 * time.Millisecond})
	t.Logf("%v", r)
	if r.Err != "" || r.Bytes != 3<<20+5 || r.Completed == 0 || r.Completed > r.Duration-100*time.Millisecond {
		t.Fatalf("3 MiB bulk then idle: %v", r)
	}
	// The idle time after the download is a gap open at the end.
	if gap := r.MaxGapAfter(r.Completed); gap < r.Duration-r.Completed-10*time.Millisecond || !r.Dead(100*time.Millisecond) {
		t.Fatalf("idle after the download: gap after completion %v, run %v, completed %v", gap, r.Duration, r.Completed)
	}
}

// A peer that stops sending: the download records an open gap, or fails
// with Idle.
func TestDownloadStall(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		req := make([]byte, 32)
		if _, err := io.ReadFull(b, req); err != nil {
			return
		}
		out := make([]byte, 1000)
		Pattern(out, 42, 0)
		_, _ = b.Write(out)
		time.Sleep(time.Second)
		b.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	r := Download(ctx, a, DownloadOptions{Seed: 42})
	if r.Err != "" || r.Bytes != 1000 || r.MaxGap < 400*time.Millisecond || r.GapEnd < 450*time.Millisecond || !r.Dead(300*time.Millisecond) {
		t.Fatalf("stalled peer: %v", r)
	}
	if g := r.MaxGapAfter(100 * time.Millisecond); g != r.MaxGap {
		t.Fatalf("max gap after 100 ms: %v, want %v", g, r.MaxGap)
	}
	if r.Goodput(200*time.Millisecond) != 0 {
		t.Fatalf("goodput after the stall: %v", r.Goodput(200*time.Millisecond))
	}
}

func TestDownloadIdleTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := Download(ctx, a, DownloadOptions{Idle: 200 * time.Millisecond})
	if !strings.Contains(r.Err, "no data for 200ms") || r.Duration > time.Second {
		t.Fatalf("silent peer: %v", r)
	}
}

// corrupt sends the pattern with one byte changed at bad.
func corrupt(b net.Conn, seed uint64, n, bad int) {
	req := make([]byte, 32)
	if _, err := io.ReadFull(b, req); err != nil {
		return
	}
	out := make([]byte, n)
	Pattern(out, seed, 0)
	out[bad] ^= 1
	_, _ = b.Write(out)
	b.Close()
}

func TestDownloadDetectsCorruption(t *testing.T) {
	a, b := net.Pipe()
	go corrupt(b, 9, 5000, 4321)
	r := Download(context.Background(), a, DownloadOptions{Seed: 9})
	if !strings.Contains(r.Err, "byte 4321:") || r.Bytes > 4321 {
		t.Fatalf("corrupt byte 4321: %v", r)
	}
}

func TestDownloadDetectsLossAndReorder(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		req := make([]byte, 32)
		if _, err := io.ReadFull(b, req); err != nil {
			return
		}
		out := make([]byte, 3000)
		Pattern(out, 5, 0)
		_, _ = b.Write(out[:1000])
		_, _ = b.Write(out[2000:]) // 1000..1999 lost (or late)
		b.Close()
	}()
	r := Download(context.Background(), a, DownloadOptions{Seed: 5})
	if !strings.Contains(r.Err, "byte 1000:") || r.Bytes != 1000 {
		t.Fatalf("a lost kilobyte: %v", r)
	}
}

func TestDownloadEarlyEOF(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		req := make([]byte, 32)
		_, _ = io.ReadFull(b, req)
		b.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := Download(ctx, a, DownloadOptions{})
	if !strings.Contains(r.Err, "read after 0 bytes: EOF") {
		t.Fatalf("the peer closed: %v", r)
	}
}

func TestReqResp(t *testing.T) {
	c := serveLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := ReqResp(ctx, c, ReqRespOptions{Size: 100_000, Interval: 20 * time.Millisecond, Timeout: time.Second})
	t.Logf("%v", r)
	// A request every 20 ms for 1 s: some answered whole (how many is the
	// machine's load, not the tool's), none later than the timeout.
	if r.Err != "" || r.Responses < 3 || r.Bytes != r.Responses*100_000 || r.MaxLatency <= 0 || r.MaxLatency > time.Second {
		t.Fatalf("request/response over loopback: %v", r)
	}
}

func TestReqRespLate(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		req := make([]byte, ReqSize)
		if _, err := io.ReadFull(b, req); err != nil {
			return
		}
		out := make([]byte, 10)
		Pattern(out, 1, 0)
		_, _ = b.Write(out) // 10 of 100 bytes, then nothing
		time.Sleep(time.Second)
		b.Close()
	}()
	r := ReqResp(context.Background(), a, ReqRespOptions{Size: 100, Timeout: 200 * time.Millisecond})
	if !strings.Contains(r.Err, "response 1: 10 of 100 bytes within 200ms") || r.Responses != 0 {
		t.Fatalf("a late response: %v", r)
	}
}

func TestBidir(t *testing.T) {
	c := serveLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	dl, voice := Bidir(ctx, c, BidirOptions{Download: DownloadOptions{Rate: 8_000_000}, Interval: 5 * time.Millisecond})
	t.Logf("download: %v; records: %v", dl, voice)
	if dl.Err != "" || voice.Err != "" || dl.Bytes == 0 || float64(dl.Bytes) > paced(8_000_000, dl.Duration) || voice.Sent < 5 || voice.Received != voice.Sent {
		t.Fatalf("bidirectional over loopback: download %v; records %v", dl, voice)
	}
}

// A peer that sends a download byte wrong: both results fail.
func TestBidirDetectsCorruption(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		req := make([]byte, 32)
		if _, err := io.ReadFull(b, req); err != nil {
			return
		}
		go func() { _, _ = io.Copy(io.Discard, b) }()
		out := make([]byte, 3+1000)
		out[0], out[1], out[2] = frameDownload, 1000>>8, 1000&0xff
		Pattern(out[3:], 3, 0)
		out[3+777] ^= 0x80
		_, _ = b.Write(out)
		time.Sleep(time.Second)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	dl, voice := Bidir(ctx, a, BidirOptions{Download: DownloadOptions{Seed: 3}})
	if !strings.Contains(dl.Err, "download byte 777:") || voice.Err != dl.Err {
		t.Fatalf("a corrupt download byte: download %v; records %v", dl, voice)
	}
}
