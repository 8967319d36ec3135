//go:build linux

package ifmon

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// Helpers for the privileged tests: fresh, uniquely named namespaces that
// are deleted when the test ends (ip netns), and links, addresses and
// routes built in them with vishvananda/netlink. Tests still shell out to
// ip(8) where the change must come from another process (the timed link
// down, the flap storms) or the library has no API (nexthop objects).

// requirePrivilege skips the test unless it runs as root with ip(8); under
// CI=true a skip is a failure, so a misconfigured runner cannot pass
// silently.
func requirePrivilege(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.SkipOrFail(t, "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		testutil.SkipOrFail(t, "needs ip(8) from iproute2: "+err.Error())
	}
}

// newNetns creates a fresh named namespace with its lo up and returns the
// name and an open fd of it; both go at the end of the test.
func newNetns(t *testing.T) (string, int) {
	t.Helper()
	name, fd := testutil.NewNamedNetns(t, "ifmon")
	ipns(t, name, "link set lo up")
	return name, fd
}

// ipns runs `ip -n ns ARGS` and fails the test on error.
func ipns(t *testing.T, ns, args string) {
	t.Helper()
	full := append([]string{"-n", ns}, strings.Fields(args)...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// ipBatch runs `ip -n ns -batch -` with the given commands, one a line.
func ipBatch(t *testing.T, ns string, lines []string) {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s -batch: %v: %s", ns, err, out)
	}
}

// waitOperUp waits until each link of ns reports operstate UP.
func waitOperUp(t *testing.T, ns string, links ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, l := range links {
		for {
			out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", l).CombinedOutput()
			if err == nil && strings.Contains(string(out), " state UP ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s not up: %v: %s", l, ns, err, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// fixture builds links, addresses and routes through handle h, failing the
// test on the first error.
type fixture struct {
	t *testing.T
	h *netlink.Handle
}

func (f fixture) must(what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

func (f fixture) link(name string) netlink.Link {
	f.t.Helper()
	l, err := f.h.LinkByName(name)
	f.must("link "+name, err)
	return l
}

// veth adds a veth pair; the peer goes to the namespace peerNS unless it
// is 0.
func (f fixture) veth(name, peer string, peerNS int) {
	f.t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if peerNS != 0 {
		v.PeerNamespace = netlink.NsFd(peerNS)
	}
	f.must("add veth "+name, f.h.LinkAdd(v))
}

func (f fixture) up(names ...string) {
	f.t.Helper()
	for _, n := range names {
		f.must("set "+n+" up", f.h.LinkSetUp(f.link(n)))
	}
}

// addr adds cidr to the link name; nodad skips IPv6 duplicate address
// detection, and deprecated sets a preferred lifetime of 0 (valid forever).
func (f fixture) addr(name, cidr string, nodad, deprecated bool) {
	f.t.Helper()
	a, err := netlink.ParseAddr(cidr)
	f.must("parse "+cidr, err)
	if nodad {
		a.Flags |= unix.IFA_F_NODAD
	}
	if deprecated {
		a.ValidLft = int(^uint32(0)) // INFINITY_LIFE_TIME
	}
	f.must("add "+cidr+" to "+name, f.h.AddrAdd(f.link(name), a))
}

// defaultVia adds a default route via gw through the link name, in table
// (0: main) with the given metric.
func (f fixture) defaultVia(name, gw string, table, metric int) {
	f.t.Helper()
	r := &netlink.Route{LinkIndex: f.link(name).Attrs().Index, Gw: net.ParseIP(gw), Table: table, Priority: metric}
	f.must("default via "+gw, f.h.RouteAdd(r))
}

// multipathDefault adds a default route in table with one nexthop per
// (link, gateway) pair.
func (f fixture) multipathDefault(table int, dst string, hops ...[2]string) {
	f.t.Helper()
	_, d, err := net.ParseCIDR(dst)
	f.must("parse "+dst, err)
	r := &netlink.Route{Dst: d, Table: table}
	for _, h := range hops {
		r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{LinkIndex: f.link(h[0]).Attrs().Index, Gw: net.ParseIP(h[1])})
	}
	f.must("multipath default in table", f.h.RouteAdd(r))
}
