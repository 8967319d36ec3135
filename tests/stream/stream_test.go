package stream

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRunOverPipe(t *testing.T) {
	a, b := net.Pipe()
	go Echo(b)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := Run(ctx, a, 5*time.Millisecond, 100, time.Second)
	if r.Err != "" || r.Sent < 10 || r.Received != r.Sent || r.MaxGap <= 0 {
		t.Fatalf("got %v", r)
	}
}

// reorder echoes records 0, 2, 1: the stream must fail.
func TestRunDetectsReordering(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		recs := make([][]byte, 3)
		for i := range recs {
			recs[i] = make([]byte, 100)
			if _, err := b.Read(recs[i]); err != nil {
				return
			}
		}
		for _, i := range []int{0, 2, 1} {
			if _, err := b.Write(recs[i]); err != nil {
				return
			}
		}
	}()
	// The run ends at the reordering; the generous limits only keep a
	// loaded machine from ending it first.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := Run(ctx, a, time.Millisecond, 100, 2*time.Second)
	if !strings.Contains(r.Err, "out of order or lost: got record 2") {
		t.Fatalf("got %v, want a reordering error", r)
	}
}

func TestRunDetectsLoss(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		buf := make([]byte, 100)
		for i := 0; ; i++ {
			if _, err := b.Read(buf); err != nil {
				return
			}
			if i == 3 {
				continue // lose record 3
			}
			if _, err := b.Write(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := Run(ctx, a, time.Millisecond, 100, 200*time.Millisecond)
	if !strings.Contains(r.Err, "echo 3 out of order or lost: got record 4") {
		t.Fatalf("got %v, want a loss error", r)
	}
}
