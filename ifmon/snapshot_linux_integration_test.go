//go:build linux

package ifmon

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// buildFixture builds, in a fresh namespace, links of every state and
// addresses of every kind the monitor tells apart, and default routes in
// several tables and shapes. It returns the namespace's fd; its Snapshot
// is wantFixtureSnapshot.
func buildFixture(t *testing.T) (string, int) {
	t.Helper()
	requirePrivilege(t)
	ns, fd := newNetns(t)
	_, peerfd := newNetns(t)
	f := fixture{t: t, h: testutil.NetlinkHandle(t, fd)}
	f.veth("wlan0", "p0", peerfd)
	f.veth("wwan0", "pw0", 0)
	f.veth("veth9", "pv9", 0)
	f.must("add br0", f.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}))
	// Keep 2001:db8:2::3 tentative for long: DAD sends its probe after
	// retrans_time_ms, and only then can the address become valid.
	f.must("retrans_time_ms", netns.WriteSysctl(fd, "net/ipv6/neigh/wwan0/retrans_time_ms", "60000"))
	peer := fixture{t: t, h: testutil.NetlinkHandle(t, peerfd)}
	peer.up("p0")
	f.up("wlan0", "wwan0", "pw0", "veth9") // pv9 stays down: veth9 has no carrier
	f.addr("wlan0", "10.1.0.2/24", false, false)
	f.addr("wlan0", "169.254.7.7/16", false, false)
	f.addr("wlan0", "2001:db8:1::2/64", true, false)
	f.addr("wlan0", "2001:db8:1::99/64", true, true)
	f.addr("wwan0", "10.2.0.2/24", false, false)
	f.addr("wwan0", "2001:db8:2::2/64", true, false)
	f.addr("wwan0", "2001:db8:2::3/64", false, false) // DAD pending: tentative
	f.addr("veth9", "10.9.0.2/24", false, false)
	f.defaultVia("wlan0", "10.1.0.1", 101, 0)
	f.defaultVia("wwan0", "10.2.0.1", 0, 100)
	f.defaultVia("wlan0", "10.1.0.1", 0, 200)
	f.defaultVia("veth9", "10.9.0.1", 109, 0)
	f.defaultVia("wwan0", "2001:db8:2::1", 0, 0)
	f.multipathDefault(102, "0.0.0.0/0", [2]string{"wlan0", "10.1.0.1"}, [2]string{"wwan0", "10.2.0.1"})
	f.multipathDefault(102, "::/0", [2]string{"wlan0", "2001:db8:1::1"}, [2]string{"wwan0", "2001:db8:2::1"})
	_, any6, _ := net.ParseCIDR("::/0")
	f.must("unreachable default", f.h.RouteAdd(&netlink.Route{Dst: any6, Table: 103, Type: unix.RTN_UNREACHABLE}))
	// Nexthop objects (the library has no API for them): with
	// net.ipv4.nexthop_compat_mode=1 (the default) the route dump still
	// carries RTA_OIF.
	for _, cmd := range []string{
		"nexthop add id 1 via 10.2.0.1 dev wwan0",
		"nexthop add id 2 via 2001:db8:2::1 dev wwan0",
		"route add default nhid 1 table 120",
		"-6 route add default nhid 2 table 120",
	} {
		ipns(t, ns, cmd)
	}
	// Carrier and operstate reach rtnetlink through the kernel's linkwatch
	// work, a little after the link is set up: wait for them.
	waitOperUp(t, ns, "wlan0", "wwan0", "pw0")
	return ns, fd
}

// wantFixtureSnapshot is the Snapshot of buildFixture's namespace, seen
// from another namespace (no sysfs).
var wantFixtureSnapshot = Snapshot{Links: []Link{
	{Index: 1, Name: "lo", Class: ClassLoopback, Up: true},
	{Index: 2, Name: "wlan0", Class: ClassWifi, Up: true,
		// 169.254.7.7 and fe80:: are link-local; 2001:db8:1::99 is
		// deprecated and kept, also listed apart.
		Addrs:      addrs("10.1.0.2", "2001:db8:1::2", "2001:db8:1::99"),
		Deprecated: addrs("2001:db8:1::99"),
	},
	{Index: 3, Name: "pw0", Class: ClassVirtual, Up: true},
	{Index: 4, Name: "wwan0", Class: ClassCellular, Up: true,
		// 2001:db8:2::3 is tentative.
		Addrs: addrs("10.2.0.2", "2001:db8:2::2"),
	},
	{Index: 5, Name: "pv9", Class: ClassVirtual},
	// Up but without carrier (its peer is down); its default route in
	// table 109 stays, flagged linkdown.
	{Index: 6, Name: "veth9", Class: ClassVirtual, Addrs: addrs("10.9.0.2")},
	{Index: 7, Name: "br0", Class: ClassVirtual},
}}

// TestIntegrationSnapshot checks the Snapshot of the namespace that
// buildFixture builds: classes, up/down, usable addresses (link-local and
// tentative left out, deprecated kept and listed apart), and that a rule
// added changes the routes' digest.
func TestIntegrationSnapshot(t *testing.T) {
	ns, fd := buildFixture(t)
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !(Snapshot{Links: got.Links}).Equal(wantFixtureSnapshot) {
		t.Errorf("snapshot:\n got %s\nwant %s", fmtSnapshot(got), fmtSnapshot(wantFixtureSnapshot))
	}
	ipns(t, ns, "rule add from 10.1.0.2 table 101")
	again, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if again.Routes == got.Routes || !(Snapshot{Links: again.Links}).Equal(wantFixtureSnapshot) {
		t.Errorf("after a rule was added: routes digest %x (was %x), links %s", again.Routes, got.Routes, fmtSnapshot(again))
	}
}

// TestIntegrationRoute asks the kernel for routes in buildFixture's
// namespace: the main table's best default, a source rule that picks
// another table, an unreachable route, and a local address.
func TestIntegrationRoute(t *testing.T) {
	ns, fd := buildFixture(t)
	ipns(t, ns, "rule add from 10.1.0.2 table 101")
	ipns(t, ns, "-6 rule add from 2001:db8:1::2 table 103")
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	for _, tt := range []struct {
		src, dst string
		oif      int32 // 0: ErrNoRoute
		local    bool
	}{
		{"10.2.0.2", "198.51.100.1", 4, false},        // main: wwan0 (metric 100)
		{"10.1.0.2", "198.51.100.1", 2, false},        // rule: table 101, wlan0
		{"10.9.0.2", "198.51.100.1", 4, false},        // no rule: main
		{"2001:db8:2::2", "2001:db8:99::1", 4, false}, // main: wwan0
		{"2001:db8:1::2", "2001:db8:99::1", 0, false}, // rule: table 103, unreachable
		{"10.1.0.2", "10.2.0.2", 1, true},             // an address of this host
	} {
		r, err := m.Route(a(tt.src), a(tt.dst))
		switch {
		case tt.oif == 0 && !errors.Is(err, ErrNoRoute):
			t.Errorf("Route(%s, %s) = %+v, %v; want ErrNoRoute", tt.src, tt.dst, r, err)
		case tt.oif != 0 && (err != nil || r.OIF != tt.oif || r.Local != tt.local):
			t.Errorf("Route(%s, %s) = %+v, %v; want oif %d local %v", tt.src, tt.dst, r, err, tt.oif, tt.local)
		}
	}
}

// BenchmarkIntegrationRoute is one route lookup (Monitor.Route) from a
// source address that a rule sends to another table: what the daemon pays
// per source address of a new peer (go test -run XXX -bench Route ./ifmon/,
// as root).
func BenchmarkIntegrationRoute(b *testing.B) {
	testutil.RequireRoot(b, "to create a network namespace", "ip")
	ns, fd := testutil.NewNamedNetns(b, "ifmon")
	for _, cmd := range []string{
		"link add d0 type veth peer name p0", "link add d1 type veth peer name p1",
		"link set d0 up", "link set p0 up", "link set d1 up", "link set p1 up",
		"addr add 10.1.0.2/24 dev d0", "addr add 10.2.0.2/24 dev d1",
		"route add default via 10.2.0.1 dev d1", "route add default via 10.1.0.1 dev d0 table 101",
		"rule add from 10.1.0.2 table 101",
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, strings.Fields(cmd)...)...).CombinedOutput(); err != nil {
			b.Fatalf("ip %s: %v: %s", cmd, err, out)
		}
	}
	m, err := New(Config{NetNS: fd})
	if err != nil {
		b.Fatal(err)
	}
	src, dst := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("198.51.100.1")
	for b.Loop() {
		if r, err := m.Route(src, dst); err != nil || r.OIF < 2 {
			b.Fatalf("Route = %+v, %v", r, err)
		}
	}
}
