//go:build linux

package netem_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/netem"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

const runDir = "/run/mptcp-pm-testbed" // impair.sh's pid files

// requireIptables skips the test without iptables and ip6tables (fails
// it when CI=true, like testbed.RequirePrivileged).
func requireIptables(t *testing.T) {
	t.Helper()
	testutil.LookPath(t, "iptables")
	testutil.LookPath(t, "ip6tables")
}

// buildNetem builds tests/cmd/mptcp-netem into a temporary directory and
// points impair.sh at it with MPTCP_NETEM.
func buildNetem(t *testing.T) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mptcp-netem")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/mptcp-netem").CombinedOutput()
	if err != nil {
		t.Fatalf("go build mptcp-netem: %v\n%s", err, out)
	}
	t.Setenv("MPTCP_NETEM", bin)
}

// echoServer accepts plain TCP connections in the server namespace and
// echoes them.
func echoServer(t *testing.T, tb *testbed.Testbed) uint16 {
	t.Helper()
	var ln net.Listener
	err := testbed.Do(tb.Server, func() (err error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		ln, err = lc.Listen(context.Background(), "tcp", ":0")
		return err
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// dialTCP connects from src in the client namespace to Server4:port with
// plain TCP.
func dialTCP(t *testing.T, tb *testbed.Testbed, src netip.Addr, port uint16) *net.TCPConn {
	t.Helper()
	var c net.Conn
	err := testbed.Do(tb.Client, func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
		d.SetMultipathTCP(false)
		c, err = d.Dial("tcp", netip.AddrPortFrom(testbed.Server4, port).String())
		return err
	})
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c.(*net.TCPConn)
}

// tcpRTT does a few echo exchanges from src and returns the kernel's
// smoothed RTT of the connection (tcp_info).
func tcpRTT(t *testing.T, tb *testbed.Testbed, src netip.Addr, port uint16) time.Duration {
	t.Helper()
	c := dialTCP(t, tb, src, port)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 100)
	for range 8 {
		if _, err := c.Write(buf); err != nil {
			t.Fatalf("echo write: %v", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("echo read: %v", err)
		}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, ierr)
	}
	return time.Duration(info.Rtt) * time.Microsecond
}

func expectRTT(t *testing.T, tb *testbed.Testbed, port uint16, what string, src netip.Addr, lo, hi time.Duration) {
	t.Helper()
	rtt := tcpRTT(t, tb, src, port)
	t.Logf("%s: TCP RTT from %s: %v", what, src, rtt)
	if rtt < lo || rtt > hi {
		t.Errorf("%s: TCP RTT from %s is %v, want %v..%v", what, src, rtt, lo, hi)
	}
}

// udpEcho sends n sequence-numbered datagrams from src, spaced by gap,
// to a server that records the order they arrive in and echoes them. It
// returns the sequence numbers in the order the server got them, the
// order the echoes came back, and each echo's round-trip time.
func udpEcho(t *testing.T, tb *testbed.Testbed, src netip.Addr, n int, gap time.Duration) (atServer, atClient []uint32, rtts []time.Duration) {
	t.Helper()
	var srv, cli *net.UDPConn
	err := testbed.Do(tb.Server, func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(testbed.Server4, 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	err = testbed.Do(tb.Client, func() (err error) {
		cli, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), srv.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64)
		for {
			srv.SetReadDeadline(time.Now().Add(time.Second))
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			atServer = append(atServer, binary.BigEndian.Uint32(buf))
			srv.WriteToUDPAddrPort(buf[:k], from)
		}
	})
	// Send times since base, stored by the sender and loaded by the
	// receiver: atomics, as the race detector cannot see the network.
	base := time.Now()
	sent := make([]atomic.Int64, n)
	wg.Go(func() {
		buf := make([]byte, 64)
		for {
			cli.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := cli.Read(buf); err != nil {
				return
			}
			seq := binary.BigEndian.Uint32(buf)
			atClient = append(atClient, seq)
			if int(seq) < n {
				rtts = append(rtts, time.Since(base)-time.Duration(sent[seq].Load()))
			}
		}
	})
	buf := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		sent[i].Store(int64(time.Since(base)))
		if _, err := cli.Write(buf); err != nil {
			t.Errorf("send %d: %v", i, err)
		}
		time.Sleep(gap)
	}
	wg.Wait()
	return atServer, atClient, rtts
}

func checkOrder(t *testing.T, where string, seqs []uint32, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Errorf("%s: %d of %d datagrams arrived", where, len(seqs), n)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("%s: datagram %d arrived after %d (position %d): reordered", where, seqs[i], seqs[i-1], i)
			return
		}
	}
}

// bulk sends as fast as it can from src for d and returns the rate at
// which the server received, in Mbit/s.
func bulk(t *testing.T, tb *testbed.Testbed, src netip.Addr, d time.Duration) float64 {
	t.Helper()
	var ln net.Listener
	err := testbed.Do(tb.Server, func() (err error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		ln, err = lc.Listen(context.Background(), "tcp4", ":0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		n   int64
		dur time.Duration
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		start := time.Now()
		n, err := io.Copy(io.Discard, c)
		res <- result{n, time.Since(start), err}
	}()
	c := dialTCP(t, tb, src, uint16(ln.Addr().(*net.TCPAddr).Port))
	defer c.Close()
	buf := make([]byte, 128<<10)
	c.SetWriteDeadline(time.Now().Add(d))
	for {
		if _, err := c.Write(buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("bulk write: %v", err)
			}
			break
		}
	}
	c.CloseWrite()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("bulk receive: %v", r.err)
		}
		return float64(r.n) * 8 / r.dur.Seconds() / 1e6
	case <-time.After(30 * time.Second):
		t.Fatal("bulk receiver did not finish")
	}
	return 0
}

func delayerPID(t *testing.T, tb *testbed.Testbed, path string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, tb.Prefix+"-"+path+".pid"))
	if err != nil {
		t.Fatalf("pid file of %s: %v", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file of %s: %v", path, err)
	}
	return pid
}

// gone reports whether pid has exited (or is a zombie), waiting up to 5 s.
func gone(pid int) bool {
	for range 500 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if s := string(stat); strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestImpairDelay(t *testing.T) {
	testbed.RequirePrivileged(t)
	requireIptables(t)
	buildNetem(t)
	tb := testbed.New(t)
	port := echoServer(t, tb)
	fast := 20 * time.Millisecond

	expectRTT(t, tb, port, "no delay", testbed.ClientWifi4, 0, fast)

	t.Run("rtt", func(t *testing.T) {
		tb.Impair(t, testbed.PathWifi, "delay", "100")
		expectRTT(t, tb, port, "wifi delay 100", testbed.ClientWifi4, 80*time.Millisecond, 200*time.Millisecond)
		expectRTT(t, tb, port, "wifi delay 100", testbed.ClientCell4, 0, fast)
		out := tb.Exec(t, tb.Router, "ip6tables", "-t", "mangle", "-S", "FORWARD")
		if !strings.Contains(out, "impair:wifi:delay") {
			t.Errorf("no IPv6 delay rules:\n%s", out)
		}

		pid := delayerPID(t, tb, testbed.PathWifi)
		tb.Impair(t, testbed.PathWifi, "clear")
		expectRTT(t, tb, port, "cleared", testbed.ClientWifi4, 0, fast)
		if !gone(pid) {
			t.Errorf("delayer %d still runs after clear", pid)
		}
		if _, err := os.Stat(filepath.Join(runDir, tb.Prefix+"-wifi.pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid file left after clear: %v", err)
		}
		for _, ipt := range []string{"iptables", "ip6tables"} {
			if out := tb.Exec(t, tb.Router, ipt, "-t", "mangle", "-S", "FORWARD"); strings.Contains(out, "impair:") {
				t.Errorf("%s rules left after clear:\n%s", ipt, out)
			}
		}
	})

	t.Run("jitter order", func(t *testing.T) {
		tb.Impair(t, testbed.PathWifi, "delay", "100", "20")
		defer tb.Impair(t, testbed.PathWifi, "clear")
		const n = 500
		atServer, atClient, rtts := udpEcho(t, tb, testbed.ClientWifi4, n, 2*time.Millisecond)
		checkOrder(t, "server", atServer, n)
		checkOrder(t, "client", atClient, n)
		sorted := slices.Sorted(slices.Values(rtts))
		lo, med, hi := sorted[0], sorted[len(sorted)/2], sorted[len(sorted)-1]
		t.Logf("delay 100 jitter 20: %d echoes, RTT %v..%v, median %v", len(rtts), lo, hi, med)
		// RTT 100 ms +-20 ms, never less; the FIFO may hold a packet a
		// little longer, and a loaded machine delays some echoes more
		// (the maximum is the machine's, the median the delayer's).
		if lo < 79*time.Millisecond || med > 130*time.Millisecond {
			t.Errorf("RTT %v..%v, median %v: want at least 80 ms, and a median within 80..120 ms (plus scheduling slack)", lo, hi, med)
		}
		if hi-lo < 5*time.Millisecond {
			t.Errorf("RTT %v..%v: no jitter", lo, hi)
		}
	})

	t.Run("throughput", func(t *testing.T) {
		tb.Impair(t, testbed.PathWifi, "delay", "50")
		defer tb.Impair(t, testbed.PathWifi, "clear")
		expectRTT(t, tb, port, "wifi delay 50", testbed.ClientWifi4, 40*time.Millisecond, 100*time.Millisecond)
		rate := bulk(t, tb, testbed.ClientWifi4, 3*time.Second)
		t.Logf("bulk TCP through +50 ms RTT for 3 s: %.1f Mbit/s", rate)
		if rate < 20 {
			t.Errorf("bulk TCP through +50 ms RTT: %.1f Mbit/s, want > 20", rate)
		}
	})

	t.Run("down stops the delayers", func(t *testing.T) {
		tb.Impair(t, testbed.PathWifi, "delay", "30")
		tb.Impair(t, testbed.PathCell, "delay", "30", "5")
		tb.Impair(t, testbed.PathWifi, "show")
		pids := []int{delayerPID(t, tb, testbed.PathWifi), delayerPID(t, tb, testbed.PathCell)}
		if out, err := exec.Command("../../scripts/testbed.sh", "down", tb.Prefix).CombinedOutput(); err != nil {
			t.Fatalf("testbed.sh down: %v\n%s", err, out)
		}
		for _, pid := range pids {
			if !gone(pid) {
				t.Errorf("delayer %d still runs after down", pid)
			}
		}
		for _, path := range []string{"wifi", "cell"} {
			if _, err := os.Stat(filepath.Join(runDir, tb.Prefix+"-"+path+".pid")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pid file of %s left after down: %v", path, err)
			}
		}
	})
}

// TestQueueInProcess runs the package API itself in a testbed router: a
// queue on the cell path's client->server direction that drops half.
func TestQueueInProcess(t *testing.T) {
	testbed.RequirePrivileged(t)
	requireIptables(t)
	tb := testbed.New(t)
	const queue = 30
	var q *netem.Queue
	err := testbed.Do(tb.Router, func() (err error) {
		q, err = netem.Listen(netem.Config{Queue: queue, Delay: 5 * time.Millisecond, DropPercent: 50})
		return err
	})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	// A second socket cannot take the queue.
	err = testbed.Do(tb.Router, func() error {
		q2, err := netem.Listen(netem.Config{Queue: queue})
		if err == nil {
			q2.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Listen on queue %d: %v, want an error about another process", queue, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- q.Serve(ctx) }()
	tb.Exec(t, tb.Router, "iptables", "-t", "mangle", "-A", "FORWARD", "-i", "rwwan0", "-p", "udp",
		"-j", "NFQUEUE", "--queue-num", strconv.Itoa(queue), "--queue-bypass")

	const n = 400
	atServer, _, _ := udpEcho(t, tb, testbed.ClientCell4, n, 500*time.Microsecond)
	t.Logf("drop 50%%: %d of %d arrived", len(atServer), n)
	if len(atServer) < n*30/100 || len(atServer) > n*70/100 {
		t.Errorf("drop 50%%: %d of %d datagrams arrived, want 30%%..70%%", len(atServer), n)
	}
	checkOrder(t, "server", atServer, len(atServer))

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	s := q.Stats()
	t.Logf("stats: %+v", s)
	if s.Received != n || s.Accepted+s.Dropped != s.Received || s.Held != 0 || uint64(len(atServer)) != s.Accepted {
		t.Errorf("stats %+v: want %d received, all accepted or dropped, %d accepted", s, n, len(atServer))
	}
	// The queue is gone; --queue-bypass lets everything through.
	if got, _, _ := udpEcho(t, tb, testbed.ClientCell4, 50, 500*time.Microsecond); len(got) != 50 {
		t.Errorf("after Serve returned: %d of 50 arrived", len(got))
	}
}
