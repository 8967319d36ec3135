package genl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
)

// ErrNotEnabled is returned (wrapped) by New and NewEvents when the kernel
// has no "mptcp_pm" generic netlink family in the namespace: the kernel was
// built without CONFIG_MPTCP, or the family is not registered. It matches
// os.ErrNotExist with errors.Is.
var ErrNotEnabled = fmt.Errorf("MPTCP is not enabled in this kernel / namespace (no %q generic netlink family): %w", FamilyName, os.ErrNotExist)

// ErrOverflow is returned (wrapped) by Events.Receive when the kernel
// dropped events because the socket's receive buffer was full (ENOBUFS).
// The caller has missed events and should rebuild its view from the kernel;
// the Events socket stays usable.
var ErrOverflow = errors.New("genl: event socket overflow (ENOBUFS): events were lost, resync from the kernel")

// FamilyName and EventsGroup are the kernel's names for the MPTCP path
// manager family and its multicast group of events
// (include/uapi/linux/mptcp_pm.h: MPTCP_PM_NAME, MPTCP_PM_EV_GRP_NAME).
const (
	FamilyName  = "mptcp_pm"
	EventsGroup = "mptcp_pm_events"
)

// Config selects where a Client or Events socket operates.
type Config struct {
	// NetNS is a file descriptor of a network namespace (for example an
	// open /var/run/netns/NAME). The netlink socket is created inside that
	// namespace and stays bound to it; no thread of the caller is left in
	// it. Zero means the caller's own namespace.
	NetNS int
}

// Flags are endpoint (address) flags, MPTCP_PM_ADDR_FLAG_* in
// include/uapi/linux/mptcp.h.
type Flags uint32

// Endpoint flag bits.
const (
	FlagSignal   Flags = 1 << 0 // announce the address with ADD_ADDR
	FlagSubflow  Flags = 1 << 1 // open subflows from this address
	FlagBackup   Flags = 1 << 2 // subflows from it are backups (MP_JOIN B-bit, MP_PRIO)
	FlagFullmesh Flags = 1 << 3 // one subflow per known peer address
	FlagImplicit Flags = 1 << 4 // set by the kernel for peer-initiated subflows' addresses
	FlagLaminar  Flags = 1 << 5 // source for subflows to announced peer addresses (6.18)
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSignal, "signal"},
	{FlagSubflow, "subflow"},
	{FlagBackup, "backup"},
	{FlagFullmesh, "fullmesh"},
	{FlagImplicit, "implicit"},
	{FlagLaminar, "laminar"},
}

// Names returns the names of the set flags in the order `ip mptcp` prints
// them; unknown bits show as one hexadecimal word.
func (f Flags) Names() []string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("0x%x", uint32(f)))
	}
	return out
}

// String returns the flag names separated by spaces, as `ip mptcp` prints them.
func (f Flags) String() string { return strings.Join(f.Names(), " ") }

// ParseFlag returns the flag named name ("signal", "subflow", "backup",
// "fullmesh", "implicit", "laminar").
func ParseFlag(name string) (Flags, bool) {
	for _, n := range flagNames {
		if n.name == name {
			return n.f, true
		}
	}
	return 0, false
}

// Endpoint is the kernel's address nest (MPTCP_PM_ADDR_ATTR_*): an endpoint
// of the in-kernel path manager, or a local address of one connection of the
// userspace path manager.
type Endpoint struct {
	ID      uint8      // endpoint / address ID; 0 when adding means "kernel picks"
	Addr    netip.Addr // local address; the zero Addr when absent
	Port    uint16     // 0 when absent
	Flags   Flags
	IfIndex int32 // 0 when absent
}

// Limits are the in-kernel path manager's limits (MPTCP_PM_ATTR_SUBFLOWS,
// MPTCP_PM_ATTR_RCV_ADD_ADDRS).
type Limits struct {
	Subflows        uint32 // extra subflows per connection
	AddAddrAccepted uint32 // ADD_ADDRs accepted per connection
}

// LimitsUpdate changes some limits; nil fields are left as they are.
type LimitsUpdate struct {
	Subflows        *uint32
	AddAddrAccepted *uint32
}

// EndpointChange changes the flags of an in-kernel endpoint that can change
// at run time; nil fields are left as they are.
type EndpointChange struct {
	Backup   *bool
	Fullmesh *bool
}

// Error is a command the kernel refused. It keeps the kernel's extended-ack
// message and the errno: errors.Is(err, unix.EINVAL) and
// errors.Is(err, os.ErrNotExist) (for ENOENT) work through Unwrap.
type Error struct {
	Op      string // what was asked, e.g. "add endpoint 10.0.1.2"
	Message string // the kernel's extended-ack message, may be empty
	Err     error  // the underlying error, usually a unix.Errno
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("genl: %s: %s: %v", e.Op, e.Message, e.Err)
	}
	return fmt.Sprintf("genl: %s: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrInvalidToken matches an *Error for a command that names a connection
// the kernel does not have (any more): the userspace path manager's
// extended ack "invalid token" (net/mptcp/pm_userspace.c,
// mptcp_userspace_pm_get_sock), with EINVAL.
var ErrInvalidToken = errors.New("invalid token")

// Is makes ENODEV match os.ErrNotExist too (ENOENT already does): both
// mean that what the command names is not there. The kernel's "invalid
// token" matches ErrInvalidToken.
func (e *Error) Is(target error) bool {
	switch target {
	case os.ErrNotExist:
		return errors.Is(e.Err, syscall.ENODEV)
	case ErrInvalidToken:
		return e.Message == "invalid token"
	}
	return false
}
