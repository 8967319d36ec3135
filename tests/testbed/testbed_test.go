package testbed

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	okTimeout   = 5 * time.Second         // generous: neighbour discovery may take a retry
	failTimeout = 1500 * time.Millisecond // a blocked path must fail within about 2 s
)

// server is a TCP listener in a testbed's server namespace that answers
// every connection with the remote address it sees, then closes it.
type server struct {
	ln   net.Listener
	port uint16
}

func startServer(t *testing.T, tb *Testbed) *server {
	t.Helper()
	var ln net.Listener
	err := Do(tb.Server, func() (err error) {
		ln, err = net.Listen("tcp", ":0") // dual stack
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", tb.Server, err)
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
				c.SetDeadline(time.Now().Add(okTimeout))
				c.Write([]byte(c.RemoteAddr().String() + "\n"))
			}()
		}
	}()
	return &server{ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port)}
}

// dial connects from src in the client namespace to dst:port and returns
// the remote address the server saw.
func dial(tb *Testbed, src, dst netip.Addr, port uint16, timeout time.Duration) (netip.Addr, error) {
	var c net.Conn
	err := Do(tb.Client, func() (err error) {
		d := net.Dialer{
			LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
			Timeout:   timeout,
		}
		c, err = d.Dial("tcp", netip.AddrPortFrom(dst, port).String())
		return err
	})
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return netip.Addr{}, err
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

func expectPath(t *testing.T, tb *Testbed, srv *server, src, dst netip.Addr) {
	t.Helper()
	seen, err := dial(tb, src, dst, srv.port, okTimeout)
	if err != nil {
		t.Fatalf("%s: %s -> %s: %v", tb.Prefix, src, dst, err)
	}
	if seen != src {
		t.Fatalf("%s: %s -> %s: server saw the connection from %s", tb.Prefix, src, dst, seen)
	}
}

func expectBlocked(t *testing.T, tb *Testbed, srv *server, src, dst netip.Addr) {
	t.Helper()
	start := time.Now()
	seen, err := dial(tb, src, dst, srv.port, failTimeout)
	if err == nil {
		t.Fatalf("%s: %s -> %s: connected (server saw %s), want failure", tb.Prefix, src, dst, seen)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("%s: %s -> %s: failed only after %v", tb.Prefix, src, dst, d)
	}
}

// udpDelivery sends n datagrams from src in the client namespace to the
// server's Server4 and returns how many arrived.
func udpDelivery(t *testing.T, tb *Testbed, src netip.Addr, n int) int {
	t.Helper()
	var rx, tx *net.UDPConn
	err := Do(tb.Server, func() (err error) {
		rx, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(Server4, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("udp listen: %v", err)
	}
	defer rx.Close()
	dst := rx.LocalAddr().(*net.UDPAddr)
	err = Do(tb.Client, func() (err error) {
		tx, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), dst)
		return err
	})
	if err != nil {
		t.Fatalf("udp dial: %v", err)
	}
	defer tx.Close()

	got := make(chan int)
	go func() {
		count := 0
		buf := make([]byte, 64)
		for {
			rx.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := rx.Read(buf); err != nil {
				got <- count
				return
			}
			count++
		}
	}()
	for i := range n {
		if _, err := tx.Write([]byte{byte(i)}); err != nil {
			t.Errorf("udp send %d: %v", i, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return <-got
}

func linkFlags(t *testing.T, tb *Testbed, dev string) string {
	t.Helper()
	out := tb.Exec(t, tb.Client, "ip", "-o", "link", "show", dev)
	start, end := strings.Index(out, "<"), strings.Index(out, ">")
	if start < 0 || end < start {
		t.Fatalf("unexpected ip link output: %q", out)
	}
	return "," + out[start+1:end] + ","
}

func TestTwoTestbeds(t *testing.T) {
	RequirePrivileged(t)
	var namespaces, prefixes []string

	t.Run("live", func(t *testing.T) {
		start := time.Now()
		a := New(t)
		t.Logf("testbed %s up in %v", a.Prefix, time.Since(start))
		b := New(t)
		if a.Prefix == b.Prefix {
			t.Fatalf("two testbeds share the prefix %s", a.Prefix)
		}
		for _, tb := range []*Testbed{a, b} {
			namespaces = append(namespaces, tb.Client, tb.Router, tb.Server)
			prefixes = append(prefixes, tb.Prefix)
		}

		// A second "up" with the same prefix must refuse.
		out, err := exec.Command(scriptPath(t, "testbed.sh"), "up", a.Prefix).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already exists") {
			t.Fatalf("second up %s: err=%v, output %q; want an 'already exists' failure", a.Prefix, err, out)
		}

		srvA, srvB := startServer(t, a), startServer(t, b)
		for _, c := range []struct {
			tb  *Testbed
			srv *server
		}{{a, srvA}, {b, srvB}} {
			for _, p := range [][2]netip.Addr{
				{ClientWifi4, Server4}, {ClientCell4, Server4},
				{ClientWifi4, Server4b}, {ClientCell4, Server4b},
				{ClientWifi6, Server6}, {ClientCell6, Server6b},
			} {
				expectPath(t, c.tb, c.srv, p[0], p[1])
			}
		}

		t.Run("cut", func(t *testing.T) {
			a.Impair(t, PathWifi, "cut")
			if f := linkFlags(t, a, WifiDev); !strings.Contains(f, ",NO-CARRIER,") {
				t.Errorf("%s after cut: flags %s, want NO-CARRIER", WifiDev, f)
			}
			expectBlocked(t, a, srvA, ClientWifi4, Server4)
			expectPath(t, a, srvA, ClientCell4, Server4)
			expectPath(t, b, srvB, ClientWifi4, Server4) // the other testbed is untouched

			a.Impair(t, PathWifi, "clear")
			expectPath(t, a, srvA, ClientWifi4, Server4)
			expectPath(t, a, srvA, ClientWifi6, Server6) // IPv6 addresses survive the cut
		})

		t.Run("blackhole", func(t *testing.T) {
			a.Impair(t, PathWifi, "blackhole")
			if f := linkFlags(t, a, WifiDev); !strings.Contains(f, ",LOWER_UP,") {
				t.Errorf("%s under blackhole: flags %s, want LOWER_UP", WifiDev, f)
			}
			expectBlocked(t, a, srvA, ClientWifi4, Server4)
			expectBlocked(t, a, srvA, ClientWifi6, Server6)
			expectPath(t, a, srvA, ClientCell4, Server4)

			// Clearing the other path keeps this one's rules.
			a.Impair(t, PathCell, "clear")
			expectBlocked(t, a, srvA, ClientWifi4, Server4)

			a.Impair(t, PathWifi, "clear")
			expectPath(t, a, srvA, ClientWifi4, Server4)
		})

		t.Run("loss", func(t *testing.T) {
			const n = 200
			if got := udpDelivery(t, a, ClientWifi4, n); got < n*95/100 {
				t.Fatalf("no impairment: %d of %d datagrams arrived", got, n)
			}

			a.Impair(t, PathWifi, "loss", "100")
			expectBlocked(t, a, srvA, ClientWifi4, Server4)
			if got := udpDelivery(t, a, ClientWifi4, 20); got != 0 {
				t.Errorf("loss 100: %d of 20 datagrams arrived", got)
			}

			a.Impair(t, PathWifi, "loss", "50")
			got := udpDelivery(t, a, ClientWifi4, n)
			t.Logf("loss 50: %d of %d datagrams arrived", got, n)
			if got < n*20/100 || got > n*80/100 {
				t.Errorf("loss 50: %d of %d datagrams arrived, want 20%%..80%%", got, n)
			}
			if got := udpDelivery(t, a, ClientCell4, n); got < n*95/100 {
				t.Errorf("loss on wifi: only %d of %d datagrams arrived over cell", got, n)
			}

			a.Impair(t, PathWifi, "clear")
			expectPath(t, a, srvA, ClientWifi4, Server4)
		})
	})

	for _, ns := range namespaces {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists after cleanup (stat: %v)", ns, err)
		}
	}
	// down is idempotent.
	for _, p := range prefixes {
		if out, err := exec.Command(scriptPath(t, "testbed.sh"), "down", p).CombinedOutput(); err != nil {
			t.Errorf("second down %s: %v\n%s", p, err, out)
		}
	}
}

func TestDo(t *testing.T) {
	RequirePrivileged(t)
	tb := New(t)

	runtime.LockOSThread() // keep this goroutine's thread for the comparison
	defer runtime.UnlockOSThread()
	before := nsInode(t, "/proc/thread-self/ns/net")
	want := nsInode(t, filepath.Join(netnsDir, tb.Client))
	var inside uint64
	var ifaceErr error
	err := Do(tb.Client, func() error {
		inside = nsInode(t, "/proc/thread-self/ns/net")
		_, ifaceErr = net.InterfaceByName(WifiDev)
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if inside != want {
		t.Errorf("inside Do: netns inode %d, want %d (%s)", inside, want, tb.Client)
	}
	if ifaceErr != nil {
		t.Errorf("inside Do: %s: %v", WifiDev, ifaceErr)
	}
	if after := nsInode(t, "/proc/thread-self/ns/net"); after != before {
		t.Errorf("after Do: netns inode %d, want the original %d", after, before)
	}

	wantErr := errors.New("from fn")
	if err := Do(tb.Client, func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if err := Do(tb.Prefix+"-missing", func() error { return nil }); err == nil {
		t.Errorf("Do in a missing namespace succeeded")
	}

	fd := tb.NetNSFD(t, tb.Server)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != nsInode(t, filepath.Join(netnsDir, tb.Server)) {
		t.Errorf("NetNSFD(%s): fstat %v, inode %d", tb.Server, err, st.Ino)
	}
	if out := tb.Exec(t, tb.Server, "ip", "-o", "addr", "show", "dev", "eth1"); !strings.Contains(out, Server4b.String()+"/24") {
		t.Errorf("Exec: eth1 lacks %s: %q", Server4b, out)
	}
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// TestScriptArguments checks that bad arguments exit 1 with a message
// naming them. Validation happens before any privileged work, so this
// runs unprivileged.
func TestScriptArguments(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	impair, testbed := scriptPath(t, "impair.sh"), scriptPath(t, "testbed.sh")
	for _, c := range []struct {
		script string
		args   []string
		want   string // must appear in stderr
	}{
		{impair, []string{"foo", "cut"}, "'foo'"},
		{impair, []string{"wifi", "explode"}, "'explode'"},
		{impair, []string{"wifi", "loss", "abc"}, "'abc'"},
		{impair, []string{"wifi", "loss", "0"}, "'0'"},
		{impair, []string{"wifi", "loss", "101"}, "'101'"},
		{impair, []string{"wifi", "loss", "-5"}, "'-5'"},
		{impair, []string{"wifi", "loss", "12.5"}, "'12.5'"},
		{impair, []string{"wifi", "loss"}, "loss needs"},
		{impair, []string{"wifi", "loss", "5", "6"}, "'6'"},
		{impair, []string{"cell", "cut", "now"}, "'now'"},
		{impair, []string{"all", "blackhole"}, "'all'"},
		{impair, []string{"wifi"}, "'wifi'"},
		{impair, []string{"-p", "bad_prefix!", "wifi", "cut"}, "'bad_prefix!'"},
		{impair, []string{"-q", "wifi", "cut"}, "'-q'"},
		{impair, []string{"wifi", "delay"}, "delay needs"},
		{impair, []string{"wifi", "delay", "0"}, "'0'"},
		{impair, []string{"wifi", "delay", "10001"}, "'10001'"},
		{impair, []string{"wifi", "delay", "1.5"}, "'1.5'"},
		{impair, []string{"wifi", "delay", "ms"}, "'ms'"},
		{impair, []string{"wifi", "delay", "100", "101"}, "'101'"},
		{impair, []string{"wifi", "delay", "100", "-1"}, "'-1'"},
		{impair, []string{"wifi", "delay", "100", "20", "5"}, "'5'"},
		{impair, []string{"all", "delay", "100"}, "'all'"},
		{testbed, []string{"up", "bad_prefix!"}, "'bad_prefix!'"},
		{testbed, []string{"frobnicate"}, "'frobnicate'"},
	} {
		cmd := exec.Command(c.script, c.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s %q: %v, want exit status 1", filepath.Base(c.script), c.args, err)
			continue
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s %q: stderr %q does not mention %s", filepath.Base(c.script), c.args, stderr.String(), c.want)
		}
	}
}
