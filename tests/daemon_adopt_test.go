package tests

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationDaemonAdoptsByOwner: a connection owned by uid 65534
// exists before the daemon starts; the daemon adopts it from its
// sock_diag dump, matches it to the uid policy on the owner the dump
// reports, and manages it in that policy's mode.
func TestIntegrationDaemonAdoptsByOwner(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	sysctl(t, tb.Client, "net.mptcp.pm_type", "1")
	sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
	startMonitor(t, tb.Server) // the server accepts joins only with an events listener
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	done := make(chan map[string]any, 1)
	go func() {
		done <- runStreamAs(t, tb.Client, 65534, "", testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201), 4*time.Second)
	}()
	var local string
	waitFor(t, 5*time.Second, "the uid 65534 connection", func() bool {
		for _, c := range connections(t, tb.Client) {
			local = c.Local
			return true
		}
		return false
	})
	d := startDaemon(t, tb.Client, writeConfig(t, `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: single
`, map[string]string{"nobody.yaml": "name: nobody\nmatch: { uids: [65534] }\nmode: aggregate\n"}))
	c := d.conn(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local)), func(c control.ConnStatus) bool {
		return c.Application == "nobody" && len(c.Subflows) == 2
	})
	t.Logf("adopted: %+v", c)
	select {
	case r := <-done:
		if r["error"] != nil {
			t.Errorf("stream: %v", r)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("the uid 65534 stream did not end")
	}
}
