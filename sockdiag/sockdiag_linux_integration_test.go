//go:build linux

package sockdiag

import (
	"context"
	"encoding/hex"
	"errors"
	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestIntegrationConnections opens an MPTCP connection with two subflows in
// a fresh network namespace and checks what Connections reports for both
// ends. It needs root and an MPTCP kernel; with CI=true, missing either is a
// failure instead of a skip. SOCKDIAG_FIXTURES=1 logs the raw messages as
// hex, to refresh the fixtures of the unit tests.
func TestIntegrationConnections(t *testing.T) {
	testutil.RequireRoot(t, "create a network namespace")
	watchdog := time.AfterFunc(60*time.Second, func() { panic("TestIntegrationConnections: watchdog expired") })
	defer watchdog.Stop()

	ns, nsFD := testutil.NewNamedNetns(t, "sd")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	ipCmd(t, "-n", ns, "addr", "add", "10.77.0.1/32", "dev", "lo")
	ipCmd(t, "-n", ns, "addr", "add", "10.77.0.2/32", "dev", "lo")
	ipCmd(t, "-n", ns, "mptcp", "limits", "set", "subflow", "2", "add_addr_accepted", "2")
	ipCmd(t, "-n", ns, "mptcp", "endpoint", "add", "10.77.0.2", "subflow")

	var (
		ln     net.Listener
		client net.Conn
	)
	err := netns.Do(nsFD, func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(true)
		var err error
		if ln, err = lc.Listen(context.Background(), "tcp4", "10.77.0.1:0"); err != nil {
			return err
		}
		var d net.Dialer
		d.SetMultipathTCP(true)
		client, err = d.Dial("tcp4", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatalf("open sockets in netns %s: %v", ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { server.Close() })
	for _, c := range []net.Conn{client, server} {
		if ok, err := c.(*net.TCPConn).MultipathTCP(); !ok || err != nil {
			t.Fatalf("%v is not MPTCP (err %v)", c.LocalAddr(), err)
		}
	}
	go io.Copy(io.Discard, server)
	if _, err := client.Write(make([]byte, 64<<10)); err != nil {
		t.Fatalf("write: %v", err)
	}

	sd, err := New(&Config{NetNS: nsFD})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { sd.Close() })

	want := map[uint32]net.Conn{testutil.MPTCPToken(t, client): client, testutil.MPTCPToken(t, server): server}
	var conns []Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		if conns, err = sd.Connections(); err != nil {
			t.Fatalf("Connections: %v", err)
		}
		if clientSubflows(conns, want, client) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if os.Getenv("SOCKDIAG_FIXTURES") == "1" {
		logFixtures(t, sd)
	}

	if len(conns) != 2 {
		t.Fatalf("got %d connections, want 2: %+v", len(conns), conns)
	}
	if _, err := sd.Socket(conns[0].Token ^ 0x5a5a5a5a); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Socket of an unknown token: %v, want not-exist", err)
	}
	// The sockets belong to this process's cgroup.
	mount, err := cgroup.Mount()
	if err != nil {
		t.Fatal(err)
	}
	self, err := cgroup.Self()
	if err != nil {
		t.Fatal(err)
	}
	wantCG, err := cgroup.ID(mount, self)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		nc, ok := want[c.Token]
		if !ok {
			t.Fatalf("connection with token %08x, want one of %08x", c.Token, keys(want))
		}
		if wantL, wantR := addrPort(nc.LocalAddr()), addrPort(nc.RemoteAddr()); c.Local != wantL || c.Remote != wantR {
			t.Errorf("token %08x: addresses %v -> %v, want %v -> %v", c.Token, c.Local, c.Remote, wantL, wantR)
		}
		if c.CgroupID != wantCG {
			t.Errorf("token %08x: cgroup ID %d, want %d (%s)", c.Token, c.CgroupID, wantCG, self)
		}
		if c.State != 1 || c.Info.Token != c.Token || c.Inode == 0 || c.Cookie == 0 {
			t.Errorf("token %08x: state %d, info token %08x, inode %d, cookie %d", c.Token, c.State, c.Info.Token, c.Inode, c.Cookie)
		}
		for _, sf := range c.Subflows {
			t.Logf("token %08x: subflow %v -> %v id %d/%d flags %#x rtt %v cwnd %d", c.Token, sf.Local, sf.Remote, sf.LocID, sf.RemID, sf.Flags, sf.RTT, sf.SndCwnd)
			if sf.TokenLoc != c.Token || sf.RTT <= 0 || sf.State != 1 {
				t.Errorf("token %08x: bad subflow %+v", c.Token, sf)
			}
		}
		// The exact lookup by token finds the same socket.
		one, err := sd.Socket(c.Token)
		if err != nil {
			t.Errorf("Socket(%08x): %v", c.Token, err)
		} else if one.Token != c.Token || one.Local != c.Local || one.Remote != c.Remote || one.Cookie != c.Cookie || one.UID != c.UID || one.CgroupID != c.CgroupID {
			t.Errorf("Socket(%08x) = %+v; the dump has %+v", c.Token, one, c)
		}
		if nc != client {
			continue
		}
		if len(c.Subflows) != 2 {
			t.Fatalf("client: got %d subflows in 5 s, want 2: %+v", len(c.Subflows), c.Subflows)
		}
		if a, b := c.Subflows[0], c.Subflows[1]; a.LocID != 0 || b.LocID == 0 || a.Local != c.Local ||
			b.Local.Addr() != netip.MustParseAddr("10.77.0.2") || b.Flags&SubflowFlagJoinLoc == 0 {
			t.Errorf("client subflows: %+v", c.Subflows)
		}
		if c.Info.SubflowsTotal != 2 || c.Info.BytesSent == 0 {
			t.Errorf("client info: %+v", c.Info)
		}
	}
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// clientSubflows is how many subflows the client's connection has, once
// the MPTCP socket counts each of them too (0 before): a join shows in
// the dump as a TCP socket before the MPTCP socket has taken it in.
func clientSubflows(conns []Conn, want map[uint32]net.Conn, client net.Conn) int {
	for _, c := range conns {
		if want[c.Token] == client && int(c.Info.SubflowsTotal) == len(c.Subflows) {
			return len(c.Subflows)
		}
	}
	return 0
}

func addrPort(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }

func keys(m map[uint32]net.Conn) []uint32 {
	var out []uint32
	for k := range m {
		out = append(out, k)
	}
	return out
}

// logFixtures logs every message of both dumps as hex.
func logFixtures(t *testing.T, sd *Client) {
	for _, proto := range []uint32{ipprotoMPTCP, ipprotoTCP} {
		msgs, err := sd.c.c.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
			Data:   packRequest(unix.AF_INET, proto, ^uint32(0)),
		})
		if err != nil {
			t.Fatalf("fixture dump: %v", err)
		}
		for _, m := range msgs {
			t.Logf("proto %d: %s", proto, hex.EncodeToString(m.Data))
		}
	}
}
