package tests

import (
	"bufio"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

func TestIntegrationDaemonBlackhole(t *testing.T) {
	for _, source := range []string{"bpf", "sockdiag"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			tb := testbed.New(t)
			sysctl(t, tb.Server, "net.mptcp.pm_type", "1")
			startMonitor(t, tb.Server)
			echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
			d := startDaemonWith(t, tb.Client, writeConfig(t, handoverConfig, nil), "--quality", source)
			if st := d.status(); st.Quality != map[string]string{"bpf": "ebpf", "sockdiag": "sockdiag"}[source] {
				t.Fatalf("daemon measures with %q, want %s", st.Quality, source)
			}
			s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
			d.conn(s.conn.LocalAddr(), activeOn("wlan0"))
			time.Sleep(500 * time.Millisecond)

			t.Logf("blackhole at %s", time.Now().Format("15:04:05.000"))
			tb.Impair(t, testbed.PathWifi, "blackhole")
			// The host sends, so the send side's signals (RTOs, a stall)
			// usually judge the path first. The receive side's silence
			// may: with eBPF the probe's view of what is outstanding is
			// only as fresh as its last callback, and a sender delayed
			// by load leaves nothing outstanding. Silence moves only once
			// a probe of wlan0 failed, so it is a proof too.
			c := d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
				switch c.Bad["wlan0"] {
				case "rto", "stall", "silent":
					return activeOn("wwan0")(c)
				}
				return false
			})
			t.Logf("after the blackhole: %+v", c)
			time.Sleep(500 * time.Millisecond)
			t.Logf("clear at %s", time.Now().Format("15:04:05.000"))
			tb.Impair(t, testbed.PathWifi, "clear")
			// Back on Wi-Fi once a probe has been good for the hold-down.
			waitFor(t, 10*time.Second, "back on wlan0", func() bool {
				for _, c := range d.status().Connections {
					if c.Local == s.conn.LocalAddr().String() {
						return activeOn("wlan0")(c) && len(c.Bad) == 0 && len(c.Subflows) == 1
					}
				}
				return false
			})
			r := s.wait(t)
			t.Logf("stream: %v", r)
			if testing.Verbose() {
				t.Logf("daemon log:\n%s", d.log.String())
			}
			if !strings.Contains(d.log.String(), "wlan0 is bad") {
				t.Errorf("the daemon's log does not say why it moved")
			}
		})
	}
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, timeout)
}

func TestIntegrationDaemonLoss(t *testing.T) {
	for _, source := range []string{"bpf", "sockdiag"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			tb, d, _ := newDaemonBedWith(t, handoverConfig, nil, "--quality", source)
			s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
			d.conn(s.conn.LocalAddr(), activeOn("wlan0"))
			time.Sleep(300 * time.Millisecond)

			tb.Impair(t, testbed.PathWifi, "loss", "30")
			c := d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return activeOn("wwan0")(c) && c.Bad["wlan0"] != "" })
			t.Logf("30%% loss on Wi-Fi: %+v", c.Bad)
			time.Sleep(500 * time.Millisecond)
			tb.Impair(t, testbed.PathWifi, "clear")
			waitFor(t, 10*time.Second, "back on wlan0 after the loss is cleared", func() bool {
				c := d.conn(s.conn.LocalAddr(), func(control.ConnStatus) bool { return true })
				return activeOn("wlan0")(c) && len(c.Bad) == 0 && len(c.Subflows) == 1
			})
			t.Logf("stream: %v", s.wait(t))
		})
	}
}

func TestIntegrationDaemonInteractiveDelay(t *testing.T) {
	t.Parallel()
	const config = `
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: interactive
  handover: { rtt_ms: 150, hold_down: 1s }
`
	tb, d, _ := newDaemonBedWith(t, config, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), activeOn("wlan0", "wwan0"))
	time.Sleep(300 * time.Millisecond)

	tb.Impair(t, testbed.PathWifi, "delay", "300")
	// Wi-Fi is demoted: the kernel sends on cellular only. The reason is
	// the RTT, or the retransmissions that a sudden delay causes when
	// TCP's timer fires before the first late ACK, or the silence of the
	// echoes the peer sends over Wi-Fi: 300 ms more is longer than a
	// probe of the path gets to answer, and then the path is closed, not
	// only demoted.
	c := d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool {
		return activeOn("wwan0")(c) && (c.Bad["wlan0"] == "rtt" || c.Bad["wlan0"] == "loss" || c.Bad["wlan0"] == "silent")
	})
	t.Logf("300 ms on Wi-Fi: %+v", c)
	cs := connectionOf(t, tb.Client, s.conn.LocalAddr(), 2)
	for _, sf := range cs.Subflows {
		if netip.MustParseAddrPort(sf.Local).Addr() == testbed.ClientWifi4 && sf.State == "ESTAB" && !sf.Backup {
			t.Errorf("the slow Wi-Fi subflow is not backup: %+v", cs.Subflows)
		}
	}
	time.Sleep(500 * time.Millisecond)
	tb.Impair(t, testbed.PathWifi, "clear")
	waitFor(t, 10*time.Second, "Wi-Fi promoted again after the delay is gone", func() bool {
		c := d.conn(s.conn.LocalAddr(), func(control.ConnStatus) bool { return true })
		return activeOn("wlan0", "wwan0")(c) && len(c.Bad) == 0
	})
	t.Logf("stream: %v", s.wait(t))
}

// TestIntegrationMonitorQuality: `monitor quality` shows the probes' RTO
// events of a blackholed subflow next to the kernel's events.
func TestIntegrationMonitorQuality(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	cmd := exec.Command(binary, "-n", tb.Client, "-j", "monitor", "quality")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedLog
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("monitor quality: %v (stderr %q)", err, stderr.String())
		}
	})
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	var seen []map[string]any // every line read, in order
	// want returns the first event of type typ for the subflow from local
	// (a kernel event's saddr4 and sport, a quality event's local).
	want := func(typ string, local net.Addr, timeout time.Duration) (map[string]any, bool) {
		t.Helper()
		match := func(m map[string]any) bool {
			l, _ := m["local"].(string) // quality events
			if saddr, ok := m["saddr4"].(string); ok {
				port, _ := m["sport"].(float64) // kernel events
				l = net.JoinHostPort(saddr, strconv.Itoa(int(port)))
			}
			return m["type"] == typ && l == local.String()
		}
		for _, m := range seen {
			if match(m) {
				return m, true
			}
		}
		deadline := time.After(timeout)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("monitor ended (stderr %q)", stderr.String())
				}
				seen = append(seen, m)
				if match(m) {
					return m, true
				}
			case <-deadline:
				return nil, false
			}
		}
	}
	must := func(typ string, local net.Addr) map[string]any {
		t.Helper()
		m, ok := want(typ, local, 5*time.Second)
		if !ok {
			t.Fatalf("no %s event for %s within 5s (stderr %q); seen %v", typ, local, stderr.String(), seen)
		}
		return m
	}
	// The probes measure connections established after they attached,
	// and the monitor prints nothing when it has: short connections until
	// one is measured (attaching takes the verifier's time, long under
	// load).
	waitFor(t, 20*time.Second, "the monitor's probes measure a new connection", func() bool {
		c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
		defer c.Close()
		_, ok := want("MEASURED", c.LocalAddr(), 500*time.Millisecond)
		return ok
	})
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := s.conn.LocalAddr()
	must("ESTABLISHED", local)
	must("MEASURED", local)
	time.Sleep(200 * time.Millisecond)
	tb.Impair(t, testbed.PathWifi, "blackhole")
	m := must("RTO", local)
	if m["rtos"].(float64) < 1 || m["token"] == "" {
		t.Errorf("RTO event: %v", m)
	}
	s.cancel()
}
