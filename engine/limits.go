package engine

import (
	"time"
)

// Timers of the engine.
const (
	// pendingTimeout is how long a subflow creation may go unanswered by
	// the kernel (no SF_ESTABLISHED, no SF_CLOSED) before it counts as
	// failed.
	pendingTimeout = 5 * time.Second
	backoffMin     = 500 * time.Millisecond
	backoffMax     = 30 * time.Second
)

// Limits on what one connection can make the engine do, whatever its
// input: a link flapping hundreds of times, a peer flooding ADD_ADDR and
// REMOVE_ADDR, the kernel refusing or the peer resetting every join. They
// do not hold back the one subflow a connection with none that can carry
// its data needs: that has a pace of its own (survive.go).
const (
	// CreateBurst and CreateInterval limit the subflow creations of one
	// connection with a token bucket (GCRA: one timestamp per connection,
	// time from the events): CreateBurst may go at once, then one every
	// CreateInterval, so over any span T a connection gets at most
	// CreateBurst + T/CreateInterval creations. A creation the limit
	// defers is not lost: Step asks for a wake-up at the time the bucket
	// allows it, and the connection converges then. The burst covers what
	// a connection needs at once (a subflow per path, or a handover with
	// a warm standby); the interval is well above a join's round trip.
	CreateBurst    = 4
	CreateInterval = time.Second
	// MaxSubflows caps the subflows the engine wants for one connection,
	// the initial one included: MPTCP_PM_ADDR_MAX (8), the kernel's cap
	// on its own path manager's subflows (net/mptcp/protocol.h). Peer
	// announcements beyond what fits with every allowed path are not
	// joined, and no creation is sent while the connection has this many
	// subflows, established or being created.
	MaxSubflows = 8
)
