package genl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// EventType is an MPTCP path-manager event, MPTCP_EVENT_* in
// include/uapi/linux/mptcp_pm.h. The generic netlink command of an event
// message is its type.
type EventType uint8

// Event types. The gaps (4, 5, 8, 9, 12, 14) are numbers the out-of-tree
// MPTCP family used for commands; upstream kept the event numbers.
const (
	EventCreated         EventType = 1
	EventEstablished     EventType = 2
	EventClosed          EventType = 3
	EventAnnounced       EventType = 6
	EventRemoved         EventType = 7
	EventSubEstablished  EventType = 10
	EventSubClosed       EventType = 11
	EventSubPriority     EventType = 13
	EventListenerCreated EventType = 15
	EventListenerClosed  EventType = 16
)

// eventNames are the names `ip mptcp monitor` prints (iproute2 ip/ipmptcp.c).
var eventNames = map[EventType]string{
	EventCreated:         "CREATED",
	EventEstablished:     "ESTABLISHED",
	EventClosed:          "CLOSED",
	EventAnnounced:       "ANNOUNCED",
	EventRemoved:         "REMOVED",
	EventSubEstablished:  "SF_ESTABLISHED",
	EventSubClosed:       "SF_CLOSED",
	EventSubPriority:     "SF_PRIO",
	EventListenerCreated: "LISTENER_CREATED",
	EventListenerClosed:  "LISTENER_CLOSED",
}

// String returns the name `ip mptcp monitor` uses, or "UNKNOWN(n)".
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is an event type this package knows.
func (t EventType) Known() bool { _, ok := eventNames[t]; return ok }

// EventAttr is an event attribute number, MPTCP_ATTR_* (enum
// mptcp_event_attr in include/uapi/linux/mptcp_pm.h).
type EventAttr uint16

// Event attributes.
const (
	AttrToken       EventAttr = 1
	AttrFamily      EventAttr = 2
	AttrLocID       EventAttr = 3
	AttrRemID       EventAttr = 4
	AttrSaddr4      EventAttr = 5
	AttrSaddr6      EventAttr = 6
	AttrDaddr4      EventAttr = 7
	AttrDaddr6      EventAttr = 8
	AttrSport       EventAttr = 9
	AttrDport       EventAttr = 10
	AttrBackup      EventAttr = 11
	AttrError       EventAttr = 12
	AttrFlags       EventAttr = 13
	AttrTimeout     EventAttr = 14
	AttrIfIdx       EventAttr = 15
	AttrResetReason EventAttr = 16
	AttrResetFlags  EventAttr = 17
	AttrServerSide  EventAttr = 18
	attrMax         EventAttr = 18
)

// Event flag bits of AttrFlags (MPTCP_PM_EV_FLAG_*).
const (
	EventFlagDenyJoinID0 uint16 = 1 << 0 // the peer set the C bit: no join to its initial address
	EventFlagServerSide  uint16 = 1 << 1 // this side accepted the connection (6.18)
)

// RawAttr is an attribute this package does not know, kept as it came.
type RawAttr struct {
	Type uint16
	Data []byte
}

// Event is one message of the mptcp_pm_events group. Only the attributes
// the kernel sent are meaningful: Has tells which. Addresses sent as
// v4-mapped IPv6 (an AF_INET6 socket carrying IPv4) are kept as the kernel
// sent them.
type Event struct {
	Type        EventType
	Token       uint32 // the local token of the connection
	Family      uint16 // AF_INET or AF_INET6
	LocID       uint8
	RemID       uint8
	Local       netip.AddrPort // saddr4|saddr6 and sport (sport is big-endian on the wire)
	Remote      netip.AddrPort // daddr4|daddr6 and dport
	Backup      bool
	Error       uint8 // errno of the subflow (sk_err)
	Flags       uint16
	Timeout     uint32
	IfIndex     int32
	ResetReason uint32 // RFC 8684 MP_TCPRST reason code
	ResetFlags  uint32
	// Unknown holds attributes with numbers this package does not know,
	// in the order they came.
	Unknown []RawAttr

	serverSide bool   // the deprecated MPTCP_ATTR_SERVER_SIDE u8
	present    uint32 // bit n set: attribute n was present
}

// Has reports whether the kernel sent attribute a with this event.
func (e *Event) Has(a EventAttr) bool { return a <= attrMax && e.present&(1<<a) != 0 }

func (e *Event) set(a EventAttr) { e.present |= 1 << a }

// With returns a copy of e that reports attrs as sent by the kernel (Has),
// with the values already in e's fields: events built by hand, in tests
// or from a recording. AttrServerSide so set counts as 0; use
// EventFlagServerSide in Flags.
func (e Event) With(attrs ...EventAttr) Event {
	for _, a := range attrs {
		if a <= attrMax {
			e.set(a)
		}
	}
	return e
}

// ServerSide reports whether this side accepted the connection. Kernels
// up to 6.17 send the server_side attribute on both sides; 6.18 sends the
// SERVER_SIDE event flag and the attribute only on the server.
func (e *Event) ServerSide() bool {
	return e.Flags&EventFlagServerSide != 0 || e.serverSide
}

// String formats the event as one line the way `ip mptcp monitor` of
// iproute2 6.2 to 6.18 does (flags in hexadecimal after error, no dev=);
// `mptcp-pm monitor` prints the form of iproute2 6.19 and later.
func (e *Event) String() string {
	if !e.Type.Known() {
		return fmt.Sprintf("[UNKNOWN %d]", e.Type)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%16s]", e.Type)
	if e.Has(AttrToken) {
		fmt.Fprintf(&b, " token=%08x", e.Token)
	}
	if e.Has(AttrRemID) {
		fmt.Fprintf(&b, " remid=%d", e.RemID)
	}
	if e.Has(AttrLocID) {
		fmt.Fprintf(&b, " locid=%d", e.LocID)
	}
	if e.Has(AttrSaddr4) {
		fmt.Fprintf(&b, " saddr4=%s", e.Local.Addr())
	}
	if e.Has(AttrDaddr4) {
		fmt.Fprintf(&b, " daddr4=%s", e.Remote.Addr())
	}
	if e.Has(AttrSaddr6) {
		fmt.Fprintf(&b, " saddr6=%s", e.Local.Addr())
	}
	if e.Has(AttrDaddr6) {
		fmt.Fprintf(&b, " daddr6=%s", e.Remote.Addr())
	}
	if e.Has(AttrSport) {
		fmt.Fprintf(&b, " sport=%d", e.Local.Port())
	}
	if e.Has(AttrDport) {
		fmt.Fprintf(&b, " dport=%d", e.Remote.Port())
	}
	if e.Has(AttrBackup) {
		fmt.Fprintf(&b, " backup=%d", b2i(e.Backup))
	}
	if e.Has(AttrError) {
		fmt.Fprintf(&b, " error=%d", e.Error)
	}
	if e.Has(AttrFlags) {
		fmt.Fprintf(&b, " flags=%x", e.Flags)
	}
	if e.Has(AttrTimeout) {
		fmt.Fprintf(&b, " timeout=%d", e.Timeout)
	}
	if e.Has(AttrIfIdx) {
		fmt.Fprintf(&b, " ifindex=%d", e.IfIndex)
	}
	if e.Has(AttrResetReason) {
		fmt.Fprintf(&b, " reset_reason=%d", e.ResetReason)
	}
	if e.Has(AttrResetFlags) {
		fmt.Fprintf(&b, " reset_flags=0x%x", e.ResetFlags)
	}
	return b.String()
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// eventJSON is an event as `mptcp-pm -j monitor --json-legacy` prints it:
// the names of `ip mptcp monitor`, only the attributes the kernel sent.
type eventJSON struct {
	Type        string    `json:"type"`
	Token       string    `json:"token,omitempty"`
	Family      *uint16   `json:"family,omitempty"`
	RemID       *uint8    `json:"remid,omitempty"`
	LocID       *uint8    `json:"locid,omitempty"`
	Saddr4      string    `json:"saddr4,omitempty"`
	Saddr6      string    `json:"saddr6,omitempty"`
	Daddr4      string    `json:"daddr4,omitempty"`
	Daddr6      string    `json:"daddr6,omitempty"`
	Sport       *uint16   `json:"sport,omitempty"`
	Dport       *uint16   `json:"dport,omitempty"`
	Backup      *bool     `json:"backup,omitempty"`
	Error       *uint8    `json:"error,omitempty"`
	Timeout     *uint32   `json:"timeout,omitempty"`
	IfIndex     *int32    `json:"ifindex,omitempty"`
	ResetReason *uint32   `json:"reset_reason,omitempty"`
	ResetFlags  *uint32   `json:"reset_flags,omitempty"`
	Flags       *uint16   `json:"flags,omitempty"`
	ServerSide  bool      `json:"server_side,omitempty"`
	Unknown     []rawJSON `json:"unknown,omitempty"`
}

type rawJSON struct {
	Type uint16 `json:"type"`
	Data string `json:"data"` // hexadecimal
}

func ptr[T any](has bool, v T) *T {
	if !has {
		return nil
	}
	return &v
}

// MarshalJSON encodes the event as one JSON object with the attribute
// names of `ip mptcp monitor`; absent attributes are left out, the token is
// eight hexadecimal digits and the event type its name.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		Type:        e.Type.String(),
		Family:      ptr(e.Has(AttrFamily), e.Family),
		RemID:       ptr(e.Has(AttrRemID), e.RemID),
		LocID:       ptr(e.Has(AttrLocID), e.LocID),
		Sport:       ptr(e.Has(AttrSport), e.Local.Port()),
		Dport:       ptr(e.Has(AttrDport), e.Remote.Port()),
		Backup:      ptr(e.Has(AttrBackup), e.Backup),
		Error:       ptr(e.Has(AttrError), e.Error),
		Timeout:     ptr(e.Has(AttrTimeout), e.Timeout),
		IfIndex:     ptr(e.Has(AttrIfIdx), e.IfIndex),
		ResetReason: ptr(e.Has(AttrResetReason), e.ResetReason),
		ResetFlags:  ptr(e.Has(AttrResetFlags), e.ResetFlags),
		Flags:       ptr(e.Has(AttrFlags), e.Flags),
		ServerSide:  e.ServerSide(),
	}
	if e.Has(AttrToken) {
		j.Token = fmt.Sprintf("%08x", e.Token)
	}
	if e.Has(AttrSaddr4) {
		j.Saddr4 = e.Local.Addr().String()
	}
	if e.Has(AttrSaddr6) {
		j.Saddr6 = e.Local.Addr().String()
	}
	if e.Has(AttrDaddr4) {
		j.Daddr4 = e.Remote.Addr().String()
	}
	if e.Has(AttrDaddr6) {
		j.Daddr6 = e.Remote.Addr().String()
	}
	for _, u := range e.Unknown {
		j.Unknown = append(j.Unknown, rawJSON{Type: u.Type, Data: hex.EncodeToString(u.Data)})
	}
	return json.Marshal(j)
}
