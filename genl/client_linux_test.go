//go:build linux

package genl

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
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

// testFamily is mptcp_pm as the 6.18 test VM resolves it.
var testFamily = genetlink.Family{
	ID:      0x1c,
	Version: 1,
	Name:    "mptcp_pm",
	Groups: []genetlink.MulticastGroup{
		{ID: 8, Name: "mptcp_pm_cmds"},
		{ID: 9, Name: "mptcp_pm_events"},
	},
}

// Header flags the kernel expects for each kind of command.
const (
	flagsSet  = netlink.Request | netlink.Acknowledge
	flagsGet  = netlink.Request
	flagsDump = netlink.Request | netlink.Dump
)

// cmpOpts compares the netip types, which have no Equal method.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

// testClient returns a Client whose kernel is fn, behind a fake nlctrl
// that resolves testFamily.
func testClient(t *testing.T, fn genltest.Func) *Client {
	t.Helper()
	c, err := initClient(genltest.Dial(genltest.ServeFamily(testFamily, fn)))
	if err != nil {
		t.Fatalf("initClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Attribute builders, written against the wire format in the reference
// (not the package's encoder): integers in native order unless noted.
func u8(typ uint16, v uint8) netlink.Attribute { return netlink.Attribute{Type: typ, Data: []byte{v}} }
func u16(typ uint16, v uint16) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint16(nil, v)}
}
func be16(typ uint16, v uint16) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.BigEndian.AppendUint16(nil, v)}
}
func u32(typ uint16, v uint32) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint32(nil, v)}
}
func s32(typ uint16, v int32) netlink.Attribute { return u32(typ, uint32(v)) }
func raw(typ uint16, b ...byte) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: b}
}
func nest(typ uint16, attrs ...netlink.Attribute) netlink.Attribute {
	return netlink.Attribute{Type: netlink.Nested | typ, Data: marshal(attrs...)}
}

func marshal(attrs ...netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return b
}

// Wire values of the uapi (mptcp_pm.h), spelled out independently of
// uapi_linux.go.
const (
	wFamily, wID, wAddr4, wAddr6, wPort, wFlags, wIfIdx     = 1, 2, 3, 4, 5, 6, 7
	wAddr, wRcvAddAddrs, wSubflows, wToken, wLocID, wRemote = 1, 2, 3, 4, 5, 6
	afInet, afInet6                                         = 2, 10
)

var (
	v4a = []byte{10, 0, 1, 2}
	v4b = []byte{192, 0, 2, 7}
	v6a = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}
)

func reply(cmd uint8, attrs ...netlink.Attribute) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: marshal(attrs...)}
}

func TestUAPINumbers(t *testing.T) {
	got := []int{
		cmdAddAddr, cmdDelAddr, cmdGetAddr, cmdFlushAddrs, cmdSetLimits, cmdGetLimits,
		cmdSetFlags, cmdAnnounce, cmdRemove, cmdSubflowCreate, cmdSubflowDestroy,
		attrAddr, attrRcvAddAddrs, attrSubflows, attrToken, attrLocID, attrAddrRemote,
		addrAttrFamily, addrAttrID, addrAttrAddr4, addrAttrAddr6, addrAttrPort, addrAttrFlags, addrAttrIfIdx,
		familyVersion,
	}
	want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 7, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uapi numbers (-want +got):\n%s", diff)
	}
}

func TestClientRequests(t *testing.T) {
	u := func(v uint32) *uint32 { return &v }
	local := netip.MustParseAddrPort("10.0.1.2:50010")
	remote := netip.MustParseAddrPort("192.0.2.7:443")
	const token = 0x1f933907
	oneEndpoint := []genetlink.Message{reply(cmdGetAddr, nest(wAddr, u8(wID, 3)))}

	tests := []struct {
		name  string
		cmd   uint8
		flags netlink.HeaderFlags
		call  func(c *Client) error
		want  []netlink.Attribute
		reply []genetlink.Message
	}{
		{
			name: "add endpoint v4", cmd: cmdAddAddr, flags: flagsSet,
			call: func(c *Client) error {
				return c.AddEndpoint(Endpoint{Addr: local.Addr(), Flags: FlagSubflow | FlagBackup, IfIndex: 4})
			},
			want: []netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u32(wFlags, 0x6), s32(wIfIdx, 4))},
		},
		{
			name: "add endpoint v6 id port", cmd: cmdAddAddr, flags: flagsSet,
			call: func(c *Client) error {
				return c.AddEndpoint(Endpoint{ID: 7, Addr: netip.MustParseAddr("2001:db8::1"), Port: 50010, Flags: FlagSignal})
			},
			want: []netlink.Attribute{nest(wAddr, u16(wFamily, afInet6), raw(wAddr6, v6a...), u8(wID, 7), u16(wPort, 50010), u32(wFlags, 1))},
		},
		{
			name: "delete endpoint", cmd: cmdDelAddr, flags: flagsSet,
			call: func(c *Client) error { return c.DeleteEndpoint(5, netip.Addr{}) },
			want: []netlink.Attribute{nest(wAddr, u8(wID, 5))},
		},
		{
			name: "delete endpoint id 0 with address", cmd: cmdDelAddr, flags: flagsSet,
			call: func(c *Client) error { return c.DeleteEndpoint(0, local.Addr()) },
			want: []netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u8(wID, 0))},
		},
		{
			name: "get endpoint", cmd: cmdGetAddr, flags: flagsGet,
			call: func(c *Client) error { _, err := c.Endpoint(3); return err },
			want: []netlink.Attribute{nest(wAddr, u8(wID, 3))}, reply: oneEndpoint,
		},
		{
			name: "dump endpoints", cmd: cmdGetAddr, flags: flagsDump,
			call: func(c *Client) error { _, err := c.Endpoints(); return err },
		},
		{
			name: "flush endpoints", cmd: cmdFlushAddrs, flags: flagsSet,
			call: func(c *Client) error { return c.FlushEndpoints() },
		},
		{
			name: "get limits", cmd: cmdGetLimits, flags: flagsGet,
			call:  func(c *Client) error { _, err := c.Limits(); return err },
			reply: []genetlink.Message{reply(cmdGetLimits, u32(wRcvAddAddrs, 0), u32(wSubflows, 2))},
		},
		{
			name: "set limits both", cmd: cmdSetLimits, flags: flagsSet,
			call: func(c *Client) error { return c.SetLimits(LimitsUpdate{Subflows: u(4), AddAddrAccepted: u(0)}) },
			want: []netlink.Attribute{u32(wRcvAddAddrs, 0), u32(wSubflows, 4)},
		},
		{
			name: "set limits subflows only", cmd: cmdSetLimits, flags: flagsSet,
			call: func(c *Client) error { return c.SetLimits(LimitsUpdate{Subflows: u(8)}) },
			want: []netlink.Attribute{u32(wSubflows, 8)},
		},
		{
			name: "announce forces signal", cmd: cmdAnnounce, flags: flagsSet,
			call: func(c *Client) error {
				return c.Announce(token, Endpoint{ID: 5, Addr: local.Addr(), Port: 50010, Flags: FlagBackup, IfIndex: 3})
			},
			want: []netlink.Attribute{
				u32(wToken, token),
				nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u8(wID, 5), u16(wPort, 50010), u32(wFlags, 0x5), s32(wIfIdx, 3)),
			},
		},
		{
			name: "remove", cmd: cmdRemove, flags: flagsSet,
			call: func(c *Client) error { return c.Remove(token, 0) },
			want: []netlink.Attribute{u32(wToken, token), u8(wLocID, 0)},
		},
		{
			name: "create subflow", cmd: cmdSubflowCreate, flags: flagsSet,
			call: func(c *Client) error {
				return c.CreateSubflow(token, Endpoint{Addr: local.Addr(), Flags: FlagBackup, IfIndex: 2}, remote)
			},
			want: []netlink.Attribute{
				u32(wToken, token),
				nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u8(wID, 0), u32(wFlags, 0x4), s32(wIfIdx, 2)),
				nest(wRemote, u16(wFamily, afInet), raw(wAddr4, v4b...), u16(wPort, 443)),
			},
		},
		{
			name: "destroy subflow", cmd: cmdSubflowDestroy, flags: flagsSet,
			call: func(c *Client) error { return c.DestroySubflow(token, local, remote) },
			want: []netlink.Attribute{
				u32(wToken, token),
				nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u16(wPort, 50010)),
				nest(wRemote, u16(wFamily, afInet), raw(wAddr4, v4b...), u16(wPort, 443)),
			},
		},
		{
			name: "set flags backup", cmd: cmdSetFlags, flags: flagsSet,
			call: func(c *Client) error { return c.SetFlags(token, local, remote, true) },
			want: []netlink.Attribute{
				u32(wToken, token),
				nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u16(wPort, 50010), u32(wFlags, 0x4)),
				nest(wRemote, u16(wFamily, afInet), raw(wAddr4, v4b...), u16(wPort, 443)),
			},
		},
		{
			// No FLAGS attribute: the kernel reads its absence as 0.
			name: "set flags nobackup", cmd: cmdSetFlags, flags: flagsSet,
			call: func(c *Client) error { return c.SetFlags(token, local, remote, false) },
			want: []netlink.Attribute{
				u32(wToken, token),
				nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u16(wPort, 50010)),
				nest(wRemote, u16(wFamily, afInet), raw(wAddr4, v4b...), u16(wPort, 443)),
			},
		},
		{
			name: "dump addresses", cmd: cmdGetAddr, flags: flagsDump,
			call: func(c *Client) error { _, err := c.Addresses(token); return err },
			want: []netlink.Attribute{u32(wToken, token)},
		},
		{
			name: "get address", cmd: cmdGetAddr, flags: flagsGet,
			call: func(c *Client) error { _, err := c.Address(token, 3); return err },
			want: []netlink.Attribute{u32(wToken, token), nest(wAddr, u8(wID, 3))}, reply: oneEndpoint,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			c := testClient(t, genltest.CheckRequest(testFamily.ID, tt.cmd, tt.flags,
				func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
					calls++
					if greq.Header.Version != 1 {
						t.Errorf("genl version = %d, want 1", greq.Header.Version)
					}
					var want []byte
					if tt.want != nil {
						want = marshal(tt.want...)
					}
					if diff := cmp.Diff(want, greq.Data, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("attributes (-want +got):\n%s", diff)
					}
					if tt.reply == nil {
						return nil, io.EOF
					}
					return tt.reply, nil
				}))
			if err := tt.call(c); err != nil {
				t.Fatalf("call: %v", err)
			}
			if calls != 1 {
				t.Errorf("kernel saw %d requests, want 1", calls)
			}
		})
	}
}

func TestClientChangeEndpoint(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name      string
		cur       uint32 // flags the kernel reports
		change    EndpointChange
		wantFlags []netlink.Attribute // FLAGS sent, nil when absent
	}{
		{"clear backup keeps fullmesh", 0xc, EndpointChange{Backup: &no}, []netlink.Attribute{u32(wFlags, 0x8)}},
		{"set backup keeps signal", 0x1, EndpointChange{Backup: &yes}, []netlink.Attribute{u32(wFlags, 0x5)}},
		{"clear fullmesh keeps subflow backup", 0xe, EndpointChange{Fullmesh: &no}, []netlink.Attribute{u32(wFlags, 0x6)}},
		{"both", 0x2, EndpointChange{Backup: &yes, Fullmesh: &yes}, []netlink.Attribute{u32(wFlags, 0xe)}},
		{"nothing to change", 0x6, EndpointChange{}, []netlink.Attribute{u32(wFlags, 0x6)}},
		{"clear last flag", 0x4, EndpointChange{Backup: &no}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cmds []uint8
			get := genltest.CheckRequest(testFamily.ID, cmdGetAddr, flagsGet,
				func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
					if diff := cmp.Diff(marshal(nest(wAddr, u8(wID, 2))), greq.Data); diff != "" {
						t.Errorf("get attributes (-want +got):\n%s", diff)
					}
					return []genetlink.Message{reply(cmdGetAddr,
						nest(wAddr, u16(wFamily, afInet), u8(wID, 2), raw(wAddr4, v4a...), u32(wFlags, tt.cur)))}, nil
				})
			set := genltest.CheckRequest(testFamily.ID, cmdSetFlags, flagsSet,
				func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
					want := marshal(nest(wAddr, append([]netlink.Attribute{u8(wID, 2)}, tt.wantFlags...)...))
					if diff := cmp.Diff(want, greq.Data); diff != "" {
						t.Errorf("set attributes (-want +got):\n%s", diff)
					}
					return nil, io.EOF
				})
			c := testClient(t, func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				cmds = append(cmds, greq.Header.Command)
				if greq.Header.Command == cmdGetAddr {
					return get(greq, nreq)
				}
				return set(greq, nreq)
			})
			if err := c.ChangeEndpoint(2, tt.change); err != nil {
				t.Fatalf("ChangeEndpoint: %v", err)
			}
			if diff := cmp.Diff([]uint8{cmdGetAddr, cmdSetFlags}, cmds); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("set fails", func(t *testing.T) {
		c := testClient(t, func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
			if greq.Header.Command == cmdGetAddr {
				return []genetlink.Message{reply(cmdGetAddr, nest(wAddr, u8(wID, 2), u32(wFlags, 1)))}, nil
			}
			return nil, genltest.Error(int(unix.EINVAL))
		})
		err := c.ChangeEndpoint(2, EndpointChange{Fullmesh: &yes})
		var e *Error
		if !errors.As(err, &e) || e.Op != "change endpoint id 2" || !errors.Is(err, unix.EINVAL) {
			t.Errorf("err = %v, want *Error for change endpoint id 2 matching EINVAL", err)
		}
	})

	t.Run("get fails", func(t *testing.T) {
		c := testClient(t, genltest.CheckRequest(testFamily.ID, cmdGetAddr, flagsGet,
			func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return nil, genltest.Error(int(unix.ENOENT))
			}))
		err := c.ChangeEndpoint(2, EndpointChange{Backup: &yes})
		var e *Error
		if !errors.As(err, &e) || e.Op != "get endpoint id 2" || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want *Error for get endpoint id 2 matching os.ErrNotExist", err)
		}
	})
}

func TestClientDecode(t *testing.T) {
	ep := func(attrs ...netlink.Attribute) genetlink.Message { return reply(cmdGetAddr, nest(wAddr, attrs...)) }
	tests := []struct {
		name  string
		reply []genetlink.Message
		want  []Endpoint
	}{
		{
			name:  "v4 with flags and ifindex",
			reply: []genetlink.Message{ep(u16(wFamily, afInet), u8(wID, 1), raw(wAddr4, v4a...), u32(wFlags, 0x6), s32(wIfIdx, 4))},
			want:  []Endpoint{{ID: 1, Addr: netip.MustParseAddr("10.0.1.2"), Flags: FlagSubflow | FlagBackup, IfIndex: 4}},
		},
		{
			name:  "v6 with port",
			reply: []genetlink.Message{ep(u16(wFamily, afInet6), u8(wID, 9), raw(wAddr6, v6a...), u16(wPort, 50010), u32(wFlags, 1))},
			want:  []Endpoint{{ID: 9, Addr: netip.MustParseAddr("2001:db8::1"), Port: 50010, Flags: FlagSignal}},
		},
		{
			name:  "unknown attributes and flag bits kept",
			reply: []genetlink.Message{ep(u8(wID, 4), raw(wAddr4, v4b...), u32(wFlags, 0x60), raw(42, 1, 2, 3))},
			want:  []Endpoint{{ID: 4, Addr: netip.MustParseAddr("192.0.2.7"), Flags: FlagLaminar | 0x40}},
		},
		{
			name: "dump of several, other commands ignored",
			reply: []genetlink.Message{
				ep(u8(wID, 1), raw(wAddr4, v4a...)),
				reply(cmdAddAddr, nest(wAddr, u8(wID, 99))),
				ep(u8(wID, 2), raw(wAddr6, v6a...)),
				ep(u8(wID, 3), raw(wAddr4, v4b...), u16(wPort, 1)),
			},
			want: []Endpoint{
				{ID: 1, Addr: netip.MustParseAddr("10.0.1.2")},
				{ID: 2, Addr: netip.MustParseAddr("2001:db8::1")},
				{ID: 3, Addr: netip.MustParseAddr("192.0.2.7"), Port: 1},
			},
		},
		{name: "empty dump", reply: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient(t, genltest.CheckRequest(testFamily.ID, cmdGetAddr, flagsDump,
				func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
					if tt.reply == nil {
						return nil, io.EOF
					}
					return tt.reply, nil
				}))
			got, err := c.Endpoints()
			if err != nil {
				t.Fatalf("Endpoints: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("get endpoint", func(t *testing.T) {
		c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
			return []genetlink.Message{ep(u16(wFamily, afInet), u8(wID, 1), raw(wAddr4, v4a...), u32(wFlags, 2))}, nil
		})
		got, err := c.Endpoint(1)
		want := Endpoint{ID: 1, Addr: netip.MustParseAddr("10.0.1.2"), Flags: FlagSubflow}
		if err != nil || !cmp.Equal(want, got, cmpOpts) {
			t.Errorf("Endpoint(1) = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("limits", func(t *testing.T) {
		c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
			return []genetlink.Message{
				reply(cmdSetLimits, u32(wRcvAddAddrs, 7)), // another command: ignored
				reply(cmdGetLimits, u32(wRcvAddAddrs, 3), u32(wSubflows, 8), u32(99, 1)),
			}, nil
		})
		got, err := c.Limits()
		if want := (Limits{Subflows: 8, AddAddrAccepted: 3}); err != nil || got != want {
			t.Errorf("Limits() = %+v, %v; want %+v", got, err, want)
		}
	})
}

func TestClientDecodeErrors(t *testing.T) {
	ep := func(attrs ...netlink.Attribute) []genetlink.Message {
		return []genetlink.Message{reply(cmdGetAddr, nest(wAddr, attrs...))}
	}
	getEndpoint := func(c *Client) error { _, err := c.Endpoint(1); return err }
	dump := func(c *Client) error { _, err := c.Endpoints(); return err }
	getAddress := func(c *Client) error { _, err := c.Address(1, 1); return err }
	getLimits := func(c *Client) error { _, err := c.Limits(); return err }
	truncated := genetlink.Message{
		Header: genetlink.Header{Command: cmdGetAddr},
		// An attribute header claiming 8 bytes with only 6 present.
		Data: []byte{8, 0, wAddr, 0, 1, 2},
	}
	tests := []struct {
		name  string
		call  func(c *Client) error
		reply []genetlink.Message
	}{
		{"addr4 of 3 bytes", getEndpoint, ep(u8(wID, 1), raw(wAddr4, 10, 0, 1))},
		{"addr6 of 4 bytes", dump, ep(raw(wAddr6, v4a...))},
		{"port of 1 byte", getAddress, ep(raw(wPort, 1))},
		{"flags of 2 bytes", dump, ep(u16(wFlags, 1))},
		{"id of 4 bytes", getEndpoint, ep(u32(wID, 1))},
		{"ifindex of 2 bytes", dump, ep(u16(wIfIdx, 1))},
		{"truncated attribute", dump, []genetlink.Message{truncated}},
		{"truncated nest", getEndpoint, []genetlink.Message{{
			Header: genetlink.Header{Command: cmdGetAddr},
			Data:   marshal(raw(netlink.Nested|wAddr, 8, 0, wID, 0, 1)),
		}}},
		{"no endpoint", getEndpoint, []genetlink.Message{reply(cmdGetAddr)}},
		{"two endpoints", getAddress, append(ep(u8(wID, 1)), ep(u8(wID, 2))...)},
		{"no limits", getLimits, []genetlink.Message{reply(cmdGetAddr)}},
		{"subflows of 1 byte", getLimits, []genetlink.Message{reply(cmdGetLimits, u8(wSubflows, 1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return tt.reply, nil
			})
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "genl: ") {
				t.Errorf("error %q has no genl: prefix", err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	ap := netip.MustParseAddrPort("10.0.1.2:1000")
	addr := ap.Addr()
	methods := []struct {
		op   string
		call func(c *Client) error
	}{
		{"add endpoint 10.0.1.2", func(c *Client) error { return c.AddEndpoint(Endpoint{Addr: addr}) }},
		{"delete endpoint id 3", func(c *Client) error { return c.DeleteEndpoint(3, netip.Addr{}) }},
		{"get endpoint id 3", func(c *Client) error { _, err := c.Endpoint(3); return err }},
		{"get endpoint id 3", func(c *Client) error { return c.ChangeEndpoint(3, EndpointChange{}) }},
		{"dump endpoints", func(c *Client) error { _, err := c.Endpoints(); return err }},
		{"flush endpoints", func(c *Client) error { return c.FlushEndpoints() }},
		{"get limits", func(c *Client) error { _, err := c.Limits(); return err }},
		{"set limits", func(c *Client) error { return c.SetLimits(LimitsUpdate{}) }},
		{"announce 10.0.1.2 id 5 token 0000abcd", func(c *Client) error { return c.Announce(0xabcd, Endpoint{ID: 5, Addr: addr}) }},
		{"remove id 5 token 0000abcd", func(c *Client) error { return c.Remove(0xabcd, 5) }},
		{"create subflow token 0000abcd 10.0.1.2:0 -> 10.0.1.2:1000", func(c *Client) error {
			return c.CreateSubflow(0xabcd, Endpoint{Addr: addr}, ap)
		}},
		{"destroy subflow token 0000abcd 10.0.1.2:1000 -> 10.0.1.2:1000", func(c *Client) error {
			return c.DestroySubflow(0xabcd, ap, ap)
		}},
		{"set backup token 0000abcd 10.0.1.2:1000 -> 10.0.1.2:1000", func(c *Client) error {
			return c.SetFlags(0xabcd, ap, ap, true)
		}},
		{"set nobackup token 0000abcd 10.0.1.2:1000 -> 10.0.1.2:1000", func(c *Client) error {
			return c.SetFlags(0xabcd, ap, ap, false)
		}},
		{"dump addresses token 0000abcd", func(c *Client) error { _, err := c.Addresses(0xabcd); return err }},
		{"get address id 5 token 0000abcd", func(c *Client) error { _, err := c.Address(0xabcd, 5); return err }},
	}
	for _, m := range methods {
		t.Run(m.op, func(t *testing.T) {
			c := refusingClient(t, unix.EINVAL, "some reason")
			err := m.call(c)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %#v, want *Error", err)
			}
			if want := (Error{Op: m.op, Message: "some reason", Err: unix.EINVAL}); *e != want {
				t.Errorf("error = %#v, want %#v", *e, want)
			}
			if !errors.Is(err, unix.EINVAL) {
				t.Errorf("errors.Is(%v, EINVAL) = false", err)
			}
			if want := "genl: " + m.op + ": some reason: invalid argument"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err, want)
			}
		})
	}

	errnos := []struct {
		errno unix.Errno
		is    []error // must match
		isNot []error // must not match
	}{
		{unix.EINVAL, []error{unix.EINVAL}, []error{os.ErrNotExist, os.ErrExist, os.ErrPermission}},
		{unix.ENOENT, []error{unix.ENOENT, os.ErrNotExist}, []error{os.ErrExist}},
		{unix.EEXIST, []error{unix.EEXIST, os.ErrExist}, []error{os.ErrNotExist}},
		{unix.EPERM, []error{unix.EPERM, os.ErrPermission}, []error{unix.EACCES, os.ErrNotExist}},
		{unix.ESRCH, []error{unix.ESRCH}, []error{os.ErrNotExist}},
	}
	for _, tt := range errnos {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			c := testClient(t, genltest.CheckRequest(testFamily.ID, cmdAddAddr, flagsSet,
				func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
					return nil, genltest.Error(int(tt.errno))
				}))
			err := c.AddEndpoint(Endpoint{Addr: addr, Flags: FlagSignal})
			var e *Error
			if !errors.As(err, &e) || e.Err != tt.errno {
				t.Fatalf("err = %#v, want *Error with Err %v", err, tt.errno)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = false", target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = true", target)
				}
			}
		})
	}
}

// refusingClient returns a Client whose kernel refuses every command as
// Linux does: NLMSG_ERROR with the errno, the request's header
// (NLM_F_CAPPED: no payload) and the extended-ack message in
// NLMSGERR_ATTR_MSG (NLM_F_ACK_TLVS). genltest.Error cannot carry a message,
// and for dumps it copies NLM_F_DUMP into the error's flags, where bit
// 0x200 reads as NLM_F_ACK_TLVS; so this fake is built on nltest.
func refusingClient(t *testing.T, errno unix.Errno, msg string) *Client {
	conn := genetlink.NewConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		req := reqs[0]
		data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
		data = binary.NativeEndian.AppendUint32(data, 16) // nlmsghdr, capped
		data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Type))
		data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Flags))
		data = binary.NativeEndian.AppendUint32(data, req.Header.Sequence)
		data = binary.NativeEndian.AppendUint32(data, req.Header.PID)
		data = append(data, marshal(raw(unix.NLMSGERR_ATTR_MSG, append([]byte(msg), 0)...))...)
		return []netlink.Message{{
			Header: netlink.Header{
				Type:     netlink.Error,
				Flags:    netlink.Capped | netlink.AcknowledgeTLVs,
				Sequence: req.Header.Sequence,
				PID:      req.Header.PID,
			},
			Data: data,
		}}, nil
	}))
	c := &Client{c: conn, family: testFamily}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestClientExtendedAck(t *testing.T) {
	c := refusingClient(t, unix.EINVAL, "limit greater than maximum (8)")
	n := uint32(9)
	err := c.SetLimits(LimitsUpdate{Subflows: &n})
	var e *Error
	if !errors.As(err, &e) || e.Message != "limit greater than maximum (8)" {
		t.Fatalf("err = %#v, want *Error with the extack message", err)
	}
	if got, want := err.Error(), "genl: set limits: limit greater than maximum (8): invalid argument"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestWrapError(t *testing.T) {
	other := errors.New("boom")
	tests := []struct {
		name string
		in   error
		want Error
	}{
		{
			"op error with extack",
			&netlink.OpError{Op: "receive", Err: unix.EINVAL, Message: "limit greater than maximum (8)"},
			Error{Op: "set limits", Message: "limit greater than maximum (8)", Err: unix.EINVAL},
		},
		{"op error", &netlink.OpError{Op: "receive", Err: unix.ESRCH}, Error{Op: "set limits", Err: unix.ESRCH}},
		{"other error", other, Error{Op: "set limits", Err: other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := wrapError("set limits", tt.in).(*Error)
			if !ok || *got != tt.want {
				t.Errorf("wrapError = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestClientValidation(t *testing.T) {
	calls := 0
	c := testClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		calls++
		return nil, io.EOF
	})
	ap := netip.MustParseAddrPort("10.0.1.2:1000")
	for name, err := range map[string]error{
		"add without address":           c.AddEndpoint(Endpoint{ID: 1}),
		"announce without address":      c.Announce(1, Endpoint{ID: 1}),
		"create subflow without local":  c.CreateSubflow(1, Endpoint{}, ap),
		"create subflow without remote": c.CreateSubflow(1, Endpoint{Addr: ap.Addr()}, netip.AddrPort{}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if calls != 0 {
		t.Errorf("kernel saw %d requests, want 0", calls)
	}
}

func TestInitClientFamilyMissing(t *testing.T) {
	tests := []struct {
		errno      unix.Errno
		notEnabled bool
	}{
		{unix.ENOENT, true},
		{unix.EPERM, false},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			conn := genltest.Dial(func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				if nreq.Header.Type != unix.GENL_ID_CTRL || greq.Header.Command != unix.CTRL_CMD_GETFAMILY {
					t.Errorf("unexpected request %+v", nreq.Header)
				}
				return nil, genltest.Error(int(tt.errno))
			})
			defer conn.Close()
			c, err := initClient(conn)
			if c != nil || err == nil {
				t.Fatalf("initClient = %v, %v; want an error", c, err)
			}
			if got := errors.Is(err, ErrNotEnabled); got != tt.notEnabled {
				t.Errorf("errors.Is(%v, ErrNotEnabled) = %v, want %v", err, got, tt.notEnabled)
			}
			if got := errors.Is(err, os.ErrNotExist); got != tt.notEnabled {
				t.Errorf("errors.Is(%v, os.ErrNotExist) = %v, want %v", err, got, tt.notEnabled)
			}
			if !tt.notEnabled && !errors.Is(err, tt.errno) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.errno)
			}
		})
	}
}
