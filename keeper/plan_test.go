package keeper

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

var (
	a4wifi  = netip.MustParseAddr("10.0.1.2")
	a6wifi  = netip.MustParseAddr("fd00:1::2")
	a4cell  = netip.MustParseAddr("10.0.2.2")
	a6cell  = netip.MustParseAddr("fd00:2::2")
	a4eth   = netip.MustParseAddr("192.168.1.5")
	a4veth  = netip.MustParseAddr("10.9.0.1")
	a4cell2 = netip.MustParseAddr("10.0.5.2")
)

// testSnap is lo, wlan0 (wifi), wwan0 (cellular), eth0 (wired) and veth9
// (virtual), all up.
func testSnap() ifmon.Snapshot {
	return ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 1, Name: "lo", Class: ifmon.ClassLoopback, Up: true, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
		{Index: 2, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{a4wifi, a6wifi}},
		{Index: 3, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{a4cell, a6cell}},
		{Index: 4, Name: "eth0", Class: ifmon.ClassWired, Up: true, Addrs: []netip.Addr{a4eth}},
		{Index: 5, Name: "veth9", Class: ifmon.ClassVirtual, Up: true, Addrs: []netip.Addr{a4veth}},
	}}
}

// editSnap returns testSnap changed by f.
func editSnap(f func(s *ifmon.Snapshot)) ifmon.Snapshot {
	s := testSnap()
	f(&s)
	return s
}

const (
	sub  = genl.FlagSubflow
	bkp  = genl.FlagBackup
	sig  = genl.FlagSignal
	full = genl.FlagFullmesh
)

func ep(a netip.Addr, flags genl.Flags, ifindex int32) genl.Endpoint {
	return genl.Endpoint{Addr: a, Flags: flags, IfIndex: ifindex}
}

func epID(id uint8, a netip.Addr, flags genl.Flags, ifindex int32) genl.Endpoint {
	return genl.Endpoint{ID: id, Addr: a, Flags: flags, IfIndex: ifindex}
}

// testEPConfig is the configuration of the end-to-end test.
func testEPConfig() *policy.EndpointConfig {
	return &policy.EndpointConfig{Interfaces: []string{"wlan*", "wwan*"}, Flags: sub, Backup: []ifmon.Class{ifmon.ClassCellular}}
}

func TestDesiredEndpoints(t *testing.T) {
	tests := []struct {
		name string
		cfg  *policy.EndpointConfig
		snap ifmon.Snapshot
		want []genl.Endpoint
	}{
		{"allow-list, backup by class", testEPConfig(), testSnap(), []genl.Endpoint{
			ep(a4wifi, sub, 2), ep(a6wifi, sub, 2), ep(a4cell, sub|bkp, 3), ep(a6cell, sub|bkp, 3)}},
		{"nil config: every interface but loopback and virtual, subflow", nil, testSnap(), []genl.Endpoint{
			ep(a4wifi, sub, 2), ep(a6wifi, sub, 2), ep(a4cell, sub, 3), ep(a6cell, sub, 3), ep(a4eth, sub, 4)}},
		{"a pattern admits a virtual interface", &policy.EndpointConfig{Interfaces: []string{"veth*"}, Flags: sig}, testSnap(),
			[]genl.Endpoint{ep(a4veth, sig, 5)}},
		{"loopback never, even by pattern", &policy.EndpointConfig{Interfaces: []string{"*"}, Flags: sub}, testSnap(), []genl.Endpoint{
			ep(a4wifi, sub, 2), ep(a6wifi, sub, 2), ep(a4cell, sub, 3), ep(a6cell, sub, 3), ep(a4eth, sub, 4), ep(a4veth, sub, 5)}},
		{"down link has none", testEPConfig(), editSnap(func(s *ifmon.Snapshot) { s.Links[2].Up = false }), []genl.Endpoint{
			ep(a4wifi, sub, 2), ep(a6wifi, sub, 2)}},
		{"flags of the config, backup added once", &policy.EndpointConfig{Flags: sub | bkp | full, Backup: []ifmon.Class{ifmon.ClassWired}},
			editSnap(func(s *ifmon.Snapshot) { s.Links = s.Links[3:4] }), []genl.Endpoint{ep(a4eth, sub|bkp|full, 4)}},
		{"unusable addresses skipped, sorted, mapped unmapped", testEPConfig(), ifmon.Snapshot{Links: []ifmon.Link{
			{Index: 3, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{a4cell2, a4cell}},
			{Index: 2, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{
				netip.MustParseAddr("fe80::1"), netip.MustParseAddr("::ffff:10.0.1.2"), netip.MustParseAddr("169.254.1.1")}},
		}}, []genl.Endpoint{ep(a4wifi, sub, 2), ep(a4cell, sub|bkp, 3), ep(a4cell2, sub|bkp, 3)}},
		{"same address on two links: the first index", testEPConfig(), ifmon.Snapshot{Links: []ifmon.Link{
			{Index: 2, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{a4wifi}},
			{Index: 3, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{a4wifi}},
		}}, []genl.Endpoint{ep(a4wifi, sub, 2)}},
		{"empty snapshot", testEPConfig(), ifmon.Snapshot{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(tt.cfg, tt.snap)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("DesiredEndpoints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestManages(t *testing.T) {
	cfg := testEPConfig()
	gone := editSnap(func(s *ifmon.Snapshot) { s.Links[2].Addrs = []netip.Addr{a6cell} }) // 10.0.2.2 removed
	noWwan := editSnap(func(s *ifmon.Snapshot) { s.Links = slices.Delete(s.Links, 2, 3) })
	tests := []struct {
		name string
		snap ifmon.Snapshot
		ep   genl.Endpoint
		want bool
	}{
		{"address on an allowed interface", testSnap(), epID(1, a4wifi, sub, 2), true},
		{"address on an allowed interface, added without dev", testSnap(), epID(1, a4wifi, sig, 0), true},
		{"address on an allowed interface that is down", editSnap(func(s *ifmon.Snapshot) { s.Links[1].Up = false }), epID(1, a4wifi, sub, 2), true},
		{"address on an interface not allowed (foreign)", testSnap(), epID(1, a4veth, sub, 5), false},
		{"foreign address of another interface, dev an allowed one", testSnap(), epID(1, a4veth, sub, 2), false},
		{"address gone, dev allowed: stale", gone, epID(1, a4cell, sub|bkp, 3), true},
		{"address gone, dev gone: stale", noWwan, epID(1, a4cell, sub|bkp, 3), true},
		{"address gone, dev not allowed", editSnap(func(s *ifmon.Snapshot) { s.Links[4].Addrs = nil }), epID(1, a4veth, sub, 5), false},
		{"address unknown, no dev: left alone", testSnap(), epID(1, netip.MustParseAddr("203.0.113.1"), sig, 0), false},
		{"implicit never", testSnap(), epID(1, a4wifi, genl.FlagImplicit, 0), false},
		{"IPv4-mapped address", testSnap(), epID(1, netip.MustParseAddr("::ffff:10.0.1.2"), sub, 2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Manages(cfg, tt.snap, tt.ep); got != tt.want {
				t.Errorf("Manages(%+v) = %v, want %v", tt.ep, got, tt.want)
			}
		})
	}
	if def := policy.DefaultEndpointConfig(); Manages(def, testSnap(), epID(1, a4veth, sub, 5)) || !Manages(def, testSnap(), epID(1, a4eth, sub, 4)) {
		t.Errorf("default config: veth9 must be foreign and eth0 managed")
	}
}

func TestDiffEndpoints(t *testing.T) {
	tests := []struct {
		name             string
		current, desired []genl.Endpoint
		add, del         []genl.Endpoint
		change           []FlagChange
	}{
		{"nothing", nil, nil, nil, nil, nil},
		{"all new", nil, []genl.Endpoint{ep(a4wifi, sub, 2), ep(a4cell, sub|bkp, 3)},
			[]genl.Endpoint{ep(a4wifi, sub, 2), ep(a4cell, sub|bkp, 3)}, nil, nil},
		{"in line: nothing (the IDs do not matter)",
			[]genl.Endpoint{epID(7, a4cell, sub|bkp, 3), epID(1, a4wifi, sub, 2)},
			[]genl.Endpoint{ep(a4wifi, sub, 2), ep(a4cell, sub|bkp, 3)}, nil, nil, nil},
		{"stale: address no longer desired",
			[]genl.Endpoint{epID(1, a4wifi, sub, 2), epID(2, a4cell, sub|bkp, 3)},
			[]genl.Endpoint{ep(a4wifi, sub, 2)}, nil, []genl.Endpoint{epID(2, a4cell, sub|bkp, 3)}, nil},
		{"backup differs: change in place",
			[]genl.Endpoint{epID(2, a4cell, sub, 3)}, []genl.Endpoint{ep(a4cell, sub|bkp, 3)},
			nil, nil, []FlagChange{{epID(2, a4cell, sub, 3), sub | bkp}}},
		{"fullmesh differs: change in place",
			[]genl.Endpoint{epID(2, a4cell, sub|full|bkp, 3)}, []genl.Endpoint{ep(a4cell, sub|bkp, 3)},
			nil, nil, []FlagChange{{epID(2, a4cell, sub|full|bkp, 3), sub | bkp}}},
		{"signal instead of subflow: replace",
			[]genl.Endpoint{epID(2, a4cell, sig, 3)}, []genl.Endpoint{ep(a4cell, sub, 3)},
			[]genl.Endpoint{ep(a4cell, sub, 3)}, []genl.Endpoint{epID(2, a4cell, sig, 3)}, nil},
		{"other interface: replace",
			[]genl.Endpoint{epID(2, a4cell, sub, 0)}, []genl.Endpoint{ep(a4cell, sub, 3)},
			[]genl.Endpoint{ep(a4cell, sub, 3)}, []genl.Endpoint{epID(2, a4cell, sub, 0)}, nil},
		{"port: replace",
			[]genl.Endpoint{{ID: 2, Addr: a4cell, Port: 8080, Flags: sub, IfIndex: 3}}, []genl.Endpoint{ep(a4cell, sub, 3)},
			[]genl.Endpoint{ep(a4cell, sub, 3)}, []genl.Endpoint{{ID: 2, Addr: a4cell, Port: 8080, Flags: sub, IfIndex: 3}}, nil},
		{"two endpoints of one address: the second goes",
			[]genl.Endpoint{epID(1, a4wifi, sub, 2), {ID: 2, Addr: a4wifi, Port: 80, Flags: sig, IfIndex: 2}},
			[]genl.Endpoint{ep(a4wifi, sub, 2)}, nil, []genl.Endpoint{{ID: 2, Addr: a4wifi, Port: 80, Flags: sig, IfIndex: 2}}, nil},
		{"IPv4-mapped current matches IPv4 desired",
			[]genl.Endpoint{epID(1, netip.MustParseAddr("::ffff:10.0.1.2"), sub, 2)}, []genl.Endpoint{ep(a4wifi, sub, 2)}, nil, nil, nil},
		{"duplicate desired address: added once",
			nil, []genl.Endpoint{ep(a4wifi, sub, 2), ep(a4wifi, sub|bkp, 3)}, []genl.Endpoint{ep(a4wifi, sub, 2)}, nil, nil},
		{"mixed",
			[]genl.Endpoint{epID(1, a4wifi, sub, 2), epID(2, a4cell, sub, 3), epID(3, a6cell, sub|bkp, 3)},
			[]genl.Endpoint{ep(a4wifi, sub, 2), ep(a4cell, sub|bkp, 3), ep(a4cell2, sub|bkp, 3)},
			[]genl.Endpoint{ep(a4cell2, sub|bkp, 3)}, []genl.Endpoint{epID(3, a6cell, sub|bkp, 3)},
			[]FlagChange{{epID(2, a4cell, sub, 3), sub | bkp}}},
	}
	cmpAddr := cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, del, change := Diff(tt.current, tt.desired)
			if diff := cmp.Diff(tt.add, add, cmpAddr); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.del, del, cmpAddr); diff != "" {
				t.Errorf("del (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.change, change, cmpAddr); diff != "" {
				t.Errorf("change (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlagChange(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		c    FlagChange
		want genl.EndpointChange
	}{
		{FlagChange{epID(1, a4wifi, sub, 2), sub | bkp}, genl.EndpointChange{Backup: &yes}},
		{FlagChange{epID(1, a4wifi, sub|bkp, 2), sub}, genl.EndpointChange{Backup: &no}},
		{FlagChange{epID(1, a4wifi, sub|bkp, 2), sub | full}, genl.EndpointChange{Backup: &no, Fullmesh: &yes}},
		{FlagChange{epID(1, a4wifi, sub, 2), sub}, genl.EndpointChange{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.c.Change()); diff != "" {
			t.Errorf("%+v.Change() (-want +got):\n%s", tt.c, diff)
		}
	}
}

// simKernel applies a diff as the kernel would: deletes by ID, changes the
// flags in place and adds with the next free ID.
type simKernel struct {
	eps    []genl.Endpoint
	nextID uint8
}

func (k *simKernel) apply(add, del []genl.Endpoint, change []FlagChange) int {
	for _, d := range del {
		k.eps = slices.DeleteFunc(k.eps, func(e genl.Endpoint) bool { return e.ID == d.ID })
	}
	for _, c := range change {
		for i := range k.eps {
			if k.eps[i].ID == c.Endpoint.ID {
				k.eps[i].Flags = c.Flags
			}
		}
	}
	for _, a := range add {
		k.nextID++
		a.ID = k.nextID
		k.eps = append(k.eps, a)
	}
	return len(add) + len(del) + len(change)
}

// A diff, applied, leaves nothing to do, over a sequence of snapshots that
// adds, removes and moves addresses and takes links down and up; foreign
// endpoints survive all of it.
func TestDiffEndpointsStable(t *testing.T) {
	cfg := testEPConfig()
	foreign := epID(200, a4veth, sig, 5)
	k := &simKernel{eps: []genl.Endpoint{foreign, epID(201, a4cell, sig, 3)}, nextID: 10}
	snaps := []ifmon.Snapshot{
		testSnap(),
		editSnap(func(s *ifmon.Snapshot) { s.Links[2].Addrs = []netip.Addr{a6cell} }),
		editSnap(func(s *ifmon.Snapshot) { s.Links[2].Addrs = []netip.Addr{a4cell2, a6cell} }),
		editSnap(func(s *ifmon.Snapshot) { s.Links[2].Up = false }),
		testSnap(),
		editSnap(func(s *ifmon.Snapshot) { s.Links = slices.Delete(s.Links, 2, 3) }),
		editSnap(func(s *ifmon.Snapshot) { s.Links[1].Class = ifmon.ClassCellular }),
	}
	for i, snap := range snaps {
		step := func() int {
			var mine []genl.Endpoint
			for _, e := range k.eps {
				if Manages(cfg, snap, e) {
					mine = append(mine, e)
				}
			}
			return k.apply(Diff(mine, Desired(cfg, snap)))
		}
		if n := step(); n == 0 && i == 0 {
			t.Fatalf("snapshot 0: no command, want the endpoints added")
		}
		if n := step(); n != 0 {
			t.Errorf("snapshot %d: second reconcile issued %d commands, want 0", i, n)
		}
		if !slices.Contains(k.eps, foreign) {
			t.Errorf("snapshot %d: the foreign endpoint was touched: %+v", i, k.eps)
		}
		var got []genl.Endpoint
		for _, e := range k.eps {
			if e.ID != foreign.ID {
				e.ID = 0
				got = append(got, e)
			}
		}
		want := Desired(cfg, snap)
		slices.SortFunc(got, func(a, b genl.Endpoint) int { return a.Addr.Compare(b.Addr) })
		slices.SortFunc(want, func(a, b genl.Endpoint) int { return a.Addr.Compare(b.Addr) })
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("snapshot %d: kernel endpoints (-want +got):\n%s", i, diff)
		}
	}
}
