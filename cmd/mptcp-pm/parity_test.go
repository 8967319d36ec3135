package main

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
	"golang.org/x/sys/unix"
)

func (f *fakePM) ChangeEndpointAt(a netip.AddrPort, ch genl.EndpointChange) error {
	s := func(b *bool) string {
		if b == nil {
			return "-"
		}
		if *b {
			return "true"
		}
		return "false"
	}
	return f.rec("changeat %v backup=%s fullmesh=%s", a, s(ch.Backup), s(ch.Fullmesh))
}

func (f *fakePM) Addresses(tok uint32) ([]genl.Endpoint, error) {
	return f.addrs, f.rec("addrs %08x", tok)
}

func (f *fakePM) Address(tok uint32, id uint8) (genl.Endpoint, error) {
	for _, a := range f.addrs {
		if a.ID == id {
			return a, f.rec("addr %08x %d", tok, id)
		}
	}
	return genl.Endpoint{}, f.rec("addr %08x %d", tok, id)
}

// parityConns is one connection (token 84715662) with two subflows, the
// initial one from 10.0.1.2 and one from 10.0.2.2 (ID 5), both to
// 10.0.3.2:5201, and a second subflow to 10.0.4.2:5201.
var parityConns = []sockdiag.Conn{{
	Token: 0x84715662, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: 1,
	Subflows: []sockdiag.Subflow{
		{Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201")},
		{Local: netip.MustParseAddrPort("10.0.2.2:41000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), LocID: 5},
		{Local: netip.MustParseAddrPort("10.0.2.2:41001"), Remote: netip.MustParseAddrPort("10.0.4.2:5201"), LocID: 5},
	},
}}

func TestParityCommands(t *testing.T) {
	tests := []struct {
		args string
		want []string // the calls of the last command
	}{
		{"endpoint add 10.0.1.2 subflow laminar", []string{"add {ID:0 Addr:10.0.1.2 Port:0 Flags:subflow laminar IfIndex:0}"}},
		{"endpoint add 10.0.1.2 lam", []string{"add {ID:0 Addr:10.0.1.2 Port:0 Flags:laminar IfIndex:0}"}},
		{"endpoint change 10.0.1.2 backup", []string{"changeat 10.0.1.2:0 backup=true fullmesh=-"}},
		{"endpoint change fd00::1 port 1000 nofullmesh", []string{"changeat [fd00::1]:1000 backup=- fullmesh=false"}},
		{"endpoint change id 3 fullmesh", []string{"change 3 backup=- fullmesh=true"}},
		{"endpoint show token 84715662", []string{"addrs 84715662"}},
		{"endpoint show token 84715662 id 7", []string{"addr 84715662 7"}},
		{"endpoint show id 9", []string{"get 9"}},
		// The ID of an address the connection has, or of the initial
		// subflow's (0); of the in-kernel endpoint; else the lowest free.
		{"subflow add token 84715662 local 10.0.2.2 remote 10.0.4.2 port 80",
			[]string{"addrs 84715662", "create 84715662 {ID:5 Addr:10.0.2.2 Port:0 Flags: IfIndex:0} 10.0.4.2:80"}},
		{"subflow add token 84715662 local 10.0.1.2 remote 10.0.4.2",
			[]string{"addrs 84715662", "create 84715662 {ID:0 Addr:10.0.1.2 Port:0 Flags: IfIndex:0} 10.0.4.2:5201"}},
		{"subflow add token 84715662 local 10.0.7.2 remote 10.0.4.2",
			[]string{"addrs 84715662", "dump", "create 84715662 {ID:9 Addr:10.0.7.2 Port:0 Flags: IfIndex:0} 10.0.4.2:5201"}},
		{"subflow add token 84715662 local 10.0.8.2 remote 10.0.4.2",
			[]string{"addrs 84715662", "dump", "create 84715662 {ID:1 Addr:10.0.8.2 Port:0 Flags: IfIndex:0} 10.0.4.2:5201"}},
		{"subflow add token 84715662 local 10.0.6.2 remote 10.0.4.2",
			[]string{"addrs 84715662", "create 84715662 {ID:6 Addr:10.0.6.2 Port:0 Flags: IfIndex:0} 10.0.4.2:5201"}},
		// Only the remote port missing: no address lookup.
		{"subflow add token 84715662 local 10.0.8.2 id 8 remote 10.0.4.2",
			[]string{"create 84715662 {ID:8 Addr:10.0.8.2 Port:0 Flags: IfIndex:0} 10.0.4.2:5201"}},
		{"subflow delete token 84715662 local 10.0.2.2:41000", []string{"destroy 84715662 10.0.2.2:41000 10.0.3.2:5201"}},
		{"subflow delete token 84715662 remote 10.0.4.2", []string{"destroy 84715662 10.0.2.2:41001 10.0.4.2:5201"}},
		{"subflow delete token 84715662 local 10.0.2.2 remote 10.0.3.2", []string{"destroy 84715662 10.0.2.2:41000 10.0.3.2:5201"}},
		{"subflow set token 84715662 local 10.0.2.2 port 41001 backup", []string{"setflags 84715662 10.0.2.2:41001 10.0.4.2:5201 true"}},
		{"subflow set token 84715662 local 10.0.1.2 nobackup", []string{"setflags 84715662 10.0.1.2:40000 10.0.3.2:5201 false"}},
		{"subflow set token 84715662 local [fd00::2]:4444 remote [fd00::3]:80 backup", []string{"setflags 84715662 [fd00::2]:4444 [fd00::3]:80 true"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			pm := &fakePM{eps: []genl.Endpoint{{ID: 9, Addr: netip.MustParseAddr("10.0.7.2")}, {ID: 5, Addr: netip.MustParseAddr("10.0.8.2")}},
				addrs: []genl.Endpoint{{ID: 6, Addr: netip.MustParseAddr("10.0.6.2")}}}
			e, _, _ := testEnv(pm, parityConns)
			if err := run(e, strings.Fields(tt.args)); err != nil {
				t.Fatalf("run: %v", err)
			}
			if !slices.Equal(pm.calls, tt.want) {
				t.Errorf("calls:\n got %q\nwant %q", pm.calls, tt.want)
			}
		})
	}
}

func TestParityBadInput(t *testing.T) {
	tests := []struct{ args, want string }{
		{"endpoint change 10.0.1.2 id 1 backup", "endpoint change: give id ID or ADDR [port PORT], not both"},
		{"endpoint change id 1 port 3 backup", "endpoint change: port can't be used with id (give ADDR port PORT)"},
		{"endpoint change port 3 backup", "endpoint change: port needs the address: ADDR port PORT"},
		{"endpoint change backup", "endpoint change: missing id ID or ADDR"},
		{"endpoint change 10.0.1.2", "endpoint change: missing one of backup, nobackup, fullmesh, nofullmesh"},
		{"endpoint change id 0 backup", "endpoint change: invalid id 0: endpoint IDs are 1 to 255 (or give the address)"},
		{"endpoint change 10.0.1.2 laminar", `endpoint change: unknown argument "laminar" (expected ADDR once, id, port, backup, nobackup, fullmesh, nofullmesh)`},
		{"endpoint change frob", `endpoint change: unknown argument "frob" (expected ADDR, id, port, backup, nobackup, fullmesh, nofullmesh)`},
		{"endpoint show token zz", `endpoint show: invalid token "zz": want up to 8 hexadecimal digits, as ` + "`mptcp-pm monitor`" + ` prints it`},
		{"subflow delete token 84715662 local 10.0.2.2", "subflow delete: 2 subflows of connection 84715662 have local 10.0.2.2 (10.0.2.2:41000 -> 10.0.3.2:5201, 10.0.2.2:41001 -> 10.0.4.2:5201): give more of local ADDR:PORT remote ADDR:PORT"},
		{"subflow set token 84715662 remote 10.0.9.9 backup", "subflow set: no subflow of connection 84715662 has remote 10.0.9.9 (its subflows: 10.0.1.2:40000 -> 10.0.3.2:5201, 10.0.2.2:41000 -> 10.0.3.2:5201, 10.0.2.2:41001 -> 10.0.4.2:5201)"},
		{"subflow delete token 1 local 10.0.2.2", "subflow delete: no MPTCP connection with token 00000001 in this namespace (\"connection show\" lists them)"},
		{"subflow delete token 1 local 10.0.2.2:0", `subflow delete: invalid local port 0 in "10.0.2.2:0": want a number from 1 to 65535`},
		{"subflow delete token 1 local fd00::1:80", ""}, // an IPv6 address, not a port: goes to the lookup
		{"subflow delete token 1 local [fd00::1]:x", `subflow delete: invalid local address "[fd00::1]:x" (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			e, _, _ := testEnv(&fakePM{}, parityConns)
			err := run(e, strings.Fields(tt.args))
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "no MPTCP connection with token 00000001") {
					t.Fatalf("err = %v, want the connection lookup's", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestEndpointRawFlags: bits iproute2 does not name print as "rawflags"
// in hexadecimal, as print_mptcp_addr_flags does (a kernel before the
// "ignore unknown endpoint flags" fix keeps them).
func TestEndpointRawFlags(t *testing.T) {
	pm := &fakePM{eps: []genl.Endpoint{{ID: 1, Addr: netip.MustParseAddr("10.0.1.1"), Flags: genl.FlagSubflow | genl.FlagLaminar | 0x140}}}
	for _, tc := range []struct{ args, want string }{
		{"endpoint show", "10.0.1.1 id 1 subflow laminar rawflags 140 \n"},
		{"-j endpoint show", `[{"address":"10.0.1.1","id":1,"subflow":true,"laminar":true,"rawflags":"140"}]` + "\n"},
	} {
		e, out, _ := testEnv(pm, nil)
		if err := run(e, strings.Fields(tc.args)); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.args, out.String(), tc.want)
		}
	}
}

// TestSubflowAddLookupRefused: a refused lookup prints what was looked up
// with the kernel's message.
func TestSubflowAddLookupRefused(t *testing.T) {
	pm := &fakePM{err: &genl.Error{Op: "dump addresses token 84715662", Message: "userspace PM not selected", Err: unix.EINVAL}}
	e, _, _ := testEnv(pm, parityConns)
	err := run(e, strings.Fields("subflow add token 84715662 local 10.0.9.2 remote 10.0.3.2"))
	want := "subflow add: look up the ID of local 10.0.9.2: dump addresses token 84715662: userspace PM not selected (invalid argument)"
	if got := message(err); got != want || !errors.Is(err, unix.EINVAL) {
		t.Errorf("message %q (err %v)\nwant %q matching EINVAL", got, err, want)
	}
	if want := []string{"addrs 84715662"}; !slices.Equal(pm.calls, want) {
		t.Errorf("calls %q, want %q", pm.calls, want)
	}
}
