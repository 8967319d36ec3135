package engine

import (
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Event is an input of the engine. Every event carries the time it
// happened (At).
type Event interface{ at() time.Time }

// EventBase holds the time of an event.
type EventBase struct{ At time.Time }

func (e EventBase) at() time.Time { return e.At }

// ConnCreated is a new connection (CREATED, or ESTABLISHED when CREATED was
// missed), or one adopted from a kernel dump. Policy is the application
// policy the daemon matched it to.
type ConnCreated struct {
	EventBase
	Token         uint32
	Local, Remote netip.AddrPort
	ServerSide    bool
	Established   bool
	Policy        *policy.Policy
	// Subflows, when the connection is adopted from a dump, are the
	// subflows it has; nil means a new connection, whose only subflow is
	// the initial one, Local -> Remote.
	Subflows []Subflow
}

// ConnEstablished is the kernel's ESTABLISHED: subflows can be added now.
type ConnEstablished struct {
	EventBase
	Token uint32
}

// ConnClosed is the kernel's CLOSED.
type ConnClosed struct {
	EventBase
	Token uint32
}

// SubflowUp is SF_ESTABLISHED.
type SubflowUp struct {
	EventBase
	Token uint32
	Subflow
}

// SubflowDown is SF_CLOSED; Error is the subflow's errno, 0 if none.
type SubflowDown struct {
	EventBase
	Token uint32
	Subflow
	Error uint8
}

// SubflowPriority is SF_PRIO: the peer changed a subflow's backup flag.
type SubflowPriority struct {
	EventBase
	Token uint32
	Subflow
}

// PeerAnnounced is ANNOUNCED: the peer's ADD_ADDR.
type PeerAnnounced struct {
	EventBase
	Token  uint32
	RemID  uint8
	Remote netip.AddrPort
}

// PeerRemoved is REMOVED: the peer's REMOVE_ADDR.
type PeerRemoved struct {
	EventBase
	Token uint32
	RemID uint8
}

// InterfacesChanged carries a new snapshot of the interfaces.
type InterfacesChanged struct {
	EventBase
	Ifaces ifmon.Snapshot
}

// Tick is a wake-up the engine asked for (Step's wake time).
type Tick struct{ EventBase }

// ActionFailed reports that the kernel refused an action.
type ActionFailed struct {
	EventBase
	Action Action
	Err    error
}

// ActionDone reports that the kernel accepted an action. Only SetBackup
// needs it: the kernel reports MP_PRIO to the peer, not to us.
type ActionDone struct {
	EventBase
	Action Action
}

// PolicyChanged gives a connection another policy (after a reload).
type PolicyChanged struct {
	EventBase
	Token  uint32
	Policy *policy.Policy
}
