package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The download and request/response workloads. The client (the host under
// test) opens the connection and says what it wants in its first bytes;
// Serve, on the peer, answers:
//
//   - a download ('D'): a 32-byte request (magic, rate, size, seed), then
//     the peer sends size bytes (0: until the client closes), paced at rate
//     bits per second (0: as fast as it can). Byte o of the stream is
//     Pattern(seed, o), so a lost, duplicated, reordered or corrupted byte
//     shows at the client.
//   - request/response ('Q'): ReqSize-byte requests (magic, sequence
//     number, size), each answered with size bytes of Pattern(sequence
//     number, 0…), one request at a time.

// Request magics: the first byte the client sends.
const (
	magicDownload = 'D'
	magicRequest  = 'Q'
)

// DefaultRate is the download's default pace, in bits per second.
const DefaultRate = 20_000_000

// ReqSize is the size of one request of the request/response workload.
const ReqSize = 100

// binWidth is the width of the bins of received bytes in a Result.
const binWidth = 100 * time.Millisecond

// minGap is the shortest time without received data recorded in
// Result.Gaps.
const minGap = 50 * time.Millisecond

// splitmix64 is the mixing function of the pattern: every 8-byte word of
// the stream is a different, unpredictable value.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Pattern fills b with bytes off, off+1, … of the stream seeded by seed:
// byte o is byte o%8 (big-endian) of splitmix64(seed ^ o/8).
func Pattern(b []byte, seed, off uint64) {
	var w [8]byte
	for len(b) > 0 {
		word, in := off/8, int(off%8)
		if in == 0 && len(b) >= 8 {
			binary.BigEndian.PutUint64(b, splitmix64(seed^word))
			b, off = b[8:], off+8
			continue
		}
		binary.BigEndian.PutUint64(w[:], splitmix64(seed^word))
		n := copy(b, w[in:])
		b, off = b[n:], off+uint64(n)
	}
}

// Gap is a time without received data, since the start of the workload.
type Gap struct {
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Len is the gap's length.
func (g Gap) Len() time.Duration { return g.End - g.Start }

// DownloadResult is what one download (or request/response run) saw.
type DownloadResult struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"` // from Start to the end of the run
	Bytes    uint64        `json:"bytes"`    // received, in order and intact
	// MaxGap is the longest time without received data, from the start
	// (the first byte counts as ending a gap) to the end of the run (a
	// gap still open at the end counts); GapEnd is when it ended.
	MaxGap time.Duration `json:"max_gap"`
	GapEnd time.Duration `json:"gap_end"`
	// LastData is when (since Start) the last byte arrived.
	LastData time.Duration `json:"last_data"`
	// Completed is when the whole download (DownloadOptions.Size) had
	// arrived, 0 if it did not or had no size.
	Completed time.Duration `json:"completed,omitempty"`
	// Request/response only: responses complete, and the longest time
	// from a request's sending to the last byte of its response.
	Responses  uint64        `json:"responses,omitempty"`
	MaxLatency time.Duration `json:"max_latency,omitempty"`
	Err        string        `json:"error,omitempty"`
	// Gaps are the times without received data of at least 50 ms, in
	// order, the last one possibly open until the end of the run; Bins
	// the bytes received in each 100 ms since Start.
	Gaps []Gap    `json:"-"`
	Bins []uint64 `json:"-"`
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// MaxGapMS is MaxGap in milliseconds.
func (r DownloadResult) MaxGapMS() float64 { return ms(r.MaxGap) }

// MaxGapAfter is the longest time without received data that ended after
// at (since Start), a gap open at the end of the run included.
func (r DownloadResult) MaxGapAfter(at time.Duration) time.Duration {
	var m time.Duration
	for _, g := range r.Gaps {
		if g.End > at && g.Len() > m {
			m = g.Len()
		}
	}
	return m
}

// BytesBetween is the bytes received from..to (since Start), to the
// precision of the 100 ms bins (a bin counts if it starts in the window).
func (r DownloadResult) BytesBetween(from, to time.Duration) uint64 {
	var n uint64
	for i, b := range r.Bins {
		if at := time.Duration(i) * binWidth; at >= from && at < to {
			n += b
		}
	}
	return n
}

// Goodput is the rate of received data from from to the end of the run,
// in bits per second.
func (r DownloadResult) Goodput(from time.Duration) float64 {
	// Whole bins only: the window starts at the first bin at or after from.
	first := (from + binWidth - 1) / binWidth * binWidth
	if r.Duration <= first {
		return 0
	}
	return float64(r.BytesBetween(first, r.Duration)) * 8 / (r.Duration - first).Seconds()
}

// Dead reports whether the run broke (an error) or had no data for its
// last idle or more: the connection never recovered within the run.
func (r DownloadResult) Dead(idle time.Duration) bool {
	return r.Err != "" || r.Duration-r.LastData >= idle
}

func (r DownloadResult) String() string {
	s := fmt.Sprintf("%d bytes in %v, max gap %.1f ms (ended at %v), last data at %v",
		r.Bytes, r.Duration.Round(time.Millisecond), r.MaxGapMS(), r.GapEnd.Round(time.Millisecond), r.LastData.Round(time.Millisecond))
	if r.Completed > 0 {
		s += fmt.Sprintf(", complete at %v", r.Completed.Round(time.Millisecond))
	}
	if r.Responses > 0 || r.MaxLatency > 0 {
		s += fmt.Sprintf(", %d responses, longest %.1f ms", r.Responses, ms(r.MaxLatency))
	}
	if r.Err != "" {
		s += " error: " + r.Err
	}
	return s
}

// recorder keeps the times of received data.
type recorder struct {
	mu   sync.Mutex
	res  DownloadResult
	last time.Time
}

func newRecorder() *recorder {
	now := time.Now()
	return &recorder{res: DownloadResult{Start: now}, last: now}
}

// got records n bytes received at now.
func (rc *recorder) got(now time.Time, n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gap(now)
	rc.last = now
	r := &rc.res
	r.Bytes += uint64(n)
	r.LastData = now.Sub(r.Start)
	bin := int(r.LastData / binWidth)
	for len(r.Bins) <= bin {
		r.Bins = append(r.Bins, 0)
	}
	r.Bins[bin] += uint64(n)
}

// gap records the time without data from the last data to now.
func (rc *recorder) gap(now time.Time) {
	r := &rc.res
	g := now.Sub(rc.last)
	if g > r.MaxGap {
		r.MaxGap, r.GapEnd = g, now.Sub(r.Start)
	}
	if g >= minGap {
		r.Gaps = append(r.Gaps, Gap{rc.last.Sub(r.Start), now.Sub(r.Start)})
	}
}

func (rc *recorder) fail(format string, args ...any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.res.Err == "" {
		rc.res.Err = fmt.Sprintf(format, args...)
	}
}

// finish closes the open gap and returns the result.
func (rc *recorder) finish() DownloadResult {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := time.Now()
	rc.gap(now)
	r := rc.res
	r.Duration = now.Sub(r.Start)
	for len(r.Bins) < int((r.Duration+binWidth-1)/binWidth) {
		r.Bins = append(r.Bins, 0)
	}
	r.Gaps = append([]Gap(nil), r.Gaps...)
	r.Bins = append([]uint64(nil), r.Bins...)
	return r
}

// DownloadOptions says what to download.
type DownloadOptions struct {
	Rate uint64 // bits per second; 0: DefaultRate
	Bulk bool   // unpaced: as fast as the connection goes (Rate ignored)
	Size uint64 // bytes; 0: until the client stops
	Seed uint64 // of the pattern; 0: derived from the time
	// Idle, if not 0, ends the download with an error when no data has
	// come for that long (before Size bytes have come).
	Idle time.Duration
}

// Download asks the peer (Serve) on c for a download and reads it until
// ctx ends, checking every byte. It does not close c.
func Download(ctx context.Context, c net.Conn, o DownloadOptions) DownloadResult {
	rc := newRecorder()
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Bulk {
		o.Rate = 0
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	req := make([]byte, 32)
	req[0] = magicDownload
	binary.BigEndian.PutUint64(req[8:], o.Rate)
	binary.BigEndian.PutUint64(req[16:], o.Size)
	binary.BigEndian.PutUint64(req[24:], o.Seed)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		rc.fail("write download request: %v", err)
		return rc.finish()
	}
	_ = c.SetWriteDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64<<10)
	want := make([]byte, len(buf))
	var off uint64
	for {
		if o.Idle > 0 && ctx.Err() == nil {
			_ = c.SetReadDeadline(time.Now().Add(o.Idle))
		}
		if ctx.Err() != nil {
			break
		}
		n, err := c.Read(buf)
		now := time.Now()
		if n > 0 {
			if o.Size > 0 && off+uint64(n) > o.Size {
				rc.fail("%d bytes more than the %d asked for", off+uint64(n)-o.Size, o.Size)
				break
			}
			Pattern(want[:n], o.Seed, off)
			if i := firstDiff(buf[:n], want[:n]); i >= 0 {
				rc.fail("byte %d: got %#02x, want %#02x (lost, reordered or corrupt)", off+uint64(i), buf[i], want[i])
				break
			}
			off += uint64(n)
			rc.got(now, n)
			if o.Size > 0 && off == o.Size {
				rc.mu.Lock()
				rc.res.Completed = now.Sub(rc.res.Start)
				rc.mu.Unlock()
				o.Idle = 0
				_ = c.SetReadDeadline(time.Time{})
				if ctx.Err() != nil {
					_ = c.SetReadDeadline(now)
				}
			}
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				// Stopped by ctx.
			case isTimeout(err):
				rc.fail("no data for %v after %d bytes", o.Idle, off)
			case err == io.EOF && o.Size > 0 && off == o.Size:
				// The peer closed after the whole download: fine, idle
				// until the end.
				<-ctx.Done()
			default:
				rc.fail("read after %d bytes: %v", off, err)
			}
			break
		}
	}
	return rc.finish()
}

// isTimeout reports whether err is a deadline's timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// firstDiff is the index of the first byte where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := 0; i+8 <= len(a); i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			for j := i; ; j++ {
				if a[j] != b[j] {
					return j
				}
			}
		}
	}
	for j := len(a) &^ 7; j < len(a); j++ {
		if a[j] != b[j] {
			return j
		}
	}
	return -1
}

// ReqRespOptions is the request/response workload.
type ReqRespOptions struct {
	Size     int           // bytes per response; 0: 64 KiB
	Interval time.Duration // between the starts of two requests; 0: 50 ms
	// Timeout is the longest a response may take, from its request's
	// sending to its last byte; 0: 10 s. A response later than that ends
	// the run with an error.
	Timeout time.Duration
}

// ReqResp sends a request every interval (or as soon as the previous
// response is complete, if that is later) until ctx ends, and checks every
// response. It does not close c.
func ReqResp(ctx context.Context, c net.Conn, o ReqRespOptions) DownloadResult {
	if o.Size <= 0 {
		o.Size = 64 << 10
	}
	if o.Interval <= 0 {
		o.Interval = 50 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	rc := newRecorder()
	req := make([]byte, ReqSize)
	buf := make([]byte, 64<<10)
	want := make([]byte, len(buf))
	next := time.Now()
	for seq := uint64(1); ctx.Err() == nil; seq++ {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
		if ctx.Err() != nil {
			break
		}
		sent := time.Now()
		next = sent.Add(o.Interval)
		req[0] = magicRequest
		binary.BigEndian.PutUint64(req[8:], seq)
		binary.BigEndian.PutUint64(req[16:], uint64(o.Size))
		_ = c.SetWriteDeadline(sent.Add(o.Timeout))
		if _, err := c.Write(req); err != nil {
			rc.fail("write request %d: %v", seq, err)
			break
		}
		// A response once asked for is read to its end (or the timeout),
		// even if ctx ends meanwhile.
		_ = c.SetReadDeadline(sent.Add(o.Timeout))
		var got int
		for got < o.Size {
			n, err := c.Read(buf[:min(len(buf), o.Size-got)])
			now := time.Now()
			if n > 0 {
				Pattern(want[:n], seq, uint64(got))
				if i := firstDiff(buf[:n], want[:n]); i >= 0 {
					rc.fail("response %d byte %d: got %#02x, want %#02x", seq, got+i, buf[i], want[i])
					return rc.finish()
				}
				got += n
				rc.got(now, n)
			}
			if err != nil {
				if isTimeout(err) {
					rc.fail("response %d: %d of %d bytes within %v", seq, got, o.Size, o.Timeout)
				} else {
					rc.fail("response %d: %d of %d bytes: %v", seq, got, o.Size, err)
				}
				return rc.finish()
			}
		}
		lat := time.Since(sent)
		rc.mu.Lock()
		rc.res.Responses++
		rc.res.MaxLatency = max(rc.res.MaxLatency, lat)
		rc.mu.Unlock()
	}
	return rc.finish()
}

// pacedChunk is the most a paced download writes at once; maxBehind the
// most it catches up after a stall (a paced sender does not burst more
// than that to make up for lost time).
const (
	pacedChunk = 8 << 10
	maxBehind  = 100 * time.Millisecond
)

// Serve answers the workloads of one connection (Download, ReqResp, Bidir) until
// the client closes it or a write fails, then closes c.
func Serve(c net.Conn) error {
	defer c.Close()
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return err
	}
	switch first[0] {
	case magicDownload:
		req := make([]byte, 31)
		if _, err := io.ReadFull(c, req); err != nil {
			return err
		}
		return serveDownload(c, binary.BigEndian.Uint64(req[7:]), binary.BigEndian.Uint64(req[15:]), binary.BigEndian.Uint64(req[23:]))
	case magicBidir:
		req := make([]byte, 31)
		if _, err := io.ReadFull(c, req); err != nil {
			return err
		}
		size := int(binary.BigEndian.Uint32(req[3:]))
		if size < 8 || size > 64<<10-1 {
			return fmt.Errorf("bidirectional: record size %d", size)
		}
		return serveBidir(c, size, binary.BigEndian.Uint64(req[7:]), binary.BigEndian.Uint64(req[23:]))
	case magicRequest:
		req := make([]byte, ReqSize)
		req[0] = first[0]
		if _, err := io.ReadFull(c, req[1:]); err != nil {
			return err
		}
		return serveRequests(c, req)
	}
	return fmt.Errorf("unknown request %#02x", first[0])
}

func serveDownload(c net.Conn, rate, size, seed uint64) error {
	buf := make([]byte, 64<<10)
	chunk := len(buf)
	if rate > 0 {
		chunk = pacedChunk
	}
	// The client sends nothing more: a read ends when it closes.
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	start := time.Now()
	var off, paced uint64 // paced: bytes the schedule counts from start
	for size == 0 || off < size {
		n := chunk
		if size > 0 {
			n = int(min(uint64(n), size-off))
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(paced) * 8 / float64(rate) * float64(time.Second)))
			if behind := time.Since(due); behind > maxBehind {
				start = start.Add(behind - maxBehind) // forget the stall
			} else if behind < 0 {
				time.Sleep(-behind)
			}
		}
		Pattern(buf[:n], seed, off)
		if _, err := c.Write(buf[:n]); err != nil {
			return err
		}
		off += uint64(n)
		paced += uint64(n)
	}
	<-closed // the whole download is sent: idle until the client closes
	return nil
}

func serveRequests(c net.Conn, req []byte) error {
	buf := make([]byte, 64<<10)
	for {
		if req[0] != magicRequest {
			return fmt.Errorf("bad request %#02x", req[0])
		}
		seq, size := binary.BigEndian.Uint64(req[8:]), binary.BigEndian.Uint64(req[16:])
		for off := uint64(0); off < size; {
			n := int(min(uint64(len(buf)), size-off))
			Pattern(buf[:n], seq, off)
			if _, err := c.Write(buf[:n]); err != nil {
				return err
			}
			off += uint64(n)
		}
		if _, err := io.ReadFull(c, req); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
