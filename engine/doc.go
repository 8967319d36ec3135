// Package engine decides which subflows each MPTCP connection should have
// and which of them are backups, from the connection's policy (package
// policy), the interfaces, the measured path quality and the time.
//
// A State is the engine's model of the connections and interfaces. The
// daemon's loop hands it one Event at a time (kernel MPTCP events,
// interface changes, quality measurements, timer ticks, results of
// actions) and executes the Actions that Step returns. The engine is
// level-triggered and pure: it does no I/O and reads no clock (time comes
// in the events); the kernel's answers to its actions come back as events.
//
// # Out of scope
//
// Parsing and matching policies is package policy's job; sending commands
// to the kernel, sampling quality and serving status belong to the daemon.
package engine
