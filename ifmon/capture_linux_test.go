//go:build linux && capture

package ifmon

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixtureTopology is the namespace whose dump is testdata/dump.txt: ip(8)
// commands run in it, except "@peer …" (run in the namespace that holds
// wlan0's peer) and "sysctl …". Keep it in step with wantFixtureSnapshot in
// parse_test.go.
var fixtureTopology = []string{
	"link add wlan0 type veth peer name p0 netns PEER",
	"link add wwan0 type veth peer name pw0",
	"link add veth9 type veth peer name pv9",
	"link add br0 type bridge",
	// Keep 2001:db8:2::3 tentative for long: DAD sends its probe after
	// retrans_time_ms, and only then can the address become valid.
	"sysctl net.ipv6.neigh.wwan0.retrans_time_ms=60000",
	"@peer link set p0 up",
	"link set wlan0 up",
	"link set wwan0 up",
	"link set pw0 up",
	"link set veth9 up", // pv9 stays down: veth9 has no carrier
	"addr add 10.1.0.2/24 dev wlan0",
	"addr add 169.254.7.7/16 dev wlan0",
	"addr add 2001:db8:1::2/64 dev wlan0 nodad",
	"addr add 2001:db8:1::99/64 dev wlan0 nodad preferred_lft 0",
	"addr add 10.2.0.2/24 dev wwan0",
	"addr add 2001:db8:2::2/64 dev wwan0 nodad",
	"addr add 2001:db8:2::3/64 dev wwan0", // DAD pending: tentative
	"addr add 10.9.0.2/24 dev veth9",
	"route add default via 10.1.0.1 dev wlan0 table 101",
	"route add default via 10.2.0.1 dev wwan0 metric 100",
	"route add default via 10.1.0.1 dev wlan0 metric 200",
	"route add default via 10.9.0.1 dev veth9 table 109",
	"-6 route add default via 2001:db8:2::1 dev wwan0",
	"route add default table 102 nexthop via 10.1.0.1 dev wlan0 nexthop via 10.2.0.1 dev wwan0",
	"-6 route add default table 102 nexthop via 2001:db8:1::1 dev wlan0 nexthop via 2001:db8:2::1 dev wwan0",
	"-6 route add unreachable default table 103",
	// Nexthop objects: with net.ipv4.nexthop_compat_mode=1 (the default)
	// the route dump still carries RTA_OIF.
	"nexthop add id 1 via 10.2.0.1 dev wwan0",
	"nexthop add id 2 via 2001:db8:2::1 dev wwan0",
	"route add default nhid 1 table 120",
	"-6 route add default nhid 2 table 120",
}

// TestCaptureFixtures regenerates testdata/dump.txt from this kernel. It
// is built only with the capture tag, so that ordinary runs never skip it:
//
//	sudo go test -tags capture -run TestCaptureFixtures ./ifmon/
func TestCaptureFixtures(t *testing.T) {
	requirePrivilege(t)
	ns, fd := newNetns(t)
	peer, _ := newNetns(t)
	for _, cmd := range fixtureTopology {
		if setting, ok := strings.CutPrefix(cmd, "sysctl "); ok {
			sysctl(t, ns, setting)
			continue
		}
		if c, ok := strings.CutPrefix(cmd, "@peer "); ok {
			ipns(t, peer, c)
			continue
		}
		ipns(t, ns, replacePeer(cmd, peer))
	}
	// Carrier and operstate reach rtnetlink through the kernel's linkwatch
	// work, a little after `ip link set up` returns: wait for them.
	waitOperUp(t, ns, "wlan0", "wwan0", "pw0")
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.dial(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# rtnetlink dump of the namespace built by fixtureTopology (capture_linux_test.go)\n")
	fmt.Fprintf(&buf, "# kernel %s, %s; one message a line: nlmsg_type nlmsg_flags payload-hex\n",
		unix.ByteSliceToString(uts.Release[:]), time.Now().UTC().Format(time.DateOnly))
	for _, r := range dumpRequests {
		msgs, err := c.Execute(dumpMessage(r.typ, r.hdr))
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			fmt.Fprintf(&buf, "%d %d %s\n", msg.Header.Type, msg.Header.Flags, hex.EncodeToString(msg.Data))
		}
	}
	if err := os.WriteFile(filepath.Join("testdata", "dump.txt"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replacePeer(cmd, peer string) string { return strings.ReplaceAll(cmd, "PEER", peer) }

// sysctl runs `ip netns exec ns sysctl -qw setting`.
func sysctl(t *testing.T, ns, setting string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", setting).CombinedOutput(); err != nil {
		t.Fatalf("sysctl -w %s in %s: %v: %s", setting, ns, err, out)
	}
}
