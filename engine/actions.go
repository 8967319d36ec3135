package engine

import (
	"fmt"
	"net/netip"
)

// ActionKind is what an action does.
type ActionKind int

// Action kinds.
const (
	CreateSubflow  ActionKind = iota + 1 // open a subflow from Local (ID, IfIndex) to Remote
	DestroySubflow                       // close the subflow Local -> Remote
	SetBackup                            // set the backup flag of Local -> Remote to Backup (MP_PRIO)
	RemoveAddr                           // send REMOVE_ADDR for local ID and close its subflows
	Announce                             // send ADD_ADDR for Local (port 0: the connection's) with ID
)

func (k ActionKind) String() string {
	switch k {
	case CreateSubflow:
		return "create-subflow"
	case DestroySubflow:
		return "destroy-subflow"
	case SetBackup:
		return "set-backup"
	case RemoveAddr:
		return "remove-addr"
	case Announce:
		return "announce"
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is one command for the kernel's userspace path manager.
type Action struct {
	Kind    ActionKind
	Token   uint32
	Local   netip.AddrPort // for CreateSubflow the port is 0
	ID      uint8          // local address ID (CreateSubflow, RemoveAddr)
	IfIndex int32          // CreateSubflow: the interface to bind to
	Remote  netip.AddrPort
	Backup  bool
	// Mapped asks for IPv4 addresses as v4-mapped IPv6 in the command: the
	// kernel finds the subflows of an AF_INET6 connection by that form
	// only (SUBFLOW_DESTROY and SET_FLAGS with plain IPv4 get ESRCH).
	Mapped bool
	// Probe marks a CreateSubflow that probes a path found bad (a fresh
	// backup subflow), for the decision stream.
	Probe  bool
	Reason string // why, for logs
}

func (a Action) String() string {
	switch a.Kind {
	case RemoveAddr:
		return fmt.Sprintf("%s token %08x id %d (%s)", a.Kind, a.Token, a.ID, a.Reason)
	case Announce:
		return fmt.Sprintf("%s token %08x %s id %d (%s)", a.Kind, a.Token, a.Local, a.ID, a.Reason)
	case SetBackup:
		return fmt.Sprintf("%s token %08x %s -> %s backup=%v (%s)", a.Kind, a.Token, a.Local, a.Remote, a.Backup, a.Reason)
	case CreateSubflow:
		return fmt.Sprintf("%s token %08x %s id %d if %d -> %s backup=%v (%s)", a.Kind, a.Token, a.Local.Addr(), a.ID, a.IfIndex, a.Remote, a.Backup, a.Reason)
	}
	return fmt.Sprintf("%s token %08x %s -> %s (%s)", a.Kind, a.Token, a.Local, a.Remote, a.Reason)
}

func phase(a Action) int {
	switch {
	case a.Kind == CreateSubflow:
		return 0
	case a.Kind == SetBackup && !a.Backup:
		return 1
	case a.Kind == SetBackup:
		return 2
	}
	return 3
}
