package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// The daemon's modes end to end: handover (address removed, warm standby,
// restart, IPv6, a flapping Wi-Fi), interactive, aggregate and single,
// each on its own testbed with the real kernel.

// dmConfig is a configuration whose default policy has mode and, if not
// empty, the handover settings given (a YAML flow mapping's body).
func dmConfig(mode, handover string) string {
	c := `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: ` + mode + "\n"
	if handover != "" {
		c += "  handover: { " + handover + " }\n"
	}
	return c
}

// dmSub is one subflow of `connection show -j`, reduced to what the tests
// check.
type dmSub struct {
	Local        netip.Addr
	State        string
	Backup       bool
	BackupRemote bool
}

func (s dmSub) String() string {
	b := ""
	if s.Backup {
		b += " backup"
	}
	if s.BackupRemote {
		b += " backup_remote"
	}
	return fmt.Sprintf("%s %s%s", s.Local, s.State, b)
}

// dmSubs returns the subflows of c.
func dmSubs(c connJSON) []dmSub {
	out := make([]dmSub, 0, len(c.Subflows))
	for _, sf := range c.Subflows {
		ap, _ := netip.ParseAddrPort(sf.Local)
		out = append(out, dmSub{Local: ap.Addr().Unmap(), State: sf.State, Backup: sf.Backup, BackupRemote: sf.BackupRemote})
	}
	return out
}

// dmEstab returns the established subflows of c.
func dmEstab(c connJSON) []dmSub {
	return slices.DeleteFunc(dmSubs(c), func(s dmSub) bool { return s.State != "ESTAB" })
}

// dmShape describes subflows for comparisons and messages: "ADDR[ backup]"
// for each, sorted, comma-separated.
func dmShape(subs []dmSub) string {
	var parts []string
	for _, s := range subs {
		p := s.Local.String()
		if s.Backup {
			p += " backup"
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// dmPollConn polls `connection show -j` in ns for up to 5 s until the
// connection for which match holds also satisfies ok. It returns that
// connection, or a message with want and what it saw last.
func dmPollConn(t testing.TB, ns string, match func(connJSON) bool, want string, ok func(connJSON) bool) (connJSON, string) {
	t.Helper()
	var last []connJSON
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		last = connections(t, ns)
		for _, c := range last {
			if match(c) && ok(c) {
				return c, ""
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, c := range last {
				if match(c) {
					got = append(got, fmt.Sprintf("%s -> %s subflows %v", c.Local, c.Remote, dmSubs(c)))
				}
			}
			return connJSON{}, fmt.Sprintf("connection show -j in %s: want %s within 5s; got %q", ns, want, got)
		}
	}
}

// dmWaitConn is dmPollConn failing the test at once.
func dmWaitConn(t testing.TB, ns string, match func(connJSON) bool, want string, ok func(connJSON) bool) connJSON {
	t.Helper()
	c, msg := dmPollConn(t, ns, match, want, ok)
	if msg != "" {
		t.Fatal(msg)
	}
	return c
}

// dmCheckConn is dmPollConn marking the test failed and going on.
func dmCheckConn(t testing.TB, ns string, match func(connJSON) bool, want string, ok func(connJSON) bool) {
	t.Helper()
	if _, msg := dmPollConn(t, ns, match, want, ok); msg != "" {
		t.Error(msg)
	}
}

// dmCheckDaemon polls the daemon's view of the connection from local for
// up to 5 s until ok holds, and marks the test failed otherwise.
func dmCheckDaemon(t testing.TB, d *daemonProc, local netip.AddrPort, want string, ok func(control.ConnStatus) bool) {
	t.Helper()
	var last []control.ConnStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = last[:0]
		for _, c := range d.status().Connections {
			if c.Local == local.String() {
				if ok(c) {
					return
				}
				last = append(last, c)
			}
		}
	}
	t.Errorf("daemon's view of %s: want %s within 5s; got %+v", local, want, last)
}

// dmLocalIs matches the client's connection whose local address is local.
func dmLocalIs(local netip.AddrPort) func(connJSON) bool {
	return func(c connJSON) bool { return c.Local == local.String() }
}

// dmRemoteIs matches the server's side of the connection from remote.
func dmRemoteIs(remote netip.AddrPort) func(connJSON) bool {
	return func(c connJSON) bool { return c.Remote == remote.String() }
}

// dmEstabShape is a condition for dmWaitConn: the established subflows are
// exactly shape (see dmShape).
func dmEstabShape(shape string) func(connJSON) bool {
	return func(c connJSON) bool { return dmShape(dmEstab(c)) == shape }
}

// dmDaemonShape describes the daemon's view of a connection's subflows
// like dmShape: "INTERFACE[ backup]", sorted, comma-separated.
func dmDaemonShape(c control.ConnStatus) string {
	var parts []string
	for _, sf := range c.Subflows {
		p := sf.Interface
		if p == "" {
			p = "?" + sf.Local
		}
		if sf.Backup {
			p += " backup"
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// dmDaemonIs is a condition for daemonProc.conn: the daemon's subflows of
// the connection are exactly shape (see dmDaemonShape).
func dmDaemonIs(shape string) func(control.ConnStatus) bool {
	return func(c control.ConnStatus) bool { return dmDaemonShape(c) == shape }
}

// dmGap logs the stream's result and fails the test if it is too short to
// prove anything.
func dmGap(t testing.TB, s *streamer, least uint64) {
	t.Helper()
	r := s.wait(t)
	t.Logf("stream: %v", r)
	if r.Received < least {
		t.Errorf("stream too short to prove anything: want at least %d records echoed, got %v", least, r)
	}
}

func TestIntegrationDaemonAddressRemoved(t *testing.T) {
	t.Parallel()
	tb, d, ms := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == "handover" && c.Application == "default" && dmDaemonIs("wlan0")(c) && activeOn("wlan0")(c)
	})
	stok := ms.expect(t, "ESTABLISHED", map[string]any{"dport": int(local.Port())}).str("token")
	dmStatusCLI(t, d, local)
	time.Sleep(300 * time.Millisecond)

	ip(t, tb.Client, "addr", "del", testbed.ClientWifi4.String()+"/24", "dev", testbed.WifiDev)
	// The initial subflow's address (ID 0) is gone: the peer is told so.
	ms.expect(t, "REMOVED", map[string]any{"token": stok, "remid": 0})
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	dmWaitConn(t, tb.Client, dmLocalIs(local), "an established subflow from "+testbed.ClientCell4.String()+", not backup",
		func(c connJSON) bool {
			return slices.ContainsFunc(dmEstab(c), func(s dmSub) bool { return s.Local == testbed.ClientCell4 && !s.Backup })
		})
	time.Sleep(300 * time.Millisecond) // the stream runs on cellular for a while
	dmGap(t, s, 50)

	// The subflow of the address that went is closed, in the kernel and
	// in the daemon's view. The kernel's REMOVE for the userspace PM only
	// sends RM_ADDR (its peer closes its side): closing our subflows on
	// that address is the path manager's job, as DESIGN.md says ("its
	// subflows are closed and REMOVE_ADDR is sent").
	dmCheckConn(t, tb.Client, dmLocalIs(local), "exactly one established subflow, from "+testbed.ClientCell4.String()+
		" (none left from the removed "+testbed.ClientWifi4.String()+")", dmEstabShape(testbed.ClientCell4.String()))
	dmCheckDaemon(t, d, local, "only the subflow on wwan0 (shape \"wwan0\")", dmDaemonIs("wwan0"))
}

// dmStatusCLI checks `mptcp-pm -j status --control PATH`: JSON that has
// the connection from local.
func dmStatusCLI(t testing.TB, d *daemonProc, local netip.AddrPort) {
	t.Helper()
	out := mustCLI(t, "", "-j", "status", "--control", d.control)
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("mptcp-pm -j status --control %s: not JSON (%v): %q", d.control, err, out)
	}
	var locals []string
	for _, c := range st.Connections {
		locals = append(locals, c.Local)
		if c.Local == local.String() {
			if c.Application != "default" || c.Mode != "handover" || len(c.Subflows) != 1 {
				t.Errorf("status -j: connection %s: want application default, mode handover, 1 subflow; got %+v", local, c)
			}
			return
		}
	}
	t.Fatalf("status -j: want the connection from %s; got connections from %q", local, locals)
}

func TestIntegrationDaemonInteractive(t *testing.T) {
	t.Parallel()
	dmEveryPath(t, "interactive")
}

func TestIntegrationDaemonAggregate(t *testing.T) {
	t.Parallel()
	dmEveryPath(t, "aggregate")
}

// dmEveryPath runs the scenario of the modes with a subflow on every path:
// both from the start, none backup; the Wi-Fi one goes with the link and
// comes back with it.
func dmEveryPath(t *testing.T, mode string) {
	tb, d, _ := newDaemonBed(t, dmConfig(mode, ""), nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	both := testbed.ClientWifi4.String() + "," + testbed.ClientCell4.String()
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == mode && dmDaemonIs("wlan0,wwan0")(c) && (activeOn("wlan0", "wwan0")(c) || activeOn("wwan0", "wlan0")(c))
	})
	dmWaitConn(t, tb.Client, dmLocalIs(local), "two established subflows, from "+both+", neither backup", dmEstabShape(both))
	dmCheckCounts(t, d)
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "only the subflow from "+testbed.ClientCell4.String()+" established",
		dmEstabShape(testbed.ClientCell4.String()))
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "clear")
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0,wwan0"))
	dmWaitConn(t, tb.Client, dmLocalIs(local), "a Wi-Fi subflow back: two established subflows, from "+both+", neither backup",
		dmEstabShape(both))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 100)
}

// dmCheckCounts checks the status's counts and event-to-command latency
// (the second subflow was a command caused by a kernel event), in full and
// brief.
func dmCheckCounts(t *testing.T, d *daemonProc) {
	t.Helper()
	st := d.status()
	subflows := 0
	for _, c := range st.Connections {
		subflows += len(c.Subflows)
	}
	if st.ConnectionCount != len(st.Connections) || st.SubflowCount != subflows {
		t.Fatalf("status counts %d connections, %d subflows; it lists %d, %d", st.ConnectionCount, st.SubflowCount, len(st.Connections), subflows)
	}
	l := st.Latency
	if l.Count < 1 || l.Window != min(l.Count, 65536) || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Fatalf("event-to-command latency after a subflow was created: %+v", l)
	}
	if st.Runtime.Goroutines == 0 || st.Runtime.HeapInuseBytes == 0 {
		t.Fatalf("runtime status: %+v", st.Runtime)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := control.Ask(ctx, d.control, control.Request{Query: control.QueryStatus, Brief: true})
	if err != nil {
		t.Fatalf("brief status: %v", err)
	}
	if b := r.Status; b.Connections != nil || b.ConnectionCount != st.ConnectionCount || b.SubflowCount != st.SubflowCount || b.Latency.Count < l.Count {
		t.Fatalf("brief status: %d listed, counts %d/%d, latency %+v; full: counts %d/%d, latency %+v",
			len(b.Connections), b.ConnectionCount, b.SubflowCount, b.Latency, st.ConnectionCount, st.SubflowCount, l)
	}
}

func TestIntegrationDaemonSingle(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("single", ""), nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == "single" && c.Established && dmDaemonIs("wlan0")(c)
	})
	// Before, while and after the cellular link is cut, the connection
	// never has a second subflow: four looks 100 ms apart in each phase
	// (counted, not timed: under load a look takes long).
	start := time.Now()
	for _, impair := range []string{"", "cut", "clear"} {
		if impair != "" {
			tb.Impair(t, testbed.PathCell, impair)
		}
		for range 4 {
			found := false
			for _, c := range connections(t, tb.Client) {
				if c.Local != local.String() {
					continue
				}
				found = true
				if len(c.Subflows) != 1 || dmShape(dmEstab(c)) != testbed.ClientWifi4.String() {
					t.Fatalf("single mode at %v (cellular %q): want exactly one subflow, from %s, established; got %v",
						time.Since(start).Round(time.Millisecond), impair, testbed.ClientWifi4, dmSubs(c))
				}
			}
			if !found {
				t.Fatalf("single mode: connection from %s not in connection show", local)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if st := d.status(); st.Commands != 0 {
		t.Errorf("single mode: want no command sent to the kernel, got %d (refused %d)", st.Commands, st.Refused)
	}
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0"))
	dmGap(t, s, 100)
}

func TestIntegrationDaemonWarmStandby(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("handover", "hold_down: 1s, warm_standby: true"), nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return dmDaemonIs("wlan0,wwan0 backup")(c) && activeOn("wlan0")(c)
	})
	standby := testbed.ClientWifi4.String() + "," + testbed.ClientCell4.String() + " backup"
	dmWaitConn(t, tb.Client, dmLocalIs(local), "established subflows "+standby, dmEstabShape(standby))
	dmWaitConn(t, tb.Server, dmRemoteIs(local), "on the server, the subflow to "+testbed.ClientCell4.String()+" backup_remote",
		func(c connJSON) bool {
			for _, sf := range c.Subflows {
				if strings.HasPrefix(sf.Remote, testbed.ClientCell4.String()+":") && sf.BackupRemote {
					return true
				}
			}
			return false
		})
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "the standby promoted: only "+testbed.ClientCell4.String()+" established, not backup",
		dmEstabShape(testbed.ClientCell4.String()))
	dmWaitConn(t, tb.Server, dmRemoteIs(local), "on the server, the subflow to "+testbed.ClientCell4.String()+" established, no longer backup_remote",
		func(c connJSON) bool {
			for _, sf := range c.Subflows {
				if strings.HasPrefix(sf.Remote, testbed.ClientCell4.String()+":") && sf.State == "ESTAB" && !sf.BackupRemote {
					return true
				}
			}
			return false
		})
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 50)
}

func TestIntegrationDaemonRestart(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0"))
	time.Sleep(200 * time.Millisecond)

	// A crash: the connection lives on without the daemon.
	d.kill9()
	time.Sleep(500 * time.Millisecond)
	dmWaitConn(t, tb.Client, dmLocalIs(local), "the connection with its subflow from "+testbed.ClientWifi4.String(),
		dmEstabShape(testbed.ClientWifi4.String()))
	d.restart()
	c := d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0"))
	if c.Application != "default" || c.Mode != "handover" || !c.Established || c.ServerSide || !activeOn("wlan0")(c) {
		t.Fatalf("after the restart: want the connection adopted (application default, mode handover, established, client side, active wlan0); got %+v", c)
	}
	// It manages the connection again.
	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "only "+testbed.ClientCell4.String()+" established after the cut",
		dmEstabShape(testbed.ClientCell4.String()))
	tb.Impair(t, testbed.PathWifi, "clear")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wlan0")(c) && dmDaemonIs("wlan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "back on "+testbed.ClientWifi4.String()+" only after the hold-down",
		dmEstabShape(testbed.ClientWifi4.String()))

	// A crash in the middle of a handover: the restarted daemon converges,
	// whether the old one acted on the cut before it died or not.
	tb.Impair(t, testbed.PathWifi, "cut")
	d.kill9()
	d.restart()
	dmConvergedOnCell(t, tb, d, s, local, "after a crash during the handover")

	// A crash that misses the cut altogether: the new daemon finds the
	// subflow on a link that is down in the kernel's dump.
	tb.Impair(t, testbed.PathWifi, "clear")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wlan0")(c) && dmDaemonIs("wlan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "back on "+testbed.ClientWifi4.String()+" only after the hold-down",
		dmEstabShape(testbed.ClientWifi4.String()))
	d.kill9()
	tb.Impair(t, testbed.PathWifi, "cut")
	d.restart()
	dmConvergedOnCell(t, tb, d, s, local, "after a crash before the cut")
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 200)
}

// dmConvergedOnCell waits for the daemon's view and the kernel to agree
// that the connection from local runs on cellular alone.
func dmConvergedOnCell(t *testing.T, tb *testbed.Testbed, d *daemonProc, s *streamer, local netip.AddrPort, when string) {
	t.Helper()
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), when+", exactly one established subflow, from "+testbed.ClientCell4.String()+", not backup",
		dmEstabShape(testbed.ClientCell4.String()))
}

func TestIntegrationDaemonHandoverIPv6(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	// No listener of its own: the bed's echo server on 0.0.0.0:5201 is a
	// dual-stack AF_INET6 socket (Go listens on [::] for "tcp" and a
	// wildcard address), which takes IPv6 connections as well.
	s := startStream(t, tb, testbed.ClientWifi6, netip.AddrPortFrom(testbed.Server6, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return c.Mode == "handover" && dmDaemonIs("wlan0")(c) && activeOn("wlan0")(c)
	})
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && dmDaemonIs("wwan0")(c) })
	dmWaitConn(t, tb.Client, dmLocalIs(local), "only "+testbed.ClientCell6.String()+" established after the cut",
		dmEstabShape(testbed.ClientCell6.String()))
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "clear")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wlan0")(c) && dmDaemonIs("wlan0")(c) })
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 100)
	dmCheckConn(t, tb.Client, dmLocalIs(local), "back on Wi-Fi after the hold-down: exactly one established subflow, from "+
		testbed.ClientWifi6.String()+", not backup", dmEstabShape(testbed.ClientWifi6.String()))
}

func TestIntegrationDaemonWifiFlap(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0"))
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	for i := range 20 {
		tb.Impair(t, testbed.PathWifi, "cut")
		time.Sleep(100 * time.Millisecond)
		tb.Impair(t, testbed.PathWifi, "clear")
		// Let the next cycle start 200 ms after this one did.
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 200 * time.Millisecond)))
	}
	t.Logf("20 cut/clear cycles in %v", time.Since(start).Round(time.Millisecond))

	// After the hold-down: back on Wi-Fi, nothing left over.
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wlan0")(c) && dmDaemonIs("wlan0")(c) })
	time.Sleep(200 * time.Millisecond)
	dmGap(t, s, 200)
	dmCheckConn(t, tb.Client, dmLocalIs(local), "exactly one subflow, from "+testbed.ClientWifi4.String()+
		", established, not backup (none left from "+testbed.ClientCell4.String()+")",
		func(c connJSON) bool { return len(c.Subflows) == 1 && dmEstabShape(testbed.ClientWifi4.String())(c) })
	st := d.status()
	t.Logf("daemon: %d commands, %d refused, %d resyncs", st.Commands, st.Refused, st.Resyncs)
	if st.Commands < 4 {
		t.Errorf("flapping: want at least 4 commands (a handover and the way back), got %d", st.Commands)
	}
	if st.Refused > 10 {
		t.Errorf("flapping: want at most 10 commands refused by the kernel, got %d of %d", st.Refused, st.Commands)
	}
}

// TestIntegrationDaemonHandoverMakeBeforeBreak: when the preferred path
// comes back but its subflow cannot be established (the link is up, the
// path drops everything), the end of the hold-down must not close the
// subflow on the backup path: it is the only one that carries the stream.
func TestIntegrationDaemonHandoverMakeBeforeBreak(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := testutil.AddrPort(t, s.conn.LocalAddr())
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0"))
	time.Sleep(200 * time.Millisecond)
	tb.Impair(t, testbed.PathWifi, "cut")
	dmConvergedOnCell(t, tb, d, s, local, "after the cut")

	// Wi-Fi is up again but silent: the daemon's join on it gets no answer.
	tb.Impair(t, testbed.PathWifi, "blackhole")
	time.Sleep(2 * time.Second) // the hold-down (1 s) is over
	dmCheckConn(t, tb.Client, dmLocalIs(local), "the subflow from "+testbed.ClientCell4.String()+
		" still established and not backup while no Wi-Fi subflow is established",
		func(c connJSON) bool {
			return slices.ContainsFunc(dmEstab(c), func(s dmSub) bool { return s.Local == testbed.ClientCell4 && !s.Backup })
		})

	tb.Impair(t, testbed.PathWifi, "clear")
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wlan0")(c) && dmDaemonIs("wlan0")(c) })
	time.Sleep(200 * time.Millisecond)
	dmGap(t, s, 200)
}
