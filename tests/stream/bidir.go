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
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.Size < 8 {
		o.Size = 100
	}
	d := o.Download
	if d.Rate == 0 {
		d.Rate = DefaultRate
	}
	if d.Bulk {
		d.Rate = 0
	}
	if d.Seed == 0 {
		d.Seed = uint64(time.Now().UnixNano())
	}
	rc := newRecorder()
	var (
		mu   sync.Mutex // guards voice
		fail string     // the first failure of the connection as a whole
	)
	voice := Result{}
	lastEcho := rc.res.Start
	setFail := func(format string, args ...any) {
		mu.Lock()
		if fail == "" {
			fail = fmt.Sprintf(format, args...)
		}
		mu.Unlock()
	}

	req := make([]byte, 32)
	req[0] = magicBidir
	binary.BigEndian.PutUint32(req[4:], uint32(o.Size))
	binary.BigEndian.PutUint64(req[8:], d.Rate)
	binary.BigEndian.PutUint64(req[24:], d.Seed)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		rc.fail("write request: %v", err)
		voice.Err = rc.res.Err
		return rc.finish(), voice
	}

	stopped := make(chan struct{}) // the writer is done: no more records
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		hdr := make([]byte, 3)
		buf := make([]byte, 64<<10)
		want := make([]byte, len(buf))
		var off, echoes uint64
		for {
			if _, err := io.ReadFull(c, hdr); err != nil {
				select {
				case <-stopped:
				default:
					setFail("read after %d download bytes, %d echoes: %v", off, echoes, err)
				}
				return
			}
			n := int(binary.BigEndian.Uint16(hdr[1:]))
			if n > len(buf) {
				setFail("frame of %d bytes", n)
				return
			}
			if _, err := io.ReadFull(c, buf[:n]); err != nil {
				setFail("read a frame's %d bytes: %v", n, err)
				return
			}
			now := time.Now()
			switch hdr[0] {
			case frameDownload:
				Pattern(want[:n], d.Seed, off)
				if i := firstDiff(buf[:n], want[:n]); i >= 0 {
					setFail("download byte %d: got %#02x, want %#02x", off+uint64(i), buf[i], want[i])
					return
				}
				off += uint64(n)
				rc.got(now, n)
			case frameEcho:
				seq := binary.BigEndian.Uint64(buf)
				mu.Lock()
				if n != o.Size || seq != echoes {
					mu.Unlock()
					setFail("echo %d out of order or lost: got record %d (%d bytes)", echoes, seq, n)
					return
				}
				echoes++
				voice.Received = echoes
				if gap := now.Sub(lastEcho); gap > voice.MaxGap {
					voice.MaxGap, voice.GapEnd = gap, now.Sub(rc.res.Start)
				}
				lastEcho = now
				mu.Unlock()
			default:
				setFail("unknown frame kind %#02x", hdr[0])
				return
			}
		}
	}()

	err := writeRecords(ctx, c, o.Size, o.Interval, readDone, func() {
		mu.Lock()
		voice.Sent++
		mu.Unlock()
	})
	if err != nil {
		setFail("%v", err)
	}
	// Wait up to a second for the last echoes, then stop the reader.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		all := voice.Received == voice.Sent || fail != ""
		mu.Unlock()
		if all {
			break
		}
	}
	close(stopped)
	_ = c.SetReadDeadline(time.Now())
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	if fail != "" {
		rc.fail("%s", fail)
		voice.Err = fail
	} else if voice.Received != voice.Sent {
		voice.Err = fmt.Sprintf("%d records sent, %d echoed", voice.Sent, voice.Received)
	}
	return rc.finish(), voice
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
