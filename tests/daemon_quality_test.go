package tests

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
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
	time.Sleep(300 * time.Millisecond) // the probes attach
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	var seen []map[string]any // every line read, in order
	want := func(typ string, timeout time.Duration) map[string]any {
		t.Helper()
		match := func(m map[string]any) bool {
			local, _ := m["local"].(string) // quality events
			if saddr, ok := m["saddr4"].(string); ok {
				local = saddr // kernel events
			}
			return m["type"] == typ && strings.HasPrefix(local, "10.0.1.2")
		}
		for _, m := range seen {
			if match(m) {
				return m
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
					return m
				}
			case <-deadline:
				t.Fatalf("no %s event for 10.0.1.2 within %v (stderr %q); seen %v", typ, timeout, stderr.String(), seen)
			}
		}
	}
	want("ESTABLISHED", 5*time.Second)
	want("MEASURED", 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	tb.Impair(t, testbed.PathWifi, "blackhole")
	m := want("RTO", 5*time.Second)
	if m["rtos"].(float64) < 1 || m["token"] == "" {
		t.Errorf("RTO event: %v", m)
	}
	s.cancel()
}
