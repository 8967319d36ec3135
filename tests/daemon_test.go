package tests

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// handoverConfig is a default policy in handover mode with a short
// hold-down, and the testbed's interfaces named as what they stand for.
const handoverConfig = `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: handover
  handover: { hold_down: 1s }
`

// newDaemonBed brings up a testbed with the userspace PM on both sides, an
// echo server on 5201 and a monitor on the server, and starts the daemon
// in the client namespace with config and policies.
func newDaemonBed(t *testing.T, config string, policies map[string]string) (*testbed.Testbed, *daemonProc, *monitor) {
	t.Helper()
	return newDaemonBedWith(t, config, policies)
}

// newDaemonBedWith is newDaemonBed with more daemon arguments.
func newDaemonBedWith(t *testing.T, config string, policies map[string]string, args ...string) (*testbed.Testbed, *daemonProc, *monitor) {
	t.Helper()
	tb := testbed.New(t)
	sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
	ms := startMonitor(t, tb.Server) // the server-side userspace PM needs a listener to accept joins
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	d := startDaemonWith(t, tb.Client, writeConfig(t, config, policies), args...)
	return tb, d, ms
}

func TestIntegrationDaemonHandoverLinkDown(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == "handover" && c.Application == "default" && len(c.Subflows) == 1 && activeOn("wlan0")(c)
	})
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	time.Sleep(300 * time.Millisecond)
	// The traffic really is on cellular: the cellular subflow carries data.
	c := connectionOf(t, tb.Client, s.conn.LocalAddr(), 1)
	onCell := false
	for _, sf := range c.Subflows {
		onCell = onCell || (netip.MustParseAddrPort(sf.Local).Addr() == testbed.ClientCell4 && sf.State == "ESTAB" && !sf.Backup)
	}
	if !onCell {
		t.Fatalf("after the cut, no established non-backup subflow from %s: %+v", testbed.ClientCell4, c.Subflows)
	}

	tb.Impair(t, testbed.PathWifi, "clear")
	// Back on Wi-Fi after the hold-down (1 s), with the cellular subflow gone.
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return activeOn("wlan0")(c) && len(c.Subflows) == 1
	})
	time.Sleep(300 * time.Millisecond)
	c = connectionOf(t, tb.Client, s.conn.LocalAddr(), 1)
	for _, sf := range c.Subflows {
		if netip.MustParseAddrPort(sf.Local).Addr() == testbed.ClientCell4 && sf.State == "ESTAB" {
			t.Errorf("cellular subflow still established after the hold-down: %+v", c.Subflows)
		}
	}
	r := s.wait(t)
	t.Logf("stream: %v", r)
	if r.Received < 100 {
		t.Errorf("stream too short to prove anything: %v", r)
	}
}
