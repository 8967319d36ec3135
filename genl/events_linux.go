//go:build linux

package genl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Events is a socket joined to the mptcp_pm_events multicast group. While
// it is open the kernel counts a path-manager daemon as present: the
// userspace PM accepts MP_JOINs and ADD_ADDRs only then. Its methods must not
// be called concurrently, except SetReadDeadline and Close, which may be
// called from another goroutine to stop a blocked Receive.
type Events struct {
	c        *genetlink.Conn
	familyID uint16
}

// NewEvents opens a socket in the namespace cfg selects (nil: the caller's)
// and joins the events group. Joining needs CAP_NET_ADMIN.
func NewEvents(cfg *Config) (*Events, error) {
	conn, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	e, err := initEvents(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return e, nil
}

func initEvents(conn *genetlink.Conn) (*Events, error) {
	fam, err := resolveFamily(conn)
	if err != nil {
		return nil, err
	}
	for _, g := range fam.Groups {
		if g.Name != EventsGroup {
			continue
		}
		if err := conn.JoinGroup(g.ID); err != nil {
			return nil, fmt.Errorf("genl: join group %s (needs CAP_NET_ADMIN): %w", EventsGroup, err)
		}
		return &Events{c: conn, familyID: fam.ID}, nil
	}
	return nil, fmt.Errorf("genl: family %s has no group %s: %w", FamilyName, EventsGroup, ErrNotEnabled)
}

// Receive blocks until the kernel sends events and returns them. On
// overflow it returns an error matching ErrOverflow (and unix.ENOBUFS): the
// caller lost events and should resync; the socket stays usable. Events that
// fail to decode are left out and reported in a *DecodeError returned with
// the events that did decode.
func (e *Events) Receive() ([]Event, error) {
	msgs, nmsgs, err := e.c.Receive()
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			return nil, fmt.Errorf("%w: %w", ErrOverflow, err)
		}
		return nil, fmt.Errorf("genl: receive events: %w", err)
	}
	evs := make([]Event, 0, len(msgs))
	var bad []error
	for i, m := range msgs {
		if nmsgs[i].Header.Type != netlink.HeaderType(e.familyID) {
			continue
		}
		ev, err := parseEvent(m)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		evs = append(evs, ev)
	}
	if bad != nil {
		return evs, &DecodeError{Err: errors.Join(bad...)}
	}
	return evs, nil
}

// DecodeError reports events the kernel sent that could not be decoded.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return "genl: decode event: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// SetReadDeadline sets a deadline for Receive; a zero time means none.
func (e *Events) SetReadDeadline(t time.Time) error { return e.c.SetReadDeadline(t) }

// SetReadBuffer sets the socket's receive buffer size in bytes, which
// bounds how many events can queue before the kernel drops them (ENOBUFS).
// With CAP_NET_ADMIN the size is forced past net.core.rmem_max (212992 on
// a default host, about 1,000 events); without, it is capped there.
func (e *Events) SetReadBuffer(bytes int) error {
	rc, err := e.c.SyscallConn()
	if err != nil {
		return fmt.Errorf("genl: event socket buffer: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes)
		if errors.Is(serr, unix.EPERM) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, bytes)
		}
	}); err != nil {
		return fmt.Errorf("genl: event socket buffer: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("genl: event socket buffer %d bytes: %w", bytes, serr)
	}
	return nil
}

// ReadBuffer returns the socket's receive buffer size as the kernel set
// it (twice what was asked, for its bookkeeping).
func (e *Events) ReadBuffer() (int, error) {
	rc, err := e.c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("genl: event socket buffer: %w", err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err != nil {
		return 0, fmt.Errorf("genl: event socket buffer: %w", err)
	}
	return n, serr
}

// Close leaves the group and closes the socket.
func (e *Events) Close() error { return e.c.Close() }

// parseEvent decodes one event message. Unknown attributes are kept in
// Event.Unknown and unknown event types are returned with their number;
// a known attribute of the wrong size is an error.
func parseEvent(m genetlink.Message) (Event, error) {
	// The attributes are walked by hand: netlink.AttributeDecoder and the
	// closures its Do takes cost ten allocations an event, and a busy host
	// sends thousands of events a second.
	ev := Event{Type: EventType(m.Header.Command)}
	var a eventAddrs
	b := m.Data
	for len(b) > 0 {
		t, data, rest, err := nextAttr(ev.Type, b)
		if err != nil {
			return ev, err
		}
		b = rest
		typ := EventAttr(t)
		size := attrSize(typ) // the size a known attribute must have
		if size == 0 {
			ev.Unknown = append(ev.Unknown, RawAttr{Type: t, Data: append([]byte(nil), data...)})
			continue
		}
		if len(data) != size {
			return ev, fmt.Errorf("%s: attribute %d: %d bytes, want %d", ev.Type, typ, len(data), size)
		}
		ev.decodeAttr(typ, data, &a)
		ev.set(typ)
	}
	ev.Local = netip.AddrPortFrom(a.saddr, a.sport)
	ev.Remote = netip.AddrPortFrom(a.daddr, a.dport)
	return ev, nil
}

// eventAddrs are the parts of an event's addresses, set attribute by
// attribute.
type eventAddrs struct {
	saddr, daddr netip.Addr
	sport, dport uint16
}

// nextAttr splits the first attribute off b: its type (flags left out),
// its data and what follows it.
func nextAttr(et EventType, b []byte) (t uint16, data, rest []byte, err error) {
	if len(b) < 4 {
		return 0, nil, nil, fmt.Errorf("%s: %d bytes left, too few for an attribute header", et, len(b))
	}
	l, t := int(binary.NativeEndian.Uint16(b)), binary.NativeEndian.Uint16(b[2:])&attrTypeMask
	if l < 4 || l > len(b) {
		return 0, nil, nil, fmt.Errorf("%s: attribute %d: length %d with %d bytes left", et, t, l, len(b))
	}
	return t, b[4:l], b[min((l+3)&^3, len(b)):], nil
}

// attrSize is the size a known attribute must have; 0 for an unknown one.
func attrSize(typ EventAttr) int {
	switch typ {
	case AttrToken, AttrTimeout, AttrIfIdx, AttrResetReason, AttrResetFlags:
		return 4
	case AttrFamily, AttrSport, AttrDport, AttrFlags:
		return 2
	case AttrLocID, AttrRemID, AttrBackup, AttrError, AttrServerSide:
		return 1
	case AttrSaddr4, AttrDaddr4:
		return 4
	case AttrSaddr6, AttrDaddr6:
		return 16
	}
	return 0
}

// decodeAttr sets the field of ev (or of a) that known attribute typ
// carries; data has the size attrSize says.
func (ev *Event) decodeAttr(typ EventAttr, data []byte, a *eventAddrs) {
	switch typ {
	case AttrToken:
		ev.Token = binary.NativeEndian.Uint32(data)
	case AttrFamily:
		ev.Family = binary.NativeEndian.Uint16(data)
	case AttrLocID:
		ev.LocID = data[0]
	case AttrRemID:
		ev.RemID = data[0]
	case AttrSaddr4:
		a.saddr = netip.AddrFrom4([4]byte(data))
	case AttrDaddr4:
		a.daddr = netip.AddrFrom4([4]byte(data))
	case AttrSaddr6:
		a.saddr = netip.AddrFrom16([16]byte(data))
	case AttrDaddr6:
		a.daddr = netip.AddrFrom16([16]byte(data))
	case AttrSport:
		// Ports in events are big-endian, unlike the PM address port.
		a.sport = binary.BigEndian.Uint16(data)
	case AttrDport:
		a.dport = binary.BigEndian.Uint16(data)
	case AttrBackup:
		ev.Backup = data[0] != 0
	case AttrError:
		ev.Error = data[0]
	case AttrFlags:
		ev.Flags = binary.NativeEndian.Uint16(data)
	case AttrTimeout:
		ev.Timeout = binary.NativeEndian.Uint32(data)
	case AttrIfIdx:
		ev.IfIndex = int32(binary.NativeEndian.Uint32(data))
	case AttrResetReason:
		ev.ResetReason = binary.NativeEndian.Uint32(data)
	case AttrResetFlags:
		ev.ResetFlags = binary.NativeEndian.Uint32(data)
	case AttrServerSide:
		ev.serverSide = data[0] != 0
	}
}

// attrTypeMask leaves out an attribute type's NLA_F_NESTED and
// NLA_F_NET_BYTEORDER flags.
const attrTypeMask = 0x3fff
