package engine

import (
	"net/netip"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

func TestUnfollowable(t *testing.T) {
	own := ifmon.Snapshot{Links: []ifmon.Link{
		{Name: "wlan0", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("2001:db8:1::1")}},
		{Name: "wwan0", Addrs: []netip.Addr{netip.MustParseAddr("10.0.2.1")}},
	}}
	for _, c := range []struct {
		addr, want string
	}{
		{"10.0.4.2", ""},
		{"2001:db8:4::2", ""},
		{"192.168.1.1", ""}, // a router is a host like any other (policy prefixes may restrict it)
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"10.0.1.1", "an address of this host (wlan0)"},
		{"::ffff:10.0.2.1", "an address of this host (wwan0)"},
		{"2001:db8:1::1", "an address of this host (wlan0)"},
	} {
		if got := unfollowable(netip.MustParseAddr(c.addr), own); got != c.want {
			t.Errorf("%s: %q, want %q", c.addr, got, c.want)
		}
	}
	if got := unfollowable(netip.Addr{}, own); got == "" {
		t.Errorf("the zero Addr is followable")
	}
}

func TestTakes(t *testing.T) {
	anyAddr := &policy.Policy{AcceptAnnouncements: true}
	some := &policy.Policy{AcceptAnnouncements: true, AnnouncementsFrom: []netip.Prefix{
		netip.MustParsePrefix("10.0.4.0/24"), netip.MustParsePrefix("2001:db8::/32")}}
	for _, c := range []struct {
		p    *policy.Policy
		ap   string
		want bool
	}{
		{nil, "10.9.9.9:80", true},
		{anyAddr, "10.9.9.9:80", true},
		{some, "10.0.4.2:5201", true},
		{some, "[::ffff:10.0.4.2]:5201", true},
		{some, "[2001:db8::7]:443", true},
		{some, "10.0.5.2:5201", false},
		{some, "[2001:db9::7]:443", false},
	} {
		if got := takes(c.p, netip.MustParseAddrPort(c.ap)); got != c.want {
			t.Errorf("takes(%v, %s) = %v, want %v", c.p.AnnouncementsFrom, c.ap, got, c.want)
		}
	}
}
