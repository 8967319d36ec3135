package tests

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationDaemonServerAnnounces: a daemon on the server announces
// a second address, on the connection's port and on a port of its own
// (with its own listener), to every connection of the service; the
// client's daemon, accepting announcements, joins both.
func TestIntegrationDaemonServerAnnounces(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	server := startDaemon(t, tb.Server, writeConfig(t, `
default:
  mode: single
`, map[string]string{"srv.yaml": `
name: srv
match: { ports: [5201] }
mode: single
announce: [10.0.4.2, "10.0.4.2:5301"]
`}))
	client := startDaemon(t, tb.Client, writeConfig(t, `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: aggregate
  accept_announcements: true
`, nil))
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	want := map[string]bool{"10.0.3.2:5201": true, "10.0.4.2:5201": true, "10.0.4.2:5301": true}
	waitFor(t, 10*time.Second, "subflows to every announced address, from both paths", func() bool {
		c := connectionOf(t, tb.Client, s.conn.LocalAddr(), 1)
		got := map[string]int{}
		for _, sf := range c.Subflows {
			if sf.State == "ESTAB" {
				got[sf.Remote]++
			}
		}
		for r := range want {
			if got[r] != 2 {
				return false
			}
		}
		return true
	})
	if !server.waitLog("listening for joins to an announced address", time.Second) ||
		!strings.Contains(server.log.String(), "announce token") {
		t.Errorf("the server daemon's log does not show the listener and the announcements:\n%s", server.log.String())
	}
	// The server's view: the connection is its, on the service's policy.
	found := false
	for _, c := range server.status().Connections {
		found = found || (c.ServerSide && c.Application == "srv")
	}
	if !found {
		t.Errorf("the server daemon does not list the connection under policy srv: %+v", server.status().Connections)
	}
	// The client daemon's view has the six subflows too, none backup.
	c := client.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return len(c.Subflows) == 6 })
	for _, sf := range c.Subflows {
		if sf.Backup {
			t.Errorf("aggregate mode made a backup subflow: %+v", sf)
		}
	}
	time.Sleep(300 * time.Millisecond) // the stream runs over all of them
	t.Logf("stream: %v", s.wait(t))
}
