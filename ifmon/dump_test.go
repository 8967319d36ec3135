package ifmon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func fmtSnapshot(s Snapshot) string {
	var b strings.Builder
	for _, l := range s.Links {
		fmt.Fprintf(&b, "\n  %+v", l)
	}
	return b.String()
}

func TestLinkUp(t *testing.T) {
	const ok = iffUp | iffLowerUp
	for _, tt := range []struct {
		l    linkEntry
		want bool
	}{
		{linkEntry{Flags: ok, OperState: ifOperUp}, true},
		{linkEntry{Flags: ok, OperState: ifOperUnknown}, true},
		{linkEntry{Flags: ok &^ iffUp, OperState: ifOperUp}, false},
		{linkEntry{Flags: ok &^ iffLowerUp, OperState: ifOperUp}, false},
		// Seen while a veth comes up: UP|LOWER_UP with operstate DOWN.
		{linkEntry{Flags: ok, OperState: 2 /* DOWN */}, false},
		{linkEntry{Flags: ok, OperState: 3 /* LOWERLAYERDOWN */}, false},
		{linkEntry{Flags: ok, OperState: 5 /* DORMANT */}, false},
	} {
		if got := tt.l.up(); got != tt.want {
			t.Errorf("%+v: up() = %v, want %v", tt.l, got, tt.want)
		}
	}
	for _, l := range []linkEntry{{Flags: iffLoopback}, {Type: arphrdLoopback}} {
		if !l.loopback() {
			t.Errorf("%+v: not loopback", l)
		}
	}
	if (linkEntry{Flags: ok, Type: 1}).loopback() {
		t.Error("an Ethernet link is loopback")
	}
}

func TestAddrUsable(t *testing.T) {
	for _, tt := range []struct {
		addr  string
		flags uint32
		want  bool
	}{
		{"10.1.0.2", 0, true},
		{"2001:db8:1::2", 0, true},
		{"2001:db8:1::99", ifaFDeprecated, true}, // RFC 4862 §5.5.4: still valid
		{"2001:db8:2::3", ifaFTentative, false},
		{"2001:db8:2::4", ifaFDadfailed | ifaFTentative, false},
		{"169.254.7.7", 0, false},
		{"fe80::1", 0, false},
		{"127.0.0.1", 0, false},
		{"::1", 0, false},
		{"0.0.0.0", 0, false},
		{"ff02::1", 0, false},
	} {
		a := addrEntry{Index: 2, Flags: tt.flags, Addr: netip.MustParseAddr(tt.addr)}
		if got := a.usable(); got != tt.want {
			t.Errorf("%s flags %#x: usable() = %v, want %v", tt.addr, tt.flags, got, tt.want)
		}
	}
	if (addrEntry{}).usable() {
		t.Error("the zero address is usable")
	}
}

// TestAssembleAddrKinds: temporary (IPv6 only: the same bit is
// IFA_F_SECONDARY for IPv4) and deprecated addresses stay in Addrs and are
// also listed apart.
func TestAssembleAddrKinds(t *testing.T) {
	a := func(s string, flags uint32) addrEntry {
		return addrEntry{Index: 2, Addr: netip.MustParseAddr(s), Flags: flags}
	}
	d := dump{
		links: []linkEntry{{Index: 2, Name: "wlan0"}},
		addrs: []addrEntry{a("2001:db8::9", ifaFTemporary), a("2001:db8::1", 0), a("10.0.0.2", ifaFTemporary),
			a("2001:db8::5", ifaFDeprecated), a("10.0.0.3", ifaFDeprecated), a("2001:db8::7", ifaFTemporary|ifaFDeprecated)},
	}
	got := assemble(d, func(linkEntry) Class { return ClassWifi })
	want := Snapshot{Links: []Link{{Index: 2, Name: "wlan0", Class: ClassWifi,
		Addrs:      addrs("10.0.0.2", "10.0.0.3", "2001:db8::1", "2001:db8::5", "2001:db8::7", "2001:db8::9"),
		Temporary:  addrs("2001:db8::7", "2001:db8::9"),
		Deprecated: addrs("10.0.0.3", "2001:db8::5", "2001:db8::7"),
	}}}
	if !got.Equal(want) {
		t.Errorf("assemble:\n got %s\nwant %s", fmtSnapshot(got), fmtSnapshot(want))
	}
}

// TestRoutesDigest: the digest changes when a route or rule appears, goes
// or changes, and not with their order.
func TestRoutesDigest(t *testing.T) {
	a, b, c := "route 2 1 t254 10.0.3.0/24", "route 2 1 t254 0.0.0.0/0 oif3", "rule 2 100 t101"
	base := routesDigest([]string{a, b, c})
	if routesDigest([]string{c, a, b}) != base {
		t.Error("the digest depends on the order")
	}
	for _, other := range [][]string{{a, b}, {a, b, c, "route 10 1 t254 ::/0"}, {a, b, "rule 2 100 t102"}, {a, b, c, c}, nil} {
		if routesDigest(other) == base {
			t.Errorf("%q has the digest of %q", other, []string{a, b, c})
		}
	}
}

func TestAssembleDedupAndUnknownLinks(t *testing.T) {
	a := func(i int32, s string) addrEntry {
		return addrEntry{Index: i, Addr: netip.MustParseAddr(s)}
	}
	d := dump{
		links:  []linkEntry{{Index: 5, Name: "b"}, {Index: 2, Name: "a"}, {Index: 5, Name: "dup"}},
		addrs:  []addrEntry{a(5, "10.0.0.9"), a(5, "10.0.0.1"), a(5, "10.0.0.9"), a(42, "10.4.2.1")},
		routes: []string{"route 10 1 t254 ::/0 oif2", "route 2 1 t254 10.0.0.0/24 oif5"},
	}
	got := assemble(d, func(linkEntry) Class { return ClassWired })
	want := Snapshot{Links: []Link{
		{Index: 2, Name: "a", Class: ClassWired},
		{Index: 5, Name: "b", Class: ClassWired, Addrs: addrs("10.0.0.1", "10.0.0.9")},
	}, Routes: routesDigest(d.routes)}
	if !got.Equal(want) {
		t.Errorf("assemble:\n got %s\nwant %s", fmtSnapshot(got), fmtSnapshot(want))
	}
}
