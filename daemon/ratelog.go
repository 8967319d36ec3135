package daemon

import "time"

// rateLog thins out a stream of similar log lines, such as one per
// ADD_ADDR of a peer that floods them: per key (a connection), the first
// burst lines of each interval are written and the rest only counted; the
// next line written reports how many were suppressed. Its memory is one
// small window per key seen in the last interval. It is not safe for
// concurrent use: the daemon's loop owns it.
type rateLog[K comparable] struct {
	burst    int
	interval time.Duration
	keys     map[K]*rateWindow
	pruned   time.Time
}

// rateWindow is one key's current interval.
type rateWindow struct {
	start      time.Time
	written    int
	suppressed int // since the last line written
}

func newRateLog[K comparable](burst int, interval time.Duration) *rateLog[K] {
	return &rateLog[K]{burst: burst, interval: interval, keys: map[K]*rateWindow{}}
}

// allow reports whether the line for key at now is written. If it is,
// suppressed is how many lines of key were left out since the last one
// written, and last is true when it is the last line of key written in
// this interval (the caller says that more will be suppressed).
func (r *rateLog[K]) allow(key K, now time.Time) (write bool, suppressed int, last bool) {
	r.prune(now)
	w := r.keys[key]
	if w == nil || now.Sub(w.start) >= r.interval {
		if w == nil {
			w = &rateWindow{}
			r.keys[key] = w
		}
		w.start, w.written = now, 0
	}
	if w.written >= r.burst {
		w.suppressed++
		return false, 0, false
	}
	w.written++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed, w.written == r.burst
}

// prune forgets, once per interval, the keys whose window ended with
// nothing suppressed. A window with suppressed lines is kept one interval
// more, so that its count is reported with the key's next line if one
// comes; after that the count is dropped with the key (a connection that
// went quiet, or closed).
func (r *rateLog[K]) prune(now time.Time) {
	if now.Sub(r.pruned) < r.interval {
		return
	}
	r.pruned = now
	for k, w := range r.keys {
		if age := now.Sub(w.start); age >= 2*r.interval || (age >= r.interval && w.suppressed == 0) {
			delete(r.keys, k)
		}
	}
}

// Rate of the "peer announcement ignored" line: per connection, the
// first announceLogBurst in announceLogInterval. A peer flooding
// ADD_ADDR must not flood the log.
const (
	announceLogBurst    = 3
	announceLogInterval = 10 * time.Second
)

// forget drops key's window (a connection that closed).
func (r *rateLog[K]) forget(key K) { delete(r.keys, key) }
