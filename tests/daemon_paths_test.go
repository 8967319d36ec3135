package tests

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// Path selection on the real kernel: a path is used only from an address
// whose route to the peer leaves through it (the kernel's route lookup,
// policy routing included), and not from temporary or deprecated
// addresses unless a policy asks (docs/path-selection.md).

// psAllShape is a condition for dmWaitConn: the subflows in any state
// (a SYN_SENT join counts: it shows the path was tried) are exactly shape.
func psAllShape(shape string) func(connJSON) bool {
	return func(c connJSON) bool { return dmShape(dmSubs(c)) == shape }
}

// psExcluded is a condition for conn: the daemon says why it does not use
// ifname, and the reason holds want.
func psExcluded(ifname, want string) func(control.ConnStatus) bool {
	return func(c control.ConnStatus) bool { return strings.Contains(c.Excluded[ifname], want) }
}

// TestIntegrationPathWithoutRoute: wwan0 has its address but no route of
// its own (as before DHCP or an RA gives it one): its address's lookups
// fall through to the main table's default through wlan0. In interactive
// mode the connection gets no subflow on wwan0, and the daemon says why;
// once wwan0's route appears, it gets one.
func TestIntegrationPathWithoutRoute(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("interactive", ""), nil)
	tb.Exec(t, tb.Client, "ip", "route", "del", "default", "table", "102")
	tb.Exec(t, tb.Client, "ip", "route", "del", "default", "via", "10.0.2.1", "dev", "wwan0")
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Established && psExcluded("wwan0", "leaves through wlan0")(c) && dmDaemonIs("wlan0")(c)
	})
	// Time for a subflow the daemon wrongly asked for to show, even as a
	// SYN_SENT: there must be none.
	time.Sleep(500 * time.Millisecond)
	dmWaitConn(t, tb.Client, dmLocalIs(local), "only the initial subflow, from "+testbed.ClientWifi4.String(),
		psAllShape(testbed.ClientWifi4.String()))
	if st := d.status(); st.Commands != 0 {
		t.Errorf("the daemon sent %d commands for a connection with one usable path", st.Commands)
	}
	if !d.waitLog("paths without a route to the peer are not used", 5*time.Second) {
		t.Error("the daemon did not log the path without a route")
	}
	want := "; wwan0 not used (the route to 10.0.3.2 from 10.0.2.2 leaves through wlan0)"
	if out := mustCLI(t, "", "status", "--control", d.control); !strings.Contains(out, want) {
		t.Errorf("status:\n%s\nwant a connection line with %q", out, want)
	}

	// The route appears: wwan0 is a path.
	tb.Exec(t, tb.Client, "ip", "route", "add", "default", "via", "10.0.2.1", "dev", "wwan0", "table", "102")
	both := testbed.ClientWifi4.String() + "," + testbed.ClientCell4.String()
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return c.Excluded == nil && dmDaemonIs("wlan0,wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "a subflow on wwan0 once its route appeared: "+both, dmEstabShape(both))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 20)
}

// TestIntegrationHandoverTargetWithoutRoute, over IPv6: when Wi-Fi goes
// down, a cellular interface without a route to the peer is no handover
// target; the connection moves to it once its route appears (DHCPv6 or an
// RA arriving late).
func TestIntegrationHandoverTargetWithoutRoute(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	tb.Exec(t, tb.Client, "ip", "-6", "route", "del", "default", "table", "102")
	tb.Exec(t, tb.Client, "ip", "-6", "route", "del", "default", "via", "fd00:2::1", "dev", "wwan0")
	s := startStream(t, tb, testbed.ClientWifi6, netip.AddrPortFrom(testbed.Server6, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Established && dmDaemonIs("wlan0")(c) && activeOn("wlan0")(c)
	})

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), psExcluded("wwan0", "fd00:2::2"))
	time.Sleep(500 * time.Millisecond)
	dmWaitConn(t, tb.Client, dmLocalIs(local), "no subflow from "+testbed.ClientCell6.String()+" while it has no route",
		func(c connJSON) bool {
			return !slices.ContainsFunc(dmSubs(c), func(s dmSub) bool { return s.Local == testbed.ClientCell6 })
		})

	tb.Exec(t, tb.Client, "ip", "-6", "route", "add", "default", "via", "fd00:2::1", "dev", "wwan0", "table", "102")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "handed over to "+testbed.ClientCell6.String()+" once its route appeared",
		dmEstabShape(testbed.ClientCell6.String()))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 20)
}

// TestIntegrationTemporaryAddressNotUsed: wwan0's only stable IPv6 address
// sorts after the temporary address the kernel made from it (use_tempaddr
// 2, mngtmpaddr), so the first address of the link would be the
// temporary one: the subflow comes from the stable one, and status lists
// the temporary one. (Aggregate mode: no measurement closes a subflow of
// a loaded machine's slow path meanwhile.)
func TestIntegrationTemporaryAddressNotUsed(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("aggregate", ""), nil)
	stable := netip.MustParseAddr("fd00:2::ffff:ffff:ffff:fff0")
	sysctl(t, tb.Client, "net.ipv6.conf.wwan0.use_tempaddr", "2")
	tb.Exec(t, tb.Client, "ip", "-6", "rule", "add", "from", "fd00:2::/64", "table", "102", "pref", "1003")
	tb.Exec(t, tb.Client, "ip", "-6", "addr", "del", "fd00:2::2/64", "dev", "wwan0")
	tb.Exec(t, tb.Client, "ip", "-6", "addr", "add", stable.String()+"/64", "dev", "wwan0", "mngtmpaddr", "nodad")
	tmp := psWaitInterface(t, d, "wwan0", func(i control.InterfaceStatus) bool { return len(i.Temporary) == 1 }).Temporary[0]
	if netip.MustParseAddr(tmp).Compare(stable) >= 0 {
		t.Fatalf("temporary address %s does not sort before %s: the test would prove nothing", tmp, stable)
	}

	s := startStream(t, tb, testbed.ClientWifi6, netip.AddrPortFrom(testbed.Server6, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	both := testbed.ClientWifi6.String() + "," + stable.String()
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0,wwan0"))
	dmWaitConn(t, tb.Client, dmLocalIs(local), "subflows from "+both+", none from the temporary "+tmp, psAllShape(both))
	dmCheckConn(t, tb.Client, dmLocalIs(local), "established from "+both, dmEstabShape(both))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 20)
}

// TestIntegrationDeprecatedAddressNotUsed: wwan0 also holds a deprecated
// IPv4 address (preferred_lft 0), routed through wwan0 and sorting before
// its own: the subflow comes from 10.0.2.2, and status lists the
// deprecated one.
func TestIntegrationDeprecatedAddressNotUsed(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("aggregate", ""), nil)
	tb.Exec(t, tb.Client, "ip", "addr", "add", "10.0.0.7/32", "dev", "wwan0", "preferred_lft", "0")
	tb.Exec(t, tb.Client, "ip", "rule", "add", "from", "10.0.0.7", "table", "102", "pref", "1003")
	psWaitInterface(t, d, "wwan0", func(i control.InterfaceStatus) bool { return slices.Equal(i.Deprecated, []string{"10.0.0.7"}) })
	if !d.waitLog("addresses not used for new subflows", 5*time.Second) {
		t.Error("the daemon did not log the deprecated address")
	}
	want := "  wwan0        cellular     up    10.0.0.7 10.0.2.2 fd00:2::2 (deprecated 10.0.0.7)\n"
	if out := mustCLI(t, "", "status", "--control", d.control); !strings.Contains(out, want) {
		t.Errorf("status:\n%s\nwant %q", out, want)
	}

	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	both := testbed.ClientWifi4.String() + "," + testbed.ClientCell4.String()
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0,wwan0"))
	dmWaitConn(t, tb.Client, dmLocalIs(local), "subflows from "+both+", none from the deprecated 10.0.0.7", psAllShape(both))
	dmCheckConn(t, tb.Client, dmLocalIs(local), "established from "+both, dmEstabShape(both))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 20)
}

// psWaitInterface polls the daemon's status for up to 5 s until interface
// name meets ok, and returns it.
func psWaitInterface(t *testing.T, d *daemonProc, name string, ok func(control.InterfaceStatus) bool) control.InterfaceStatus {
	t.Helper()
	var last control.InterfaceStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, i := range d.status().Interfaces {
			if i.Name == name {
				if last = i; ok(i) {
					return i
				}
			}
		}
	}
	t.Fatalf("the daemon's interface %s never met the condition; last: %+v", name, last)
	return last
}

// TestIntegrationULATowardsGlobalPeer: towards a global peer, wwan0's only
// IPv6 address, a ULA, gets no subflow; a policy that lists ula in its
// addresses key, loaded by a reload, gives it one (the ULA path does reach
// the peer: the testbed routes fd00::/16).
func TestIntegrationULATowardsGlobalPeer(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("aggregate", ""), nil)
	tb.Exec(t, tb.Router, "ip", "-6", "addr", "add", "2001:db8:3::1/64", "dev", "rsrv0", "nodad")
	tb.Exec(t, tb.Router, "ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "rwlan0", "nodad")
	tb.Exec(t, tb.Server, "ip", "-6", "addr", "add", "2001:db8:3::2/64", "dev", "eth0", "nodad")
	tb.Exec(t, tb.Client, "ip", "-6", "addr", "add", "2001:db8:1::2/64", "dev", "wlan0", "nodad")
	tb.Exec(t, tb.Client, "ip", "-6", "rule", "add", "from", "2001:db8:1::2", "table", "101", "pref", "1003")
	global, peer := netip.MustParseAddr("2001:db8:1::2"), netip.MustParseAddrPort("[2001:db8:3::2]:5201")

	s := startStream(t, tb, global, peer)
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Established && psExcluded("wwan0", "fd00:2::2 is unique local")(c) && dmDaemonIs("wlan0")(c)
	})
	time.Sleep(500 * time.Millisecond)
	dmWaitConn(t, tb.Client, dmLocalIs(local), "only the initial subflow, from "+global.String(), psAllShape(global.String()))

	policy := "name: lab\nmatch: { prefixes: [\"2001:db8:3::/48\"] }\nmode: aggregate\naddresses: [ula]\n"
	if err := os.WriteFile(filepath.Join(d.dir, "policies.d", "lab.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	d.hup()
	both := global.String() + "," + testbed.ClientCell6.String()
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return c.Application == "lab" && dmDaemonIs("wlan0,wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "a subflow from the ULA once the policy asks: "+both, dmEstabShape(both))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 20)
}
