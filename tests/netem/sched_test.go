package netem

import (
	"encoding/binary"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSchedulerDelay(t *testing.T) {
	s := scheduler{delay: ms(50)}
	if _, ok := s.next(); ok {
		t.Fatal("empty scheduler has a next packet")
	}
	for i, at := range []float64{0, 1, 1, 30} {
		if due := s.push(uint32(i+1), t0.Add(ms(at)), 0.9); !due.Equal(t0.Add(ms(at + 50))) {
			t.Errorf("packet %d at %v ms: due %v, want %v ms later", i+1, at, due.Sub(t0), 50)
		}
	}
	if n, _ := s.popDue(t0.Add(ms(49.9))); n != 0 {
		t.Errorf("%d packets released before their time", n)
	}
	if n, last := s.popDue(t0.Add(ms(51))); n != 3 || last != 3 {
		t.Errorf("at 51 ms: released %d up to id %d, want 3 up to 3", n, last)
	}
	if due, ok := s.next(); !ok || !due.Equal(t0.Add(ms(80))) {
		t.Errorf("next: %v %v, want 80 ms", due.Sub(t0), ok)
	}
	if n, last := s.popDue(t0.Add(ms(1000))); n != 1 || last != 4 || s.len() != 0 {
		t.Errorf("released %d up to %d, %d left; want 1 up to 4, none", n, last, s.len())
	}
	if n, _ := s.popDue(t0.Add(ms(2000))); n != 0 {
		t.Errorf("released %d from an empty scheduler", n)
	}
}

func TestSchedulerJitter(t *testing.T) {
	s := scheduler{delay: ms(100), jitter: ms(20)}
	for _, c := range []struct {
		at, u, want float64
	}{
		{0, 0, 80},      // -jitter
		{0, 0.5, 100},   // no jitter
		{10, 0.75, 120}, // +10 ms
		{11, 0, 120},    // would be 91: held back behind the previous one
		{50, 0, 130},
		{60, 0.999, 179.96},
	} {
		if due := s.push(1, t0.Add(ms(c.at)), c.u); due.Sub(t0) != ms(c.want) {
			t.Errorf("push at %v ms, u=%v: due at %v, want %v ms", c.at, c.u, due.Sub(t0), c.want)
		}
	}
	// Jitter larger than the delay: never released before arrival.
	s = scheduler{delay: ms(5), jitter: ms(50)}
	if due := s.push(1, t0, 0); !due.Equal(t0) {
		t.Errorf("jitter > delay: due %v after arrival, want 0", due.Sub(t0))
	}
}

func TestSchedulerPopAllAndReuse(t *testing.T) {
	s := scheduler{delay: ms(10)}
	for i := range 5000 {
		s.push(uint32(i), t0.Add(ms(float64(i))), 0)
		if i%3 == 0 {
			s.popDue(t0.Add(ms(float64(i))))
		}
	}
	if s.len() == 0 || len(s.fifo) > 4000 {
		t.Errorf("held %d, slice length %d: want compaction", s.len(), len(s.fifo))
	}
	if n, last := s.popAll(); n == 0 || last != 4999 || s.len() != 0 {
		t.Errorf("popAll: %d up to %d, %d left", n, last, s.len())
	}
	if n, last := s.popAll(); n != 0 || last != 0 {
		t.Errorf("popAll of empty: %d, %d", n, last)
	}
}

// FuzzScheduler checks the invariants for any sequence of arrivals,
// random draws and release times: FIFO order, release times never earlier
// than arrival (nor, unless clamped to keep the order, than
// arrival+delay-jitter) and never later than arrival+delay+jitter, every
// packet released exactly once.
func FuzzScheduler(f *testing.F) {
	f.Add(int64(50), int64(10), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(int64(0), int64(0), []byte{0, 0, 0, 0})
	f.Add(int64(1), int64(1000), []byte{255, 255, 0, 0, 17, 3})
	f.Fuzz(func(t *testing.T, delayMs, jitterMs int64, ops []byte) {
		delay, jitter := time.Duration(delayMs%2000)*time.Millisecond, time.Duration(jitterMs%2000)*time.Millisecond
		if delay < 0 || jitter < 0 {
			return
		}
		s := scheduler{delay: delay, jitter: jitter}
		now := t0
		var pushed, released uint32
		var prevDue time.Time
		for len(ops) >= 3 {
			op, arg := ops[0], binary.LittleEndian.Uint16(ops[1:])
			ops = ops[3:]
			now = now.Add(time.Duration(arg) * 100 * time.Microsecond)
			if op&1 == 0 {
				u := float64(op) / 256
				due := s.push(pushed, now, u)
				pushed++
				if due.Before(now) || due.Before(prevDue) || due.After(now.Add(delay+jitter)) && due.After(prevDue) {
					t.Fatalf("push at %v: due %v (previous %v), delay %v jitter %v", now.Sub(t0), due.Sub(t0), prevDue.Sub(t0), delay, jitter)
				}
				prevDue = due
				continue
			}
			pop := s.popDue
			if op&2 != 0 {
				pop = func(time.Time) (int, uint32) { return s.popAll() }
			}
			if n, last := pop(now); n > 0 {
				released += uint32(n)
				if last != released-1 {
					t.Fatalf("released up to id %d, want %d", last, released-1)
				}
			}
			if due, ok := s.next(); ok && op&2 == 0 && !due.After(now) {
				t.Fatalf("a due packet was left: due %v at %v", due.Sub(t0), now.Sub(t0))
			}
		}
		if n, _ := s.popAll(); released+uint32(n) != pushed {
			t.Fatalf("released %d + %d of %d", released, n, pushed)
		}
	})
}
