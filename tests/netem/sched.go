package netem

import "time"

// held is a packet waiting for its release time.
type held struct {
	id  uint32
	due time.Time
}

// scheduler is the FIFO of held packets of one queue. Release times never
// decrease along the FIFO, so packets leave in the order they arrived and
// the head is always the next one due.
type scheduler struct {
	delay, jitter time.Duration
	fifo          []held // fifo[head:] are held
	head          int
	last          time.Time // release time of the newest packet
}

// push holds packet id, which arrived at now, and returns its release
// time: now + delay + (2u-1)*jitter for u in [0, 1), but not before now
// and not before the release time of the packet pushed before it.
func (s *scheduler) push(id uint32, now time.Time, u float64) time.Time {
	d := s.delay
	if s.jitter > 0 {
		d += time.Duration((2*u - 1) * float64(s.jitter))
	}
	due := now
	if d > 0 {
		due = now.Add(d)
	}
	if due.Before(s.last) {
		due = s.last
	}
	s.last = due
	if s.head > 0 && s.head == len(s.fifo) {
		s.fifo, s.head = s.fifo[:0], 0 // empty: reuse from the start
	} else if s.head > 1024 && s.head > len(s.fifo)/2 {
		n := copy(s.fifo, s.fifo[s.head:]) // mostly consumed: compact
		s.fifo, s.head = s.fifo[:n], 0
	}
	s.fifo = append(s.fifo, held{id, due})
	return due
}

// len returns the number of held packets.
func (s *scheduler) len() int { return len(s.fifo) - s.head }

// next returns the release time of the head, if any packet is held.
func (s *scheduler) next() (time.Time, bool) {
	if s.len() == 0 {
		return time.Time{}, false
	}
	return s.fifo[s.head].due, true
}

// popDue removes the packets due at now (release time not after now) and
// returns how many there were and the id of the last one.
func (s *scheduler) popDue(now time.Time) (n int, last uint32) {
	for s.head < len(s.fifo) && !s.fifo[s.head].due.After(now) {
		last = s.fifo[s.head].id
		s.head++
		n++
	}
	return n, last
}

// popAll removes every held packet, as popDue does.
func (s *scheduler) popAll() (n int, last uint32) {
	if n = s.len(); n > 0 {
		last = s.fifo[len(s.fifo)-1].id
	}
	s.fifo, s.head = s.fifo[:0], 0
	return n, last
}
