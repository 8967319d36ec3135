// Package engine decides which subflows each MPTCP connection should have
// and which of them are backups, from the connection's policy (package
// policy), the interfaces, the kernel's routes to the peers (Route facts
// the daemon looks up and feeds in), the measured path quality and the
// time.
//
// A State is the engine's model of the connections and interfaces. The
// daemon's loop hands it one Event at a time (kernel MPTCP events,
// interface changes, quality measurements, timer ticks, results of
// actions) and executes the Actions of the Result that Step returns. The
// engine is level-triggered and pure: it does no I/O and reads no clock
// (time comes in the events); the kernel's answers to its actions come
// back as events.
//
// The engine interprets the events itself: a ConnReported is the kernel's
// CREATED or ESTABLISHED, and the engine decides whether the connection is
// new (then it asks the event's Matcher for its policy), known, or a late
// report of one closed moments ago. The Result says what became of the
// event's connection (unknown, opened by the peer, forgotten) and which
// creations are handovers. The model is not exported: the daemon's status
// reads it through views (State.Conn, State.Conns, State.Interfaces),
// which return copies; a State belongs to one goroutine.
//
// # Out of scope
//
// Parsing and matching policies is package policy's job; sending commands
// to the kernel, sampling quality and serving status belong to the daemon.
package engine
