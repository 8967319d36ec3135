//go:build linux

package genl

import (
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// Event attribute numbers on the wire (enum mptcp_event_attr).
const (
	eToken, eFamily, eLocID, eRemID, eSaddr4, eSaddr6, eDaddr4, eDaddr6, eSport, eDport = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	eBackup, eError, eFlags, eTimeout, eIfIdx, eResetReason, eResetFlags, eServerSide   = 11, 12, 13, 14, 15, 16, 17, 18
)

const tok = 0x1f933907

var (
	ip10911 = []byte{10, 9, 1, 1}
	ip10912 = []byte{10, 9, 1, 2}
	ip6a    = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}
	ip6b    = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}
	mapped  = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 2, 2}
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// eventTests are events as Linux 6.18 (and older kernels, where noted)
// emits them; the fuzzers use them as seeds.
var eventTests = []struct {
	name   string
	cmd    uint8
	attrs  []netlink.Attribute
	want   Event // exported fields
	server bool  // ServerSide()
}{
	{
		name: "created server 6.18",
		cmd:  1,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u8(eServerSide, 1), u16(eFlags, 0x2), u16(eFamily, afInet),
			raw(eSaddr4, ip10911...), raw(eDaddr4, ip10912...), be16(eSport, 50010), be16(eDport, 36192),
			u8(eLocID, 0), u8(eRemID, 0),
		},
		want: Event{Type: EventCreated, Token: tok, Family: afInet, Flags: 0x2,
			Local: ap("10.9.1.1:50010"), Remote: ap("10.9.1.2:36192")},
		server: true,
	},
	{
		name: "created client 6.18",
		cmd:  1,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u16(eFamily, afInet), raw(eSaddr4, ip10912...), raw(eDaddr4, ip10911...),
			be16(eSport, 36192), be16(eDport, 50010), u8(eLocID, 0), u8(eRemID, 0),
		},
		want: Event{Type: EventCreated, Token: tok, Family: afInet,
			Local: ap("10.9.1.2:36192"), Remote: ap("10.9.1.1:50010")},
	},
	{
		name:   "created server 6.12: server_side attribute only",
		cmd:    1,
		attrs:  []netlink.Attribute{u32(eToken, tok), u8(eServerSide, 1)},
		want:   Event{Type: EventCreated, Token: tok},
		server: true,
	},
	{
		name: "established v6 client, deny join id0, server_side 0",
		cmd:  2,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u16(eFamily, afInet6), raw(eSaddr6, ip6a...), raw(eDaddr6, ip6b...),
			be16(eSport, 1), be16(eDport, 443), u8(eLocID, 0), u8(eRemID, 0), u8(eServerSide, 0), u16(eFlags, 0x1),
		},
		want: Event{Type: EventEstablished, Token: tok, Family: afInet6, Flags: EventFlagDenyJoinID0,
			Local: ap("[2001:db8::1]:1"), Remote: ap("[2001:db8::2]:443")},
	},
	{
		name:  "closed",
		cmd:   3,
		attrs: []netlink.Attribute{u32(eToken, tok)},
		want:  Event{Type: EventClosed, Token: tok},
	},
	{
		name:  "announced v4 without family",
		cmd:   6,
		attrs: []netlink.Attribute{u32(eToken, tok), u8(eRemID, 5), be16(eDport, 50010), raw(eDaddr4, 10, 9, 2, 1)},
		want:  Event{Type: EventAnnounced, Token: tok, RemID: 5, Remote: ap("10.9.2.1:50010")},
	},
	{
		name:  "announced v6 with timeout",
		cmd:   6,
		attrs: []netlink.Attribute{u32(eToken, tok), u8(eRemID, 6), be16(eDport, 8080), raw(eDaddr6, ip6b...), u32(eTimeout, 120)},
		want:  Event{Type: EventAnnounced, Token: tok, RemID: 6, Remote: ap("[2001:db8::2]:8080"), Timeout: 120},
	},
	{
		name:  "removed",
		cmd:   7,
		attrs: []netlink.Attribute{u32(eToken, tok), u8(eRemID, 5)},
		want:  Event{Type: EventRemoved, Token: tok, RemID: 5},
	},
	{
		name: "subflow established bound to a device",
		cmd:  10,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u16(eFamily, afInet), u8(eLocID, 7), u8(eRemID, 5), raw(eSaddr4, 10, 9, 2, 2),
			raw(eDaddr4, 10, 9, 2, 1), be16(eSport, 47649), be16(eDport, 50010), u8(eBackup, 0), s32(eIfIdx, 3),
		},
		want: Event{Type: EventSubEstablished, Token: tok, Family: afInet, LocID: 7, RemID: 5,
			Local: ap("10.9.2.2:47649"), Remote: ap("10.9.2.1:50010"), IfIndex: 3},
	},
	{
		name: "subflow closed with error and reset",
		cmd:  11,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u16(eFamily, afInet6), u8(eLocID, 1), u8(eRemID, 0), raw(eSaddr6, mapped...),
			raw(eDaddr6, ip6a...), be16(eSport, 0x1234), be16(eDport, 0xabcd), u8(eBackup, 1), u8(eError, 111),
			u32(eResetReason, 1), u32(eResetFlags, 1),
		},
		want: Event{Type: EventSubClosed, Token: tok, Family: afInet6, LocID: 1,
			Local: ap("[::ffff:10.9.2.2]:4660"), Remote: ap("[2001:db8::1]:43981"), Backup: true, Error: 111,
			ResetReason: 1, ResetFlags: 1},
	},
	{
		name: "subflow priority",
		cmd:  13,
		attrs: []netlink.Attribute{
			u32(eToken, tok), u16(eFamily, afInet), u8(eLocID, 0), u8(eRemID, 7), raw(eSaddr4, ip10911...),
			raw(eDaddr4, ip10912...), be16(eSport, 50010), be16(eDport, 47649), u8(eBackup, 1), s32(eIfIdx, -1),
		},
		want: Event{Type: EventSubPriority, Token: tok, Family: afInet, RemID: 7,
			Local: ap("10.9.1.1:50010"), Remote: ap("10.9.1.2:47649"), Backup: true, IfIndex: -1},
	},
	{
		name:  "listener created",
		cmd:   15,
		attrs: []netlink.Attribute{u16(eFamily, afInet), be16(eSport, 50010), raw(eSaddr4, 0, 0, 0, 0)},
		want:  Event{Type: EventListenerCreated, Family: afInet, Local: ap("0.0.0.0:50010")},
	},
	{
		name:  "listener closed v6",
		cmd:   16,
		attrs: []netlink.Attribute{u16(eFamily, afInet6), be16(eSport, 50010), raw(eSaddr6, make([]byte, 16)...)},
		want:  Event{Type: EventListenerClosed, Family: afInet6, Local: ap("[::]:50010")},
	},
	{
		name:  "unknown attribute kept",
		cmd:   3,
		attrs: []netlink.Attribute{u32(eToken, tok), raw(99, 1, 2, 3), raw(0, 7)},
		want:  Event{Type: EventClosed, Token: tok, Unknown: []RawAttr{{Type: 99, Data: []byte{1, 2, 3}}, {Type: 0, Data: []byte{7}}}},
	},
	{
		name:  "unknown event type",
		cmd:   42,
		attrs: []netlink.Attribute{u32(eToken, tok), u8(eRemID, 1)},
		want:  Event{Type: 42, Token: tok, RemID: 1},
	},
	{
		name: "no attributes",
		cmd:  3,
		want: Event{Type: EventClosed},
	},
}

func eventMessage(cmd uint8, attrs []netlink.Attribute) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: marshal(attrs...)}
}

func TestParseEvent(t *testing.T) {
	for _, tt := range eventTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEvent(eventMessage(tt.cmd, tt.attrs))
			if err != nil {
				t.Fatalf("parseEvent: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts, cmpopts.IgnoreUnexported(Event{})); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			if got.ServerSide() != tt.server {
				t.Errorf("ServerSide() = %v, want %v", got.ServerSide(), tt.server)
			}
			// Has reports exactly the known attributes that were sent.
			for a := EventAttr(0); a <= attrMax+2; a++ {
				want := a >= AttrToken && a <= attrMax &&
					slices.ContainsFunc(tt.attrs, func(at netlink.Attribute) bool { return at.Type == uint16(a) })
				if got.Has(a) != want {
					t.Errorf("Has(%d) = %v, want %v", a, got.Has(a), want)
				}
			}
		})
	}
}

func TestEventType(t *testing.T) {
	for _, tt := range []struct {
		typ   EventType
		name  string
		known bool
	}{
		{EventCreated, "CREATED", true},
		{EventSubEstablished, "SF_ESTABLISHED", true},
		{EventSubPriority, "SF_PRIO", true},
		{EventListenerClosed, "LISTENER_CLOSED", true},
		{0, "UNKNOWN(0)", false},
		{4, "UNKNOWN(4)", false},
		{42, "UNKNOWN(42)", false},
	} {
		if got := tt.typ.String(); got != tt.name {
			t.Errorf("EventType(%d).String() = %q, want %q", uint8(tt.typ), got, tt.name)
		}
		if got := tt.typ.Known(); got != tt.known {
			t.Errorf("EventType(%d).Known() = %v, want %v", uint8(tt.typ), got, tt.known)
		}
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		cmd   uint8
		attrs []netlink.Attribute
		want  string
	}{
		{
			cmd: 1,
			attrs: []netlink.Attribute{
				u32(eToken, tok), u8(eServerSide, 1), u16(eFlags, 0x2), u16(eFamily, afInet),
				raw(eSaddr4, ip10911...), raw(eDaddr4, ip10912...), be16(eSport, 50010), be16(eDport, 36192),
				u8(eLocID, 0), u8(eRemID, 0),
			},
			want: "[         CREATED] token=1f933907 remid=0 locid=0 saddr4=10.9.1.1 daddr4=10.9.1.2 sport=50010 dport=36192 flags=2",
		},
		{
			cmd: 10,
			attrs: []netlink.Attribute{
				u32(eToken, tok), u16(eFamily, afInet6), u8(eLocID, 7), u8(eRemID, 5), raw(eSaddr6, ip6a...),
				raw(eDaddr6, ip6b...), be16(eSport, 47649), be16(eDport, 50010), u8(eBackup, 0), s32(eIfIdx, 3),
			},
			want: "[  SF_ESTABLISHED] token=1f933907 remid=5 locid=7 saddr6=2001:db8::1 daddr6=2001:db8::2 sport=47649 dport=50010 backup=0 ifindex=3",
		},
		{
			cmd: 11,
			attrs: []netlink.Attribute{
				u32(eToken, tok), u8(eError, 111), u32(eResetReason, 1), u32(eResetFlags, 1), u32(eTimeout, 5),
			},
			want: "[       SF_CLOSED] token=1f933907 error=111 timeout=5 reset_reason=1 reset_flags=0x1",
		},
		{cmd: 42, want: "[UNKNOWN 42]"},
	}
	for _, tt := range tests {
		ev, err := parseEvent(eventMessage(tt.cmd, tt.attrs))
		if err != nil {
			t.Fatalf("parseEvent: %v", err)
		}
		if got := ev.String(); got != tt.want {
			t.Errorf("String() =\n%q, want\n%q", got, tt.want)
		}
	}
}

func TestParseEventMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"saddr4 of 3 bytes", marshal(raw(eSaddr4, 10, 9, 1))},
		{"daddr4 of 16 bytes", marshal(raw(eDaddr4, ip6a...))},
		{"saddr6 of 4 bytes", marshal(raw(eSaddr6, ip10911...))},
		{"daddr6 of 15 bytes", marshal(raw(eDaddr6, ip6a[:15]...))},
		{"sport of 1 byte", marshal(raw(eSport, 1))},
		{"dport of 4 bytes", marshal(u32(eDport, 1))},
		{"token of 2 bytes", marshal(u32(eToken, tok), raw(eToken, 1, 2))},
		{"family of 1 byte", marshal(u8(eFamily, afInet))},
		{"backup of 2 bytes", marshal(u16(eBackup, 1))},
		{"flags of 4 bytes", marshal(u32(eFlags, 2))},
		{"if_idx of 2 bytes", marshal(u16(eIfIdx, 2))},
		{"server_side of 4 bytes", marshal(u32(eServerSide, 1))},
		{"truncated attribute", []byte{8, 0, eToken, 0, 1, 2}},
		{"attribute length below header", []byte{2, 0, eToken, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseEvent(genetlink.Message{Header: genetlink.Header{Command: 10}, Data: tt.data})
			if err == nil {
				t.Fatalf("parseEvent = %v, want an error", &ev)
			}
			if !strings.HasPrefix(err.Error(), "SF_ESTABLISHED: ") {
				t.Errorf("error %q does not name the event", err)
			}
		})
	}
}

// joinSocket is a netlink.Socket serving a genltest.Func, like the one
// genltest.Dial builds, that also supports JoinGroup (nltest's socket
// answers it with "not supported").
type joinSocket struct {
	fn      genltest.Func
	joinErr error
	joined  []uint32
	replies []netlink.Message
}

func (s *joinSocket) Send(m netlink.Message) error {
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(m.Data); err != nil {
		return err
	}
	gmsgs, err := s.fn(gm, m)
	if err != nil {
		return err
	}
	s.replies = nil
	for _, g := range gmsgs {
		b, err := g.MarshalBinary()
		if err != nil {
			return err
		}
		s.replies = append(s.replies, netlink.Message{Header: netlink.Header{Sequence: m.Header.Sequence, PID: m.Header.PID}, Data: b})
	}
	return nil
}

func (s *joinSocket) Receive() ([]netlink.Message, error) {
	msgs := s.replies
	s.replies = nil
	return msgs, nil
}

func (s *joinSocket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	msgs, _ := s.Receive()
	return func(yield func(netlink.Message, error) bool) {
		for _, m := range msgs {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func (s *joinSocket) SendMessages([]netlink.Message) error { return errors.ErrUnsupported }
func (s *joinSocket) Close() error                         { return nil }
func (s *joinSocket) LeaveGroup(uint32) error              { return nil }
func (s *joinSocket) JoinGroup(g uint32) error {
	if s.joinErr != nil {
		return s.joinErr
	}
	s.joined = append(s.joined, g)
	return nil
}

func TestInitEvents(t *testing.T) {
	noCommands := func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
		t.Errorf("unexpected command %d", greq.Header.Command)
		return nil, io.EOF
	}
	cmdsOnly := testFamily
	cmdsOnly.Groups = testFamily.Groups[:1]

	t.Run("joins the events group", func(t *testing.T) {
		s := &joinSocket{fn: genltest.ServeFamily(testFamily, noCommands)}
		e, err := initEvents(genetlink.NewConn(netlink.NewConn(s, nltest.PID)))
		if err != nil {
			t.Fatalf("initEvents: %v", err)
		}
		defer e.Close()
		if diff := cmp.Diff([]uint32{9}, s.joined); diff != "" {
			t.Errorf("groups joined (-want +got):\n%s", diff)
		}
		if e.familyID != testFamily.ID {
			t.Errorf("familyID = %#x, want %#x", e.familyID, testFamily.ID)
		}
	})
	t.Run("join refused", func(t *testing.T) {
		s := &joinSocket{fn: genltest.ServeFamily(testFamily, noCommands), joinErr: unix.EPERM}
		_, err := initEvents(genetlink.NewConn(netlink.NewConn(s, nltest.PID)))
		if !errors.Is(err, unix.EPERM) || errors.Is(err, ErrNotEnabled) {
			t.Errorf("err = %v, want EPERM and not ErrNotEnabled", err)
		}
	})
	t.Run("genltest cannot join", func(t *testing.T) {
		_, err := initEvents(genltest.Dial(genltest.ServeFamily(testFamily, noCommands)))
		if err == nil || !strings.Contains(err.Error(), "join group mptcp_pm_events") {
			t.Errorf("err = %v, want the join error", err)
		}
	})
	t.Run("no events group", func(t *testing.T) {
		s := &joinSocket{fn: genltest.ServeFamily(cmdsOnly, noCommands)}
		_, err := initEvents(genetlink.NewConn(netlink.NewConn(s, nltest.PID)))
		if !errors.Is(err, ErrNotEnabled) || !errors.Is(err, os.ErrNotExist) || len(s.joined) != 0 {
			t.Errorf("err = %v (joined %v), want ErrNotEnabled and no join", err, s.joined)
		}
	})
	t.Run("no family", func(t *testing.T) {
		_, err := initEvents(genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
			return nil, genltest.Error(int(unix.ENOENT))
		}))
		if !errors.Is(err, ErrNotEnabled) {
			t.Errorf("err = %v, want ErrNotEnabled", err)
		}
	})
}

// testEvents returns an Events socket whose kernel delivers batches, one per
// Receive, through nltest's empty-request (multicast) path. genltest cannot
// be used: its messages all carry netlink header type 0, not the family ID.
func testEvents(t *testing.T, batches ...func() ([]netlink.Message, error)) *Events {
	conn := genetlink.NewConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		if len(reqs) != 0 {
			t.Errorf("unexpected request %+v", reqs)
		}
		if len(batches) == 0 {
			return nil, io.EOF
		}
		b := batches[0]
		batches = batches[1:]
		return b()
	}))
	e := &Events{c: conn, familyID: testFamily.ID}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func multicast(typ uint16, cmd uint8, attrs ...netlink.Attribute) netlink.Message {
	b, err := eventMessage(cmd, attrs).MarshalBinary()
	if err != nil {
		panic(err)
	}
	return netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ)}, Data: b}
}

func TestEventsReceive(t *testing.T) {
	e := testEvents(t,
		func() ([]netlink.Message, error) {
			return []netlink.Message{
				multicast(testFamily.ID, 1, u32(eToken, 1)),
				multicast(0x1d, 1, u32(eToken, 2)), // another family's multicast
				multicast(testFamily.ID, 3, u32(eToken, 3)),
			}, nil
		},
		func() ([]netlink.Message, error) { return nil, os.NewSyscallError("recvmsg", unix.ENOBUFS) },
		func() ([]netlink.Message, error) {
			return []netlink.Message{
				multicast(testFamily.ID, 10, raw(eSport, 1)),
				multicast(testFamily.ID, 7, u32(eToken, 4), u8(eRemID, 5)),
			}, nil
		},
		func() ([]netlink.Message, error) { return nil, os.NewSyscallError("recvmsg", unix.EBADF) },
	)

	evs, err := e.Receive()
	if err != nil {
		t.Fatalf("Receive 1: %v", err)
	}
	want := []Event{{Type: EventCreated, Token: 1}, {Type: EventClosed, Token: 3}}
	if diff := cmp.Diff(want, evs, cmpOpts, cmpopts.IgnoreUnexported(Event{})); diff != "" {
		t.Errorf("Receive 1 (-want +got):\n%s", diff)
	}

	_, err = e.Receive()
	if !errors.Is(err, ErrOverflow) || !errors.Is(err, unix.ENOBUFS) {
		t.Errorf("Receive 2: err = %v, want ErrOverflow and ENOBUFS", err)
	}

	evs, err = e.Receive()
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "SF_ESTABLISHED") {
		t.Errorf("Receive 3: err = %v, want a *DecodeError naming SF_ESTABLISHED", err)
	}
	want = []Event{{Type: EventRemoved, Token: 4, RemID: 5}}
	if diff := cmp.Diff(want, evs, cmpOpts, cmpopts.IgnoreUnexported(Event{})); diff != "" {
		t.Errorf("Receive 3 (-want +got):\n%s", diff)
	}

	_, err = e.Receive()
	if !errors.Is(err, unix.EBADF) || errors.Is(err, ErrOverflow) {
		t.Errorf("Receive 4: err = %v, want EBADF and not ErrOverflow", err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, tt := range eventTests {
		f.Add(tt.cmd, marshal(tt.attrs...))
	}
	f.Add(uint8(1), []byte{})
	f.Add(uint8(10), []byte{8, 0, eToken, 0, 1, 2})
	f.Add(uint8(11), []byte{4, 0, 0x80 | eSaddr4, 0x80, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(255), []byte{0xff, 0xff, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef})
	f.Fuzz(func(t *testing.T, cmd uint8, data []byte) {
		ev, err := parseEvent(genetlink.Message{Header: genetlink.Header{Command: cmd}, Data: data})
		if err != nil {
			return
		}
		_ = ev.String()
		if ev.Type != EventType(cmd) {
			t.Errorf("Type = %d, want %d", ev.Type, cmd)
		}
	})
}

func FuzzParseEndpoints(f *testing.F) {
	for _, tt := range eventTests {
		f.Add(marshal(tt.attrs...))
	}
	f.Add(marshal(nest(wAddr, u16(wFamily, afInet6), u8(wID, 9), raw(wAddr6, v6a...), u16(wPort, 1), u32(wFlags, 1), s32(wIfIdx, 2))))
	f.Add(marshal(nest(wAddr, u8(wID, 1), raw(wAddr4, v4a...)), nest(wAddr, raw(wAddr4, 1, 2, 3))))
	f.Add([]byte{8, 0, wAddr, 0x80, 4, 0, wID})
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := []genetlink.Message{{Header: genetlink.Header{Command: cmdGetAddr}, Data: data}}
		eps, err := parseEndpoints(msgs)
		if err != nil {
			return
		}
		for _, ep := range eps {
			_ = ep.Flags.String()
			_ = ep.Addr.String()
		}
	})
}

func TestEventMarshalJSON(t *testing.T) {
	tests := []struct {
		cmd   uint8
		attrs []netlink.Attribute
		want  string
	}{
		{
			cmd: 1,
			attrs: []netlink.Attribute{
				u32(eToken, tok), u8(eServerSide, 1), u16(eFlags, 0x2), u16(eFamily, afInet),
				raw(eSaddr4, ip10911...), raw(eDaddr4, ip10912...), be16(eSport, 50010), be16(eDport, 36192),
				u8(eLocID, 0), u8(eRemID, 0),
			},
			want: `{"type":"CREATED","token":"1f933907","family":2,"remid":0,"locid":0,"saddr4":"10.9.1.1","daddr4":"10.9.1.2","sport":50010,"dport":36192,"flags":2,"server_side":true}`,
		},
		{
			cmd:   42,
			attrs: []netlink.Attribute{raw(eSaddr6, ip6a...), u8(eBackup, 0), raw(99, 0xca, 0xfe)},
			want:  `{"type":"UNKNOWN(42)","saddr6":"2001:db8::1","backup":false,"unknown":[{"type":99,"data":"cafe"}]}`,
		},
	}
	for _, tt := range tests {
		ev, err := parseEvent(eventMessage(tt.cmd, tt.attrs))
		if err != nil {
			t.Fatalf("parseEvent: %v", err)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		if string(b) != tt.want {
			t.Errorf("JSON =\n%s, want\n%s", b, tt.want)
		}
	}
}
