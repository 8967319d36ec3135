package engine

import (
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Result is what Step did with an event: the actions to take, when to
// wake the engine, and what became of the event's connection, so that
// the caller never has to look into the model to know.
type Result struct {
	// Actions are the commands for the kernel, in the order to send them.
	Actions []Action
	// Wake is when the engine wants a Tick (zero: no need).
	Wake time.Time
	// Unknown is set when the event named a connection the engine does
	// not have after it: never reported, forgotten, or a late report it
	// refused (see ConnReported). Not set for ConnClosed.
	Unknown bool
	// ServerSide is set when the event's connection is one the peer
	// opened: the engine opens no subflows for it and does not take its
	// measurements (a Quality event for it is ignored).
	ServerSide bool
	// Policy is the policy of a PeerAnnounced's connection, for the log.
	Policy *policy.Policy
	// Announcement is what became of a PeerAnnounced (zero for other
	// events), and Why why an address is never followed.
	Announcement Announcement
	Why          string
	// Forgotten are the connections the kernel said it no longer has (an
	// action refused with "invalid token"): the engine dropped them, and
	// so should the caller.
	Forgotten []uint32
	// Handovers are the indexes in Actions of the creations that move a
	// connection to another path: non-backup subflows in handover mode,
	// where one path carries the traffic.
	Handovers []int
}

// Moves reports whether Actions[i] moves a connection (see Handovers).
func (r *Result) Moves(i int) bool { return slices.Contains(r.Handovers, i) }
