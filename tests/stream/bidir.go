package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The bidirectional workload ('B'): on one connection, the client streams
// voice-like records (as Run does) that the peer echoes, while the peer
// sends a paced download (as for Download). The peer frames what it
// sends: a 3-byte header (kind 'E' for an echoed record or 'D' for
// download bytes, then the length, big-endian) and the payload.

const magicBidir = 'B'

// frame kinds of the bidirectional workload.
const (
	frameEcho     = 'E'
	frameDownload = 'D'
)

// BidirOptions is the bidirectional workload: the download (Rate, Bulk,
// Seed, as DownloadOptions) and the records the client streams.
type BidirOptions struct {
	Download DownloadOptions // Size and Idle are not used
	Interval time.Duration   // between records; 0: 10 ms
	Size     int             // record size; 0: 100 bytes
}

// Bidir runs the bidirectional workload on c until ctx ends: it returns
// what the download saw and what the record stream saw (sent, echoed in
// order, the longest gap between two echoes). Either fails (Err) on a
// lost, reordered or corrupt byte or record, or a broken connection. It
// does not close c.
func Bidir(ctx context.Context, c net.Conn, o BidirOptions) (DownloadResult, Result) {
	o = o.withDefaults()
	b := &bidirRun{c: c, o: o, d: o.Download, rc: newRecorder()}
	b.lastEcho = b.rc.res.Start
	if err := b.writeRequest(); err != nil {
		b.rc.fail("write request: %v", err)
		b.voice.Err = b.rc.res.Err
		return b.rc.finish(), b.voice
	}
	b.stopped = make(chan struct{}) // the writer is done: no more records
	b.readDone = make(chan struct{})
	go b.read()
	err := writeRecords(ctx, c, o.Size, o.Interval, b.readDone, func() {
		b.mu.Lock()
		b.voice.Sent++
		b.mu.Unlock()
	})
	if err != nil {
		b.setFail("%v", err)
	}
	b.drain()
	return b.finish()
}

// withDefaults fills in the defaults of the options left zero, and the
// download's seed.
func (o BidirOptions) withDefaults() BidirOptions {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.Size < 8 {
		o.Size = 100
	}
	d := &o.Download
	if d.Rate == 0 {
		d.Rate = DefaultRate
	}
	if d.Bulk {
		d.Rate = 0
	}
	if d.Seed == 0 {
		d.Seed = uint64(time.Now().UnixNano())
	}
	return o
}

// bidirRun is the client side of one bidirectional workload.
type bidirRun struct {
	c  net.Conn
	o  BidirOptions
	d  DownloadOptions
	rc *recorder

	mu       sync.Mutex // guards voice, lastEcho and fail
	voice    Result
	lastEcho time.Time
	fail     string // the first failure of the connection as a whole

	stopped  chan struct{} // the writer is done: no more records
	readDone chan struct{} // the reader is done
}

// setFail records the first failure of the connection.
func (b *bidirRun) setFail(format string, args ...any) {
	b.mu.Lock()
	if b.fail == "" {
		b.fail = fmt.Sprintf(format, args...)
	}
	b.mu.Unlock()
}

// writeRequest asks the peer for the bidirectional workload.
func (b *bidirRun) writeRequest() error {
	req := make([]byte, 32)
	req[0] = magicBidir
	binary.BigEndian.PutUint32(req[4:], uint32(b.o.Size))
	binary.BigEndian.PutUint64(req[8:], b.d.Rate)
	binary.BigEndian.PutUint64(req[24:], b.d.Seed)
	_ = b.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := b.c.Write(req)
	return err
}

// read reads the peer's frames, checking the download bytes and the
// echoed records, until the connection fails or is stopped. It closes
// readDone.
func (b *bidirRun) read() {
	defer close(b.readDone)
	hdr := make([]byte, 3)
	buf := make([]byte, 64<<10)
	want := make([]byte, len(buf))
	var off, echoes uint64
	for {
		if _, err := io.ReadFull(b.c, hdr); err != nil {
			select {
			case <-b.stopped:
			default:
				b.setFail("read after %d download bytes, %d echoes: %v", off, echoes, err)
			}
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[1:]))
		if n > len(buf) {
			b.setFail("frame of %d bytes", n)
			return
		}
		if _, err := io.ReadFull(b.c, buf[:n]); err != nil {
			b.setFail("read a frame's %d bytes: %v", n, err)
			return
		}
		now := time.Now()
		switch hdr[0] {
		case frameDownload:
			Pattern(want[:n], b.d.Seed, off)
			if i := firstDiff(buf[:n], want[:n]); i >= 0 {
				b.setFail("download byte %d: got %#02x, want %#02x", off+uint64(i), buf[i], want[i])
				return
			}
			off += uint64(n)
			b.rc.got(now, n)
		case frameEcho:
			if !b.echo(now, buf[:n], echoes) {
				return
			}
			echoes++
		default:
			b.setFail("unknown frame kind %#02x", hdr[0])
			return
		}
	}
}

// echo checks an echoed record, the echoes-th, received at now, and
// counts it; it reports false (and fails) on a lost or reordered record.
func (b *bidirRun) echo(now time.Time, rec []byte, echoes uint64) bool {
	seq := binary.BigEndian.Uint64(rec)
	b.mu.Lock()
	if len(rec) != b.o.Size || seq != echoes {
		b.mu.Unlock()
		b.setFail("echo %d out of order or lost: got record %d (%d bytes)", echoes, seq, len(rec))
		return false
	}
	b.voice.Received = echoes + 1
	if gap := now.Sub(b.lastEcho); gap > b.voice.MaxGap {
		b.voice.MaxGap, b.voice.GapEnd = gap, now.Sub(b.rc.res.Start)
	}
	b.lastEcho = now
	b.mu.Unlock()
	return true
}

// drain waits up to a second for the last echoes, then stops the reader.
func (b *bidirRun) drain() {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.mu.Lock()
		all := b.voice.Received == b.voice.Sent || b.fail != ""
		b.mu.Unlock()
		if all {
			break
		}
	}
	close(b.stopped)
	_ = b.c.SetReadDeadline(time.Now())
	<-b.readDone
}

// finish returns the results, with the failure if any.
func (b *bidirRun) finish() (DownloadResult, Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != "" {
		b.rc.fail("%s", b.fail)
		b.voice.Err = b.fail
	} else if b.voice.Received != b.voice.Sent {
		b.voice.Err = fmt.Sprintf("%d records sent, %d echoed", b.voice.Sent, b.voice.Received)
	}
	return b.rc.finish(), b.voice
}

// serveBidir serves the bidirectional workload: it echoes the client's
// records and sends the download, framed, until the client closes.
func serveBidir(c net.Conn, size int, rate, seed uint64) error {
	var wmu sync.Mutex
	send := func(kind byte, p []byte) error {
		hdr := [3]byte{kind}
		binary.BigEndian.PutUint16(hdr[1:], uint16(len(p)))
		wmu.Lock()
		defer wmu.Unlock()
		_, err := (&net.Buffers{hdr[:], p}).WriteTo(c)
		return err
	}
	echoErr := make(chan error, 1)
	go func() {
		rec := make([]byte, size)
		for {
			if _, err := io.ReadFull(c, rec); err != nil {
				echoErr <- err
				return
			}
			if err := send(frameEcho, rec); err != nil {
				echoErr <- err
				return
			}
		}
	}()
	buf := make([]byte, 16<<10)
	chunk := len(buf)
	if rate > 0 {
		chunk = pacedChunk
	}
	start := time.Now()
	for off := uint64(0); ; off += uint64(chunk) {
		select {
		case err := <-echoErr:
			if err == io.EOF {
				return nil
			}
			return err
		default:
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(off) * 8 / float64(rate) * float64(time.Second)))
			if behind := time.Since(due); behind > maxBehind {
				start = start.Add(behind - maxBehind)
			} else if behind < 0 {
				time.Sleep(-behind)
			}
		}
		Pattern(buf[:chunk], seed, off)
		if err := send(frameDownload, buf[:chunk]); err != nil {
			return err
		}
	}
}
