// Package stream runs a voice-like record stream over a connection: a
// sequence-numbered record every interval, echoed by the peer, checked
// for loss and order, with the longest gap between two echoes measured.
// It is what the end-to-end tests and the handover benchmark use to see a
// stall.
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

// Result is what one stream saw.
type Result struct {
	Sent     uint64        `json:"sent"`
	Received uint64        `json:"received"` // echoes back, in order
	MaxGap   time.Duration `json:"max_gap"`  // longest time between two echoes
	GapEnd   time.Duration `json:"gap_end"`  // when (since start) the longest gap ended
	Err      string        `json:"error,omitempty"`
}

// MaxGapMS is MaxGap in milliseconds.
func (r Result) MaxGapMS() float64 { return float64(r.MaxGap.Microseconds()) / 1000 }

func (r Result) String() string {
	s := fmt.Sprintf("sent %d received %d max gap %.1f ms (ended at %v)", r.Sent, r.Received, r.MaxGapMS(), r.GapEnd.Round(time.Millisecond))
	if r.Err != "" {
		s += " error: " + r.Err
	}
	return s
}

// Run streams size-byte records every interval over c until ctx ends,
// then waits up to drain for the last echoes. The stream fails (Err) on a
// missing, duplicated or reordered record, or a write or read error.
func Run(ctx context.Context, c net.Conn, interval time.Duration, size int, drain time.Duration) Result {
	if size < 8 {
		size = 8
	}
	var (
		mu  sync.Mutex
		res Result
	)
	start := time.Now()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, size)
		last := start
		for want := uint64(0); ; want++ {
			if _, err := io.ReadFull(c, buf); err != nil {
				mu.Lock()
				if res.Err == "" && (ctx.Err() == nil || want < res.Sent) {
					res.Err = fmt.Sprintf("read echo %d: %v", want, err)
				}
				mu.Unlock()
				return
			}
			now := time.Now()
			mu.Lock()
			if seq := binary.BigEndian.Uint64(buf); seq != want {
				res.Err = fmt.Sprintf("echo %d out of order or lost: got record %d", want, seq)
				mu.Unlock()
				return
			}
			res.Received++
			if gap := now.Sub(last); gap > res.MaxGap {
				res.MaxGap, res.GapEnd = gap, now.Sub(start)
			}
			last = now
			done := ctx.Err() != nil && res.Received == res.Sent
			mu.Unlock()
			if done {
				return
			}
		}
	}()
	err := writeRecords(ctx, c, size, interval, readDone, func() {
		mu.Lock()
		res.Sent++
		mu.Unlock()
	})
	if err != nil {
		mu.Lock()
		res.Err = err.Error()
		mu.Unlock()
	}
	mu.Lock()
	if res.Received == res.Sent {
		_ = c.SetReadDeadline(time.Now()) // every echo is in: stop the reader
	}
	mu.Unlock()
	select {
	case <-readDone:
	case <-time.After(drain):
		_ = c.SetReadDeadline(time.Now())
		<-readDone
	}
	mu.Lock()
	defer mu.Unlock()
	if res.Err == "" && res.Received != res.Sent {
		res.Err = fmt.Sprintf("%d records sent, %d echoed", res.Sent, res.Received)
	}
	return res
}

// writeRecords writes a size-byte record, numbered from 0, on c every
// interval until ctx ends or readDone closes, calling sent after each
// record written. It returns the first write error.
func writeRecords(ctx context.Context, c net.Conn, size int, interval time.Duration, readDone <-chan struct{}, sent func()) error {
	rec := make([]byte, size)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := uint64(0); ; seq++ {
		binary.BigEndian.PutUint64(rec, seq)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(rec); err != nil {
			return fmt.Errorf("write record %d: %v", seq, err)
		}
		sent()
		select {
		case <-ctx.Done():
			return nil
		case <-readDone:
			return nil
		case <-tick.C:
		}
	}
}

// Echo copies everything c sends back to it until it closes.
func Echo(c net.Conn) {
	defer c.Close()
	_, _ = io.Copy(c, c)
}
