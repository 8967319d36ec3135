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

// ConnReported is the kernel's CREATED, or ESTABLISHED when Established
// is set. The engine decides what it is: the ESTABLISHED of a connection
// it has (subflows can be added now); a new connection (CREATED, or an
// ESTABLISHED whose CREATED was missed), whose policy it asks Match for;
// a CREATED of one it has, taken as new again (its policy asked again);
// or a late report of a connection closed moments ago, which it refuses
// (Result.Unknown).
type ConnReported struct {
	EventBase
	Token         uint32
	Local, Remote netip.AddrPort
	ServerSide    bool
	Established   bool
	Match         Matcher
}

// Matcher finds the policy of a connection. The engine calls it from
// Step, at most once per event and only when it needs a policy, so that
// the caller's lookups (the owner of the socket) are not made for a
// connection the engine has.
type Matcher interface {
	Match(token uint32, local, remote netip.AddrPort, serverSide bool) *policy.Policy
}

// ConnCreated is a new connection, or one adopted from a kernel dump.
// Policy is the application policy the daemon matched it to; when it is
// nil and Match is set, a connection the engine has with a policy keeps
// it, and Match is asked for the policy of any other.
type ConnCreated struct {
	EventBase
	Token         uint32
	Local, Remote netip.AddrPort
	ServerSide    bool
	Established   bool
	Policy        *policy.Policy
	Match         Matcher
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

// PeerAnnounced is ANNOUNCED: the peer's ADD_ADDR. The engine decides
// what becomes of it (Result.Announcement): an address never followed is
// refused; the others are kept, and used when the connection's policy
// takes them.
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

// InterfacesChanged carries a new snapshot of the interfaces. Routes, when
// not nil, replace every route lookup the engine holds: those of the new
// snapshot (the daemon looks them up again after every change, since a
// change of addresses, links, routes or rules can change them).
type InterfacesChanged struct {
	EventBase
	Ifaces ifmon.Snapshot
	Routes []Route
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

// PoliciesChanged gives every connection the policy Match finds for it
// now (after a reload). A connection's announced addresses that the new
// policy takes are used, those it does not are not.
type PoliciesChanged struct {
	EventBase
	Match Matcher
}

// PolicyChanged gives a connection another policy.
type PolicyChanged struct {
	EventBase
	Token  uint32
	Policy *policy.Policy
}
