package tests

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
	"golang.org/x/sys/unix"
)

// Faults: a link flapping hundreds of times, commands the kernel refuses,
// connections closing under the daemon's feet, a peer flooding ADD_ADDR
// and REMOVE_ADDR, and a lost event stream. Each test checks that the
// daemon's view ends up equal to the kernel's and that what it sends the
// kernel stays bounded.

// faultSubflows describes a set of subflows as "LOCAL->REMOTE" strings,
// sorted, addresses unmapped.
func faultSubflows(pairs [][2]string) string {
	var out []string
	for _, p := range pairs {
		out = append(out, faultUnmap(p[0])+"->"+faultUnmap(p[1]))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func faultUnmap(s string) string {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return s
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// faultKernelView returns the kernel's established client-side MPTCP
// connections in ns, by token, each as its subflows (see faultSubflows);
// every subflow counts, whatever its state, so a leaked or half-closed
// one shows. Listeners and closing connections are left out.
func faultKernelView(t testing.TB, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range connections(t, ns) {
		if c.State != "ESTAB" || c.Token == "" {
			continue
		}
		var pairs [][2]string
		for _, sf := range c.Subflows {
			p := [2]string{sf.Local, sf.Remote}
			if sf.State != "ESTAB" {
				p[1] += "(" + sf.State + ")"
			}
			pairs = append(pairs, p)
		}
		out[c.Token] = faultSubflows(pairs)
	}
	return out
}

// faultDaemonView is the daemon's view in the same form.
func faultDaemonView(st *control.Status) map[string]string {
	out := map[string]string{}
	for _, c := range st.Connections {
		var pairs [][2]string
		for _, sf := range c.Subflows {
			pairs = append(pairs, [2]string{sf.Local, sf.Remote})
		}
		out[c.Token] = faultSubflows(pairs)
	}
	return out
}

// faultConverge polls for up to timeout until the daemon's view equals the
// kernel's exactly (the same connections, each with the same subflows)
// and ok holds for the kernel's view; it fails the test otherwise and
// returns the view.
func faultConverge(t testing.TB, ns string, d *daemonProc, timeout time.Duration, what string, ok func(map[string]string) bool) map[string]string {
	t.Helper()
	var kv, dv map[string]string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		kv = faultKernelView(t, ns)
		dv = faultDaemonView(d.status())
		if fmt.Sprint(kv) == fmt.Sprint(dv) && ok(kv) {
			// Once more after a pause: a view that holds, not a passing one.
			time.Sleep(200 * time.Millisecond)
			kv2, dv2 := faultKernelView(t, ns), faultDaemonView(d.status())
			if fmt.Sprint(kv2) == fmt.Sprint(kv) && fmt.Sprint(dv2) == fmt.Sprint(dv) {
				return kv
			}
		}
	}
	t.Fatalf("%s: the daemon's view and the kernel's did not converge within %v\nkernel: %v\ndaemon: %v", what, timeout, kv, dv)
	return nil
}

// faultCreateLimit is the most subflow creations the engine's rate limit
// lets one connection have over a span d.
func faultCreateLimit(d time.Duration) int {
	return engine.CreateBurst + int(d/engine.CreateInterval) + 1
}

// faultCreations counts the subflow creations the daemon's log shows for
// token (accepted or refused) in log.
func faultCreations(log, token string) int {
	return strings.Count(log, "create-subflow token "+token+" ")
}

// faultFlap sets the router side dev of a path's link down and up n
// times, one flap every period, with SIOCSIFFLAGS on a socket of the
// router's namespace (ip(8) per flap would be too slow). It returns how
// long the storm took.
func faultFlap(t testing.TB, tb *testbed.Testbed, dev string, n int, period time.Duration) time.Duration {
	t.Helper()
	link := routerLinks(t, tb)
	start := time.Now()
	for i := range n {
		link(dev, false)
		time.Sleep(period / 2)
		link(dev, true)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * period)))
	}
	return time.Since(start)
}

// routerLinks returns a function that sets a link of the router's
// namespace up or down with SIOCSIFFLAGS (ip(8) or impair.sh take tens to
// hundreds of milliseconds).
func routerLinks(t testing.TB, tb *testbed.Testbed) func(dev string, up bool) {
	t.Helper()
	var fd int
	err := testbed.Do(tb.Router, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatalf("socket in %s: %v", tb.Router, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return func(dev string, up bool) {
		t.Helper()
		ifr, err := unix.NewIfreq(dev)
		if err == nil {
			err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		}
		if err == nil {
			flags := ifr.Uint16() &^ unix.IFF_UP
			if up {
				flags |= unix.IFF_UP
			}
			ifr.SetUint16(flags)
			err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		}
		if err != nil {
			t.Fatalf("set %s up=%v: %v", dev, up, err)
		}
	}
}

// TestIntegrationDaemonFaultFlapStorm: the Wi-Fi link goes down and up 500
// times in a row while a stream runs. Afterwards the connection has the
// subflows its policy wants, in the kernel and in the daemon's view, none
// leaked; the stream lost nothing; and the subflows the daemon created
// for the connection during the storm stay within the engine's
// per-connection rate limit.
func TestIntegrationDaemonFaultFlapStorm(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want string // the kernel's subflows once settled, by local address
	}{
		{"handover", testbed.ClientWifi4.String()},
		{"interactive", testbed.ClientWifi4.String() + "," + testbed.ClientCell4.String()},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			tb, d, _ := newDaemonBed(t, dmConfig(tc.mode, "hold_down: 1s"), nil)
			s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
			local := testutil.AddrPort(t, s.conn.LocalAddr())
			settled := func(kv map[string]string) bool {
				if len(kv) != 1 {
					return false
				}
				var locals []string
				for _, subs := range kv {
					for _, p := range strings.Split(subs, ",") {
						ap, err := netip.ParseAddrPort(strings.SplitN(p, "->", 2)[0])
						if err != nil || strings.Contains(p, "(") {
							return false
						}
						locals = append(locals, ap.Addr().String())
					}
				}
				slices.Sort(locals)
				return strings.Join(locals, ",") == tc.want
			}
			kv := faultConverge(t, tb.Client, d, 10*time.Second, "before the storm", settled)
			var token string
			for tok := range kv {
				token = tok
			}
			time.Sleep(200 * time.Millisecond)

			before := d.status()
			mark := len(d.log.String())
			start := time.Now()
			took := faultFlap(t, tb, "rwlan0", 500, 6*time.Millisecond)
			tb.Impair(t, testbed.PathWifi, "clear") // link up, neighbours flushed
			faultConverge(t, tb.Client, d, 15*time.Second, "after 500 flaps", settled)
			elapsed := time.Since(start)
			after := d.status()
			creations := faultCreations(d.log.String()[mark:], token)
			t.Logf("500 flaps of wlan0 in %v; converged after %v: %d subflow creations for %s, %d commands (%d refused)",
				took.Round(time.Millisecond), elapsed.Round(time.Millisecond), creations, token,
				after.Commands-before.Commands, after.Refused-before.Refused)
			if limit := faultCreateLimit(elapsed); creations > limit {
				t.Errorf("%d subflow creations for connection %s in %v: the per-connection limit allows %d", creations, token,
					elapsed.Round(time.Millisecond), limit)
			}
			dmCheckDaemon(t, d, local, "the connection's subflows as the policy wants", func(c control.ConnStatus) bool {
				return len(c.Subflows) == strings.Count(tc.want, ",")+1
			})
			dmGap(t, s, 100)
		})
	}
}

// faultBackoffLimit is the most attempts one path gets over a span d when
// every attempt fails: the engine backs off from 500 ms, doubling up to
// 30 s (engine/), plus one for an attempt already under way.
func faultBackoffLimit(d time.Duration) int {
	n, wait, next := 1, 500*time.Millisecond, time.Duration(0)
	for next+wait <= d {
		next += wait
		wait = min(2*wait, 30*time.Second)
		n++
	}
	return n + 1
}

// TestIntegrationDaemonFaultRefused: every subflow on the cellular path
// fails (a firewall answers its SYN with a reset: the join dies with an
// error, while the route to the server is there, so the daemon tries).
// The daemon backs off, doubling from 500 ms (no retry storm), and its
// view stays the kernel's; once the firewall lets it through, the subflow
// comes. (A path whose route is missing or prohibited is not tried at
// all: TestIntegrationPathWithoutRoute.) (Refusals of the command itself, with the kernel's extended ack
// in the log, are in TestIntegrationDaemonFaultShortConnections.)
func TestIntegrationDaemonFaultRefused(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("interactive", ""), nil)
	refuse := nftScript(t, tb.Client, fmt.Sprintf(`add table inet fault_refuse
add chain inet fault_refuse out { type filter hook output priority 0; policy accept; }
add rule inet fault_refuse out ip saddr %s ip daddr %s tcp flags syn reject with tcp reset
`, testbed.ClientCell4, testbed.Server4))
	start := time.Now()
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	kv := faultConverge(t, tb.Client, d, 5*time.Second, "with the cellular path refused", func(kv map[string]string) bool {
		return len(kv) == 1 && !strings.Contains(fmt.Sprint(kv), testbed.ClientCell4.String())
	})
	var token string
	for tok := range kv {
		token = tok
	}
	time.Sleep(4 * time.Second)
	log := d.log.String()
	elapsed := time.Since(start)
	attempts := faultCreations(log, token)
	st := d.status()
	t.Logf("in %v: %d attempts on the refused path, %d commands, %d refused by the kernel", elapsed.Round(time.Millisecond),
		attempts, st.Commands, st.Refused)
	if limit := faultBackoffLimit(elapsed); attempts < 2 || attempts > limit {
		t.Errorf("%d attempts on the refused path in %v: want a retry, and at most %d (the back-off)", attempts, elapsed, limit)
	}
	faultConverge(t, tb.Client, d, 5*time.Second, "with the cellular path refused", func(kv map[string]string) bool {
		return len(kv) == 1 && !strings.Contains(fmt.Sprint(kv), testbed.ClientCell4.String())
	})
	// Once the firewall lets it through, the subflow comes at the end of
	// the back-off.
	refuse()
	faultConverge(t, tb.Client, d, 40*time.Second, "with the join let through", func(kv map[string]string) bool {
		return len(kv) == 1 && strings.Contains(fmt.Sprint(kv), testbed.ClientCell4.String())
	})
	dmGap(t, s, 100)
}

// TestIntegrationDaemonFaultShortConnections: 200 connections close right
// after they connect, in interactive mode where each ESTABLISHED asks for
// a subflow: commands race the closes. The daemon goes on, forgets every
// connection, and does not retry commands for connections that are gone.
func TestIntegrationDaemonFaultShortConnections(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, dmConfig("interactive", ""), nil)
	const n = 200
	err := testbed.Do(tb.Client, func() error {
		var dl net.Dialer
		dl.SetMultipathTCP(true)
		dl.LocalAddr = &net.TCPAddr{IP: testbed.ClientWifi4.AsSlice()}
		for i := range n {
			c, err := dl.Dial("tcp", netip.AddrPortFrom(testbed.Server4, 5201).String())
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			if i%2 == 0 {
				// Some get a record through first, so that the
				// daemon's subflow may be on its way.
				_, _ = c.Write([]byte("x"))
			}
			if err := c.Close(); err != nil {
				return fmt.Errorf("close connection %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	faultConverge(t, tb.Client, d, 20*time.Second, "after the short connections", func(kv map[string]string) bool { return len(kv) == 0 })
	st := d.status()
	time.Sleep(1500 * time.Millisecond)
	st2 := d.status()
	t.Logf("%d short connections: %d commands, %d refused, %d resyncs", n, st2.Commands, st2.Refused, st2.Resyncs)
	if st2.Commands != st.Commands || len(st2.Connections) != 0 {
		t.Errorf("with no connection left, commands went on: %d, then %d 1.5 s later (%d connections)", st.Commands, st2.Commands,
			len(st2.Connections))
	}
	// At most a creation per connection, and one close-related command.
	if st2.Commands > 2*n {
		t.Errorf("%d commands for %d connections", st2.Commands, n)
	}
	// Commands for connections gone are refused, and logged with the
	// kernel's extended ack ("invalid token", net/mptcp/pm_netlink.c).
	for _, l := range strings.Split(d.log.String(), "\n") {
		if strings.Contains(l, "kernel refused") && !strings.Contains(l, "err=\"genl: ") {
			t.Errorf("a refusal logged without the kernel's error: %s", l)
		}
	}
	if st2.Refused > 0 && !strings.Contains(d.log.String(), "invalid token") {
		t.Errorf("%d refusals, none logged with the kernel's message \"invalid token\"", st2.Refused)
	}
	if strings.Contains(d.log.String(), "level=ERROR") {
		t.Errorf("the daemon logged an error")
	}
	// And it still manages new connections.
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	d.conn(s.conn.LocalAddr(), dmDaemonIs("wlan0,wwan0"))
	time.Sleep(300 * time.Millisecond)
	dmGap(t, s, 10)
}

// The "peer announcement ignored" line's rate (daemon/ratelog.go): per
// connection, the first 3 in 10 s.
const (
	faultAnnounceLogBurst    = 3
	faultAnnounceLogInterval = 10 * time.Second
)

// TestIntegrationDaemonFaultAnnounceFlood: the server, a userspace PM
// driven by the test, floods the client with ADD_ADDR (IDs 1..255, over
// and over) and REMOVE_ADDR. With the default policy nothing is joined and
// the log stays short; with a policy that accepts announcements, the
// subflows stay under the cap and their creation under the rate limit.
func TestIntegrationDaemonFaultAnnounceFlood(t *testing.T) {
	for _, tc := range []struct {
		name, config string
	}{
		{"ignored", dmConfig("interactive", "")},
		{"accepted", dmConfig("aggregate", "") + "  accept_announcements: true\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb, d, ms := newDaemonBed(t, tc.config, nil)
			s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
			local := testutil.AddrPort(t, s.conn.LocalAddr())
			stok := ms.expect(t, "ESTABLISHED", map[string]any{"dport": int(local.Port())}).str("token")
			var token uint32
			if _, err := fmt.Sscanf(stok, "%x", &token); err != nil {
				t.Fatalf("server token %q: %v", stok, err)
			}
			kv := faultConverge(t, tb.Client, d, 10*time.Second, "before the flood", func(kv map[string]string) bool {
				return len(kv) == 1 && strings.Count(fmt.Sprint(kv), "->") == 2
			})
			var ctok string
			for tok := range kv {
				ctok = tok
			}
			pm, err := genl.New(&genl.Config{NetNS: tb.NetNSFD(t, tb.Server)})
			if err != nil {
				t.Fatalf("genl in %s: %v", tb.Server, err)
			}
			defer pm.Close()

			mark := len(d.log.String())
			start := time.Now()
			var announced, refused, most int
			for round := range 3 {
				for id := 1; id <= 255; id++ {
					ep := genl.Endpoint{ID: uint8(id), Addr: testbed.Server4b, Port: uint16(6000 + id)}
					if id == 1 {
						ep.Port = 0 // the connection's port: a join that works
					}
					if err := pm.Announce(token, ep); err != nil {
						refused++
					} else {
						announced++
					}
					if id%32 == 0 {
						kv := faultKernelView(t, tb.Client)
						most = max(most, strings.Count(kv[ctok], "->"))
					}
				}
				if round < 2 {
					for id := 1; id <= 255; id++ {
						_ = pm.Remove(token, uint8(id))
					}
				}
			}
			time.Sleep(time.Second)
			after := d.log.String()[mark:]
			elapsed := time.Since(start)
			got := strings.Count(after, "ANNOUNCED] token="+ctok)
			creations := faultCreations(after, ctok)
			ignored := strings.Count(after, "peer announcement ignored")
			t.Logf("in %v: %d ADD_ADDR sent (%d refused by the server's kernel), %d ANNOUNCED seen by the daemon, %d creations, %d \"ignored\" lines, at most %d subflows",
				elapsed.Round(time.Millisecond), announced, refused, got, creations, ignored, most)
			if got < 10 {
				t.Fatalf("the flood did not reach the daemon: %d ANNOUNCED events", got)
			}
			switch tc.name {
			case "ignored":
				if creations != 0 || strings.Contains(after, "-> "+testbed.Server4b.String()) {
					t.Errorf("%d subflow creations after announcements that the policy ignores", creations)
				}
				if limit := faultAnnounceLogBurst * (int(elapsed/faultAnnounceLogInterval) + 2); ignored > limit || ignored == 0 {
					t.Errorf("%d \"peer announcement ignored\" lines for %d announcements in %v; want 1 to %d", ignored, got, elapsed, limit)
				}
			case "accepted":
				if limit := faultCreateLimit(elapsed); creations > limit {
					t.Errorf("%d subflow creations in %v: the per-connection limit allows %d", creations, elapsed, limit)
				}
				if most > engine.MaxSubflows {
					t.Errorf("the connection had %d subflows, the cap is %d", most, engine.MaxSubflows)
				}
			}
			faultConverge(t, tb.Client, d, 20*time.Second, "after the flood", func(kv map[string]string) bool {
				n := strings.Count(kv[ctok], "->")
				return len(kv) == 1 && n >= 2 && n <= engine.MaxSubflows
			})
			dmGap(t, s, 100)
		})
	}
}

// TestIntegrationDaemonFaultEventOverflow: with the smallest event buffer,
// hundreds of connections opened at once overflow the daemon's event
// socket. It says so, rebuilds its view from the kernel, and ends with
// exactly the kernel's view, each connection with its second subflow.
func TestIntegrationDaemonFaultEventOverflow(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	// The server runs the kernel's path manager: it accepts a join per
	// connection with no monitor of its own to overflow.
	ip(t, tb.Server, "mptcp", "limits", "set", "subflows", "2")
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	d := startDaemonWith(t, tb.Client, writeConfig(t, dmConfig("interactive", ""), nil), "--event-buffer", "4096")
	// The daemon is stopped while the connections open: their events
	// (about 200 bytes each) overflow its 8 KiB socket for sure, however
	// fast it reads.
	const n = 200
	pid := d.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	err := testbed.Do(tb.Client, func() error {
		var dl net.Dialer
		dl.SetMultipathTCP(true)
		dl.LocalAddr = &net.TCPAddr{IP: testbed.ClientWifi4.AsSlice()}
		for i := range n {
			c, err := dl.Dial("tcp", netip.AddrPortFrom(testbed.Server4, 5201).String())
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			conns = append(conns, c)
			// A byte each way: the connection is fully established, the
			// kernel takes joins for it.
			b := []byte{byte(i)}
			if _, err := c.Write(b); err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			if _, err := io.ReadFull(c, b); err != nil {
				return fmt.Errorf("connection %d: echo: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if !d.waitLog("kernel events were lost", 10*time.Second) {
		t.Fatalf("no overflow in the daemon's log with %d connections and --event-buffer 4096", n)
	}
	kv := faultConverge(t, tb.Client, d, 30*time.Second, fmt.Sprintf("%d connections", n), func(kv map[string]string) bool {
		if len(kv) != n {
			return false
		}
		for _, subs := range kv {
			if strings.Count(subs, "->") != 2 || strings.Contains(subs, "(") {
				return false
			}
		}
		return true
	})
	st := d.status()
	t.Logf("%d connections: %d resyncs, %d commands, %d refused", len(kv), st.Resyncs, st.Commands, st.Refused)
	reasons := map[string]int{}
	for _, l := range strings.Split(d.log.String(), "\n") {
		if _, err, ok := strings.Cut(l, "kernel refused"); ok {
			if i := strings.LastIndex(err, ": "); i >= 0 {
				reasons[err[i+2:]]++
			}
		}
	}
	t.Logf("refusals by kernel message: %v", reasons)
	if st.Resyncs < 2 {
		t.Errorf("status counts %d resyncs; want the start's and at least one after the overflow", st.Resyncs)
	}
	// The rebuilt view knows the subflows under way: no connection gets a
	// second creation because of a resync.
	if st.Commands > n+n/10 {
		t.Errorf("%d commands for %d connections that each needed one", st.Commands, n)
	}
}

// nftScript loads an nft script (one table) in ns and returns what deletes
// its table, also done at cleanup.
func nftScript(t testing.TB, ns, script string) (undo func()) {
	t.Helper()
	table := strings.Fields(script)[3] // add table FAMILY NAME
	family := strings.Fields(script)[2]
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", ns, err, out)
	}
	var once sync.Once
	undo = func() {
		once.Do(func() { _ = exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", family, table).Run() })
	}
	t.Cleanup(undo)
	return undo
}
