//go:build linux

package ifmon

import (
	"net"
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
func buildFixture(t *testing.T) int {
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
	return fd
}

// wantFixtureSnapshot is the Snapshot of buildFixture's namespace, seen
// from another namespace (no sysfs).
var wantFixtureSnapshot = Snapshot{Links: []Link{
	{Index: 1, Name: "lo", Class: ClassLoopback, Up: true},
	{Index: 2, Name: "wlan0", Class: ClassWifi, Up: true,
		// 169.254.7.7 and fe80:: are link-local; 2001:db8:1::99 is
		// deprecated and kept.
		Addrs:         addrs("10.1.0.2", "2001:db8:1::2", "2001:db8:1::99"),
		DefaultRoute4: true, // table 101, main (metric 200), multipath in 102
		DefaultRoute6: true, // only as a nexthop of the multipath default in 102
	},
	{Index: 3, Name: "pw0", Class: ClassVirtual, Up: true},
	{Index: 4, Name: "wwan0", Class: ClassCellular, Up: true,
		// 2001:db8:2::3 is tentative.
		Addrs:         addrs("10.2.0.2", "2001:db8:2::2"),
		DefaultRoute4: true, DefaultRoute6: true,
	},
	{Index: 5, Name: "pv9", Class: ClassVirtual},
	// Up but without carrier (its peer is down); its default route in
	// table 109 stays, flagged linkdown.
	{Index: 6, Name: "veth9", Class: ClassVirtual, Addrs: addrs("10.9.0.2"), DefaultRoute4: true},
	{Index: 7, Name: "br0", Class: ClassVirtual},
}}

// TestIntegrationSnapshot checks the Snapshot of the namespace that
// buildFixture builds: classes, up/down, usable addresses (link-local and
// tentative left out, deprecated kept) and default routes of both families
// from every table, multipath and nexthop objects included.
func TestIntegrationSnapshot(t *testing.T) {
	fd := buildFixture(t)
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(wantFixtureSnapshot) {
		t.Errorf("snapshot:\n got %s\nwant %s", fmtSnapshot(got), fmtSnapshot(wantFixtureSnapshot))
	}
}
