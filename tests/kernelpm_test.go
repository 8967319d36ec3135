package tests

// End-to-end tests of the in-kernel path manager commands of mptcp-pm
// (endpoint, limits) against the real kernel, after the scenarios of the
// kernel selftest tools/testing/selftests/net/mptcp/pm_netlink.sh, plus the
// in-kernel PM driving real connections on the testbed.
//
// Every output of `endpoint show` is compared byte for byte with
// `ip mptcp endpoint show` (text and -j), so mptcp-pm is checked against
// iproute2 as the reference, and against literal expectations for the
// kernel's own behaviour (ids, flags).

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// newNS creates a bare network namespace with a unique name (lo up) and
// deletes it at cleanup.
func newNS(t *testing.T) string {
	t.Helper()
	testbed.RequirePrivileged(t)
	name, _ := testutil.NewNamedNetns(t, "kpm")
	ip(t, name, "link", "set", "lo", "up")
	return name
}

// addVeth creates the veth pair a/b inside ns, both up.
func addVeth(t *testing.T, ns, a, b string) {
	t.Helper()
	ip(t, ns, "link", "add", a, "type", "veth", "peer", "name", b)
	ip(t, ns, "link", "set", a, "up")
	ip(t, ns, "link", "set", b, "up")
}

// ipFails runs `ip -n ns args…`, expects it to fail and returns its stderr.
func ipFails(t *testing.T, ns string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ip", append([]string{"-n", ns}, args...)...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("ip -n %s %s: want a failure, got err %v (stderr %q)", ns, strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// diffWithIP checks that `mptcp-pm -n ns endpoint show showArgs…` prints
// exactly what `ip -n ns mptcp endpoint show showArgs…` prints, in text and
// with -j, and returns the text.
func diffWithIP(t *testing.T, ns string, showArgs ...string) string {
	t.Helper()
	what := strings.Join(append([]string{"endpoint show"}, showArgs...), " ")
	ours := mustCLI(t, ns, append([]string{"endpoint", "show"}, showArgs...)...)
	theirs := ip(t, ns, append([]string{"mptcp", "endpoint", "show"}, showArgs...)...)
	if ours != theirs {
		t.Errorf("%s in %s: text differs from ip mptcp\nmptcp-pm: %q\nip:       %q", what, ns, ours, theirs)
	}
	oursJ := mustCLI(t, ns, append([]string{"-j", "endpoint", "show"}, showArgs...)...)
	theirsJ := ip(t, ns, append([]string{"-j", "mptcp", "endpoint", "show"}, showArgs...)...)
	if oursJ != theirsJ {
		var a, b any
		errA, errB := json.Unmarshal([]byte(oursJ), &a), json.Unmarshal([]byte(theirsJ), &b)
		how := "different content"
		if errA != nil || errB != nil {
			how = fmt.Sprintf("unparsable (mptcp-pm: %v, ip: %v)", errA, errB)
		} else if reflect.DeepEqual(a, b) {
			how = "same content, different bytes (key order or spacing)"
		}
		t.Errorf("%s -j in %s: JSON differs from ip -j mptcp: %s\nmptcp-pm: %q\nip:       %q", what, ns, how, oursJ, theirsJ)
	}
	return ours
}

// wantEndpoints checks the endpoint list of ns: the dump must be the given
// lines (as printed, without the trailing space of each line) and identical
// to ip's, and `endpoint show id N` of each endpoint must print its line,
// identical to ip's too.
func wantEndpoints(t *testing.T, ns string, lines ...string) {
	t.Helper()
	var want strings.Builder
	for _, l := range lines {
		want.WriteString(l + " \n")
	}
	if got := diffWithIP(t, ns); got != want.String() {
		t.Fatalf("endpoint show in %s:\ngot:\n%swant:\n%s", ns, got, want.String())
	}
	for _, l := range lines {
		f := strings.Fields(l)
		id := ""
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "id" {
				id = f[i+1]
			}
		}
		if got := diffWithIP(t, ns, "id", id); got != l+" \n" {
			t.Errorf("endpoint show id %s in %s: got %q, want %q", id, ns, got, l+" \n")
		}
	}
}

// endpointIDs returns the ids of the dump of ns, keyed by address.
func endpointIDs(t *testing.T, ns string) map[string]int {
	t.Helper()
	var eps []struct {
		Address string `json:"address"`
		ID      int    `json:"id"`
	}
	out := mustCLI(t, ns, "-j", "endpoint", "show")
	if err := json.Unmarshal([]byte(out), &eps); err != nil {
		t.Fatalf("endpoint show -j in %s: %v: %q", ns, err, out)
	}
	ids := make(map[string]int)
	for _, ep := range eps {
		ids[ep.Address] = ep.ID
	}
	return ids
}

// wantLimits checks `limits show` of ns in text (identical to ip's) and JSON.
func wantLimits(t *testing.T, ns string, addAddrAccepted, subflows int) {
	t.Helper()
	want := fmt.Sprintf("add_addr_accepted %d subflows %d \n", addAddrAccepted, subflows)
	got := mustCLI(t, ns, "limits", "show")
	if theirs := ip(t, ns, "mptcp", "limits", "show"); got != theirs {
		t.Errorf("limits show in %s: mptcp-pm %q, ip mptcp %q", ns, got, theirs)
	}
	if got != want {
		t.Fatalf("limits show in %s: got %q, want %q", ns, got, want)
	}
	wantJ := fmt.Sprintf(`{"add_addr_accepted":%d,"subflows":%d}`+"\n", addAddrAccepted, subflows)
	if gotJ := mustCLI(t, ns, "-j", "limits", "show"); gotJ != wantJ {
		t.Fatalf("limits show -j in %s: got %q, want %q", ns, gotJ, wantJ)
	}
}

// kernelPM selects the in-kernel path manager on both ends of the testbed
// and lets each side accept 2 announced addresses and open 2 more subflows.
func kernelPM(t *testing.T, tb *testbed.Testbed) {
	t.Helper()
	for _, ns := range []string{tb.Client, tb.Server} {
		sysctl(t, ns, "net.mptcp.pm_type", "0")
		mustCLI(t, ns, "limits", "set", "subflows", "2", "add_addr_accepted", "2")
		wantLimits(t, ns, 2, 2)
	}
}

// waitConn polls `connection show` in ns for up to 5 s until a connection
// satisfies pred, and fails the test with desc and the last listing
// otherwise.
func waitConn(t *testing.T, ns, desc string, pred func(connJSON) bool) connJSON {
	t.Helper()
	var last []connJSON
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = connections(t, ns)
		for _, c := range last {
			if pred(c) {
				return c
			}
		}
	}
	j, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("in %s: no connection where %s within 5s; have:\n%s", ns, desc, j)
	return connJSON{}
}

// subflowOn returns the index of the first subflow of c whose local (or,
// with remote, remote) address is addr, or -1.
func subflowOn(c connJSON, addr netip.Addr, remote bool) int {
	for i, sf := range c.Subflows {
		s := sf.Local
		if remote {
			s = sf.Remote
		}
		if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Unmap() == addr {
			return i
		}
	}
	return -1
}

// addrPortOf returns a socket address as connection show prints it.
func addrPortOf(a net.Addr) string {
	ap := netip.MustParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

func TestIntegrationKernelPMDefaults(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	// pm_netlink.sh "defaults addr list" and "defaults limits".
	if got := diffWithIP(t, ns); got != "" {
		t.Errorf("endpoint show in a fresh namespace: got %q, want nothing", got)
	}
	if got := mustCLI(t, ns, "-j", "endpoint", "show"); got != "[]\n" {
		t.Errorf("endpoint show -j in a fresh namespace: got %q, want %q", got, "[]\n")
	}
	wantLimits(t, ns, 0, 2)
}

func TestIntegrationKernelPMAddGetDump(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	addVeth(t, ns, "v0", "v1")

	// pm_netlink.sh "simple add/get addr", "dump addrs", with every flag
	// and combination, v4 and v6; ids are assigned from 1.
	steps := []struct {
		args []string
		line string
	}{
		{[]string{"10.0.1.1"}, "10.0.1.1 id 1"},
		{[]string{"10.0.1.2", "subflow"}, "10.0.1.2 id 2 subflow"},
		{[]string{"10.0.1.3", "signal", "backup"}, "10.0.1.3 id 3 signal backup"},
		{[]string{"10.0.1.4", "subflow", "fullmesh"}, "10.0.1.4 id 4 subflow fullmesh"},
		{[]string{"10.0.1.5", "fullmesh", "backup", "subflow"}, "10.0.1.5 id 5 subflow backup fullmesh"},
		{[]string{"dead:beef:1::1", "signal"}, "dead:beef:1::1 id 6 signal"},
		{[]string{"dead:beef:1::2", "backup"}, "dead:beef:1::2 id 7 backup"},
		{[]string{"dead:beef:1::3", "fullmesh"}, "dead:beef:1::3 id 8 fullmesh"},
	}
	var lines []string
	for _, s := range steps {
		mustCLI(t, ns, append([]string{"endpoint", "add"}, s.args...)...)
		lines = append(lines, s.line)
		wantEndpoints(t, ns, lines...)
	}
	mustCLI(t, ns, "endpoint", "flush")
	wantEndpoints(t, ns)

	// dev, explicit ids, and port with signal: the kernel opens a listener
	// on ADDR:PORT, so the address must be local.
	ip(t, ns, "addr", "add", "10.0.9.1/24", "dev", "v0")
	ip(t, ns, "addr", "add", "fd00:9::1/64", "dev", "v0", "nodad")
	steps = []struct {
		args []string
		line string
	}{
		{[]string{"10.0.2.1", "dev", "v0", "id", "10", "subflow"}, "10.0.2.1 id 10 subflow dev v0"},
		{[]string{"dead:beef:2::1", "subflow", "backup", "dev", "v1", "id", "20"}, "dead:beef:2::1 id 20 subflow backup dev v1"},
		{[]string{"10.0.9.1", "port", "10100", "signal"}, "10.0.9.1 port 10100 id 21 signal"},
		{[]string{"fd00:9::1", "port", "10101", "signal", "backup", "dev", "v0", "id", "255"}, "fd00:9::1 port 10101 id 255 signal backup dev v0"},
		{[]string{"10.0.2.2", "signal", "id", "1", "dev", "v1"}, "10.0.2.2 id 1 signal dev v1"},
		// A v4-mapped address stays an IPv6 endpoint, as with ip.
		{[]string{"::ffff:10.0.2.3", "subflow"}, "::ffff:10.0.2.3 id 2 subflow"},
		{[]string{"10.0.2.4", "dev", "lo", "subflow", "backup"}, "10.0.2.4 id 3 subflow backup dev lo"},
	}
	lines = nil
	for _, s := range steps {
		mustCLI(t, ns, append([]string{"endpoint", "add"}, s.args...)...)
		lines = append(lines, s.line)
	}
	// The dump is ordered by id.
	wantEndpoints(t, ns, lines[4], lines[5], lines[6], lines[0], lines[1], lines[2], lines[3])
	listeners := string(nsExec(t, ns, "ss", "-Hltn"))
	for _, l := range []string{"10.0.9.1:10100", "[fd00:9::1]:10101"} {
		if !strings.Contains(listeners, l) {
			t.Errorf("signal endpoint with port: no kernel listener on %s; ss -ltn:\n%s", l, listeners)
		}
	}

	// An endpoint whose device is gone keeps its ifindex: both print ifN.
	ip(t, ns, "link", "del", "v0")
	out := diffWithIP(t, ns)
	if strings.Contains(out, "dev v0") || strings.Contains(out, "dev v1") || !strings.Contains(out, "dev if") {
		t.Errorf("endpoint show after deleting the veth pair: got\n%swant the devices as ifN", out)
	}
}

// nsExec runs `ip netns exec ns name args…` and returns stdout.
func nsExec(t *testing.T, ns, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip netns exec %s %s %s: %v", ns, name, strings.Join(args, " "), err)
	}
	return out
}

func TestIntegrationKernelPMWrongID(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow")
	// The kernel's extack message, as ip prints it ("Error: address not found.").
	if msg := ipFails(t, ns, "mptcp", "endpoint", "show", "id", "99"); !strings.Contains(msg, "address not found") {
		t.Fatalf("ip mptcp endpoint show id 99: stderr %q, want the kernel's \"address not found\"", msg)
	}
	failCLI(t, ns, "address not found", "endpoint", "show", "id", "99")
	failCLI(t, ns, "address not found", "endpoint", "delete", "id", "99")
	failCLI(t, ns, "address not found", "endpoint", "change", "id", "99", "backup")
	// Nothing was printed on stdout for the failed get.
	if r := cli(t, ns, "endpoint", "show", "id", "99"); r.stdout != "" {
		t.Errorf("endpoint show id 99: stdout %q, want nothing", r.stdout)
	}
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow")
}

func TestIntegrationKernelPMDelete(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.2", "subflow")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "signal", "backup")
	wantEndpoints(t, ns, "10.0.1.1 id 1", "10.0.1.2 id 2 subflow", "10.0.1.3 id 3 signal backup")

	// pm_netlink.sh "simple del addr" and "dump addrs after del".
	mustCLI(t, ns, "endpoint", "delete", "id", "2")
	failCLI(t, ns, "address not found", "endpoint", "show", "id", "2")
	wantEndpoints(t, ns, "10.0.1.1 id 1", "10.0.1.3 id 3 signal backup")

	// id 0 with an address is about connections (the address of their
	// initial subflows), not about the list: it succeeds, as with ip, and
	// the list is unchanged.
	mustCLI(t, ns, "endpoint", "delete", "id", "0", "10.0.1.1")
	wantEndpoints(t, ns, "10.0.1.1 id 1", "10.0.1.3 id 3 signal backup")
	failCLI(t, ns, "id 0 needs the address", "endpoint", "delete", "id", "0")

	// With a non-zero id the kernel deletes by id and ignores the address.
	mustCLI(t, ns, "endpoint", "delete", "id", "1", "10.9.9.9")
	wantEndpoints(t, ns, "10.0.1.3 id 3 signal backup")
	failCLI(t, ns, "missing id", "endpoint", "delete", "10.0.1.3")
	mustCLI(t, ns, "endpoint", "delete", "id", "3", "10.0.1.3")
	wantEndpoints(t, ns)
}

func TestIntegrationKernelPMDuplicateAndHardLimit(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow")
	// pm_netlink.sh "duplicate addr": refused whatever the flags.
	failCLI(t, ns, "too many addresses or duplicate one: -17", "endpoint", "add", "10.0.1.1", "subflow")
	failCLI(t, ns, "too many addresses or duplicate one: -17", "endpoint", "add", "10.0.1.1", "signal", "backup")
	// A used id: EBUSY.
	failCLI(t, ns, "too many addresses or duplicate one: -16", "endpoint", "add", "10.0.1.9", "id", "1")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow")

	// pm_netlink.sh "hard addr limit", "above hard addr limit": 8 endpoints.
	lines := []string{"10.0.1.1 id 1 subflow"}
	for i := 2; i <= 8; i++ {
		mustCLI(t, ns, "endpoint", "add", fmt.Sprintf("10.0.1.%d", i), "signal")
		lines = append(lines, fmt.Sprintf("10.0.1.%d id %d signal", i, i))
	}
	msg := failCLI(t, ns, "too many addresses or duplicate one: -34", "endpoint", "add", "10.0.1.9", "signal")
	t.Logf("9th endpoint: %s", msg)
	// "id limit": at the limit an explicit id is refused too.
	failCLI(t, ns, "too many addresses or duplicate one: -34", "endpoint", "add", "10.0.1.10", "id", "200")
	failCLI(t, ns, "address not found", "endpoint", "show", "id", "9")
	wantEndpoints(t, ns, lines...)
}

func TestIntegrationKernelPMIDs(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	add := func(addr string, id int) {
		t.Helper()
		args := []string{"endpoint", "add", addr}
		if id != 0 {
			args = append(args, "id", strconv.Itoa(id))
		}
		mustCLI(t, ns, args...)
	}
	// After explicit 254 and 255, the next automatic id wraps to the lowest
	// free one.
	add("10.0.0.1", 254)
	add("10.0.0.2", 255)
	add("10.0.0.3", 0)
	add("10.0.0.4", 0)
	wantEndpoints(t, ns, "10.0.0.3 id 1", "10.0.0.4 id 2", "10.0.0.1 id 254", "10.0.0.2 id 255")
	mustCLI(t, ns, "endpoint", "flush")

	// pm_netlink.sh "set ids": an automatic id follows the last one given
	// (100 → 101), then wraps after 255 to the lowest free ids.
	for _, s := range []struct {
		addr string
		id   int
	}{{"10.0.1.1", 0}, {"10.0.1.2", 0}, {"10.0.1.3", 100}, {"10.0.1.4", 0}, {"10.0.1.5", 254}, {"10.0.1.6", 0}, {"10.0.1.7", 0}, {"10.0.1.8", 0}} {
		add(s.addr, s.id)
	}
	wantEndpoints(t, ns, "10.0.1.1 id 1", "10.0.1.2 id 2", "10.0.1.7 id 3", "10.0.1.8 id 4",
		"10.0.1.3 id 100", "10.0.1.4 id 101", "10.0.1.5 id 254", "10.0.1.6 id 255")
	mustCLI(t, ns, "endpoint", "flush")

	// pm_netlink.sh "wrap-around ids".
	for _, s := range []struct {
		addr string
		id   int
	}{{"10.0.0.1", 0}, {"10.0.0.2", 254}, {"10.0.0.3", 0}, {"10.0.0.4", 0}, {"10.0.0.5", 253}, {"10.0.0.6", 0}, {"10.0.0.7", 0}, {"10.0.0.8", 0}} {
		add(s.addr, s.id)
	}
	wantEndpoints(t, ns, "10.0.0.1 id 1", "10.0.0.4 id 2", "10.0.0.6 id 3", "10.0.0.7 id 4",
		"10.0.0.8 id 5", "10.0.0.5 id 253", "10.0.0.2 id 254", "10.0.0.3 id 255")

	// ids beyond 255 never reach the kernel.
	failCLI(t, ns, `invalid id "256"`, "endpoint", "add", "10.0.0.9", "id", "256")
}

func TestIntegrationKernelPMFlush(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	addVeth(t, ns, "v0", "v1")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow", "dev", "v0")
	mustCLI(t, ns, "endpoint", "add", "dead:beef::1", "signal", "id", "7")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "subflow", "backup", "fullmesh")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow dev v0", "dead:beef::1 id 7 signal", "10.0.1.3 id 8 subflow backup fullmesh")
	// pm_netlink.sh "flush addrs".
	mustCLI(t, ns, "endpoint", "flush")
	wantEndpoints(t, ns)
	if got := mustCLI(t, ns, "-j", "endpoint", "show"); got != "[]\n" {
		t.Errorf("endpoint show -j after flush: got %q, want %q", got, "[]\n")
	}
	// Flushing an empty list is fine; the ids start again from 1.
	mustCLI(t, ns, "endpoint", "flush")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.4")
	wantEndpoints(t, ns, "10.0.1.4 id 1")
	failCLI(t, ns, `unknown argument "all"`, "endpoint", "flush", "all")
	wantEndpoints(t, ns, "10.0.1.4 id 1")
}

func TestIntegrationKernelPMLimits(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	// pm_netlink.sh "set limits", over the whole range.
	for n := 0; n <= 8; n++ {
		mustCLI(t, ns, "limits", "set", "subflows", strconv.Itoa(n), "add_addr_accepted", strconv.Itoa(8-n))
		wantLimits(t, ns, 8-n, n)
	}
	// One limit at a time keeps the other.
	for n := 0; n <= 8; n++ {
		mustCLI(t, ns, "limits", "set", "add_addr_accepted", strconv.Itoa(n))
		wantLimits(t, ns, n, 8)
	}
	for n := 0; n <= 8; n++ {
		mustCLI(t, ns, "limits", "set", "subflows", strconv.Itoa(n))
		wantLimits(t, ns, 8, n)
	}
	mustCLI(t, ns, "limits", "set", "subflows", "1", "add_addr_accepted", "4")
	wantLimits(t, ns, 4, 1)

	// pm_netlink.sh "rcv addrs above hard limit", "subflows above hard
	// limit": refused and nothing changes, not even the valid half.
	if msg := ipFails(t, ns, "mptcp", "limits", "set", "subflows", "9"); !strings.Contains(msg, "limit greater than maximum") {
		t.Fatalf("ip mptcp limits set subflows 9: stderr %q, want the kernel's \"limit greater than maximum\"", msg)
	}
	for _, args := range [][]string{
		{"subflows", "9"},
		{"add_addr_accepted", "9"},
		{"subflows", "9", "add_addr_accepted", "2"},
		{"subflows", "2", "add_addr_accepted", "9"},
		{"add_addr_accepted", "4294967295"},
	} {
		failCLI(t, ns, "limit greater than maximum (8)", append([]string{"limits", "set"}, args...)...)
		wantLimits(t, ns, 4, 1)
	}

	// "subflow" is a prefix of "subflows".
	mustCLI(t, ns, "limits", "set", "subflow", "3")
	wantLimits(t, ns, 4, 3)
	failCLI(t, ns, "missing", "limits", "set")
}

func TestIntegrationKernelPMChange(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow")
	mustCLI(t, ns, "endpoint", "add", "dead:beef::1", "subflow", "backup", "fullmesh")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "signal")
	const v6 = "dead:beef::1 id 2 subflow backup fullmesh"
	const sig = "10.0.1.3 id 3 signal"

	// pm_netlink.sh "set flags (backup)", "(nobackup)", "(fullmesh)",
	// "(nofullmesh)", "(backup,fullmesh)".
	for _, s := range []struct {
		change []string
		line   string
	}{
		{[]string{"backup"}, "10.0.1.1 id 1 subflow backup"},
		{[]string{"nobackup"}, "10.0.1.1 id 1 subflow"},
		{[]string{"fullmesh"}, "10.0.1.1 id 1 subflow fullmesh"},
		{[]string{"nofullmesh"}, "10.0.1.1 id 1 subflow"},
		{[]string{"backup", "fullmesh"}, "10.0.1.1 id 1 subflow backup fullmesh"},
		{[]string{"nobackup", "nofullmesh"}, "10.0.1.1 id 1 subflow"},
		// mptcp-pm keeps the flags it is not given (documented).
		{[]string{"fullmesh"}, "10.0.1.1 id 1 subflow fullmesh"},
		{[]string{"backup"}, "10.0.1.1 id 1 subflow backup fullmesh"},
		{[]string{"nobackup"}, "10.0.1.1 id 1 subflow fullmesh"},
		{[]string{"backup"}, "10.0.1.1 id 1 subflow backup fullmesh"},
		{[]string{"nofullmesh"}, "10.0.1.1 id 1 subflow backup"},
	} {
		mustCLI(t, ns, append([]string{"endpoint", "change", "id", "1"}, s.change...)...)
		wantEndpoints(t, ns, s.line, v6, sig)
	}
	// The same on the v6 endpoint added as "subflow backup fullmesh".
	mustCLI(t, ns, "endpoint", "change", "id", "2", "nobackup")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow backup", "dead:beef::1 id 2 subflow fullmesh", sig)
	// …where ip mptcp sets exactly what it is given: nobackup clears fullmesh.
	mustCLI(t, ns, "endpoint", "change", "id", "2", "backup")
	ip(t, ns, "mptcp", "endpoint", "change", "id", "2", "nobackup")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow backup", "dead:beef::1 id 2 subflow", sig)

	// A signal endpoint takes backup, not fullmesh (kernel message).
	mustCLI(t, ns, "endpoint", "change", "id", "3", "backup")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow backup", "dead:beef::1 id 2 subflow", "10.0.1.3 id 3 signal backup")
	failCLI(t, ns, "invalid addr flags", "endpoint", "change", "id", "3", "fullmesh")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow backup", "dead:beef::1 id 2 subflow", "10.0.1.3 id 3 signal backup")

	failCLI(t, ns, "missing one of backup", "endpoint", "change", "id", "1")
	failCLI(t, ns, `unknown argument "signal"`, "endpoint", "change", "id", "1", "signal")
}

func TestIntegrationKernelPMInvalidFlags(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	addVeth(t, ns, "v0", "v1")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"10.0.1.1", "signal", "fullmesh"}, "flags mustn't have both signal and fullmesh"},
		{[]string{"dead:beef::1", "fullmesh", "signal", "backup"}, "flags mustn't have both signal and fullmesh"},
		{[]string{"10.0.1.1", "port", "10100", "subflow"}, "flags must have signal and not subflow when using port"},
		{[]string{"10.0.1.1", "port", "10100"}, "flags must have signal and not subflow when using port"},
		{[]string{"10.0.1.1", "port", "10100", "signal", "subflow"}, "flags must have signal and not subflow when using port"},
		// signal+port wants a listener on an address the namespace has.
		{[]string{"10.0.1.1", "port", "10100", "signal"}, "create listen socket error: -99"},
		{[]string{"10.0.1.1", "dev", "nosuch0", "subflow"}, `device "nosuch0" does not exist`},
		{[]string{"10.0.1.1", "port", "0", "signal"}, `invalid port "0"`},
		{[]string{"10.0.1.1%v0", "subflow"}, "invalid address"},
	} {
		line := failCLI(t, ns, c.want, append([]string{"endpoint", "add"}, c.args...)...)
		t.Logf("endpoint add %s: %s", strings.Join(c.args, " "), line)
	}
	wantEndpoints(t, ns)
}

func TestIntegrationKernelPMPrefixes(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "e", "a", "10.0.1.1", "sub")
	mustCLI(t, ns, "endp", "add", "10.0.1.2", "sig", "ba")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "subflow", "full")
	full := mustCLI(t, ns, "endpoint", "show")
	want := "10.0.1.1 id 1 subflow \n10.0.1.2 id 2 signal backup \n10.0.1.3 id 3 subflow fullmesh \n"
	if full != want {
		t.Fatalf("endpoint show: got %q, want %q", full, want)
	}
	for _, args := range [][]string{{"endp", "sh"}, {"e", "s"}, {"endpoint"}, {"endp", "show"}} {
		if got := mustCLI(t, ns, args...); got != full {
			t.Errorf("%s: got %q, want the same as endpoint show %q", strings.Join(args, " "), got, full)
		}
	}
	if got, want := mustCLI(t, ns, "endp", "sh", "i", "2"), "10.0.1.2 id 2 signal backup \n"; got != want {
		t.Errorf("endp sh i 2: got %q, want %q", got, want)
	}
	mustCLI(t, ns, "endpoint", "ch", "id", "1", "ba")
	mustCLI(t, ns, "endpoint", "del", "id", "3")
	wantEndpoints(t, ns, "10.0.1.1 id 1 subflow backup", "10.0.1.2 id 2 signal backup")
	mustCLI(t, ns, "endpoint", "f")
	wantEndpoints(t, ns)

	mustCLI(t, ns, "lim", "set", "subf", "5", "add", "3")
	if got, want := mustCLI(t, ns, "lim", "sh"), "add_addr_accepted 3 subflows 5 \n"; got != want {
		t.Errorf("lim sh: got %q, want %q", got, want)
	}
	if got, want := mustCLI(t, ns, "-j", "lim"), `{"add_addr_accepted":3,"subflows":5}`+"\n"; got != want {
		t.Errorf("-j lim: got %q, want %q", got, want)
	}
	wantLimits(t, ns, 3, 5)
}

func TestIntegrationKernelPMNoNamespace(t *testing.T) {
	t.Parallel()
	testbed.RequirePrivileged(t)
	name := "kpm-missing-" + strings.ToLower(rand.Text()[:10])
	for _, args := range [][]string{{"endpoint", "show"}, {"limits", "show"}, {"endpoint", "add", "10.0.1.1", "subflow"}, {"-j", "connection", "show"}} {
		r := cli(t, name, args...)
		if r.stdout != "" {
			t.Errorf("-n %s %s: stdout %q, want nothing", name, strings.Join(args, " "), r.stdout)
		}
		failCLI(t, name, `"`+name+`"`, args...)
	}
}

func TestIntegrationKernelPMTraffic(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	kernelPM(t, tb)
	mustCLI(t, tb.Client, "endpoint", "add", testbed.ClientCell4.String(), "dev", testbed.CellDev, "subflow")
	wantEndpoints(t, tb.Client, "10.0.2.2 id 1 subflow dev wwan0")
	id := endpointIDs(t, tb.Client)["10.0.2.2"]

	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	echo(t, c, "before")
	local := addrPortOf(c.LocalAddr())

	// The in-kernel PM opens the second subflow from the endpoint, bound
	// to its device.
	conn := connectionOf(t, tb.Client, c.LocalAddr(), 2)
	i := subflowOn(conn, testbed.ClientCell4, false)
	if i < 0 {
		t.Fatalf("client connection %s: no subflow from 10.0.2.2: %+v", conn.Token, conn.Subflows)
	}
	sf := conn.Subflows[i]
	if sf.Remote != "10.0.3.2:5201" || sf.LocID != id || sf.LocID == 0 || sf.RemID != 0 ||
		sf.Dev != testbed.CellDev || sf.State != "ESTAB" || sf.Backup || sf.BackupRemote {
		t.Fatalf("client subflow from 10.0.2.2: %+v\nwant remote 10.0.3.2:5201, locid %d, remid 0, dev wwan0, ESTAB, no backup flags", sf, id)
	}
	if len(conn.Subflows) != 2 {
		t.Errorf("client connection: %d subflows, want 2 (limit subflows 2, one endpoint): %+v", len(conn.Subflows), conn.Subflows)
	}
	onServer := func(desc string, pred func(connJSON, int) bool) connJSON {
		t.Helper()
		return waitConn(t, tb.Server, desc, func(sc connJSON) bool {
			return sc.Remote == local && pred(sc, subflowOn(sc, testbed.ClientCell4, true))
		})
	}
	onServer("a subflow from 10.0.2.2 with remid "+strconv.Itoa(id), func(sc connJSON, i int) bool {
		return i >= 0 && sc.Subflows[i].RemID == id && !sc.Subflows[i].BackupRemote
	})

	// change backup: MP_PRIO goes out on the subflow of that endpoint.
	mustCLI(t, tb.Client, "endpoint", "change", "id", strconv.Itoa(id), "backup")
	wantEndpoints(t, tb.Client, "10.0.2.2 id 1 subflow backup dev wwan0")
	waitConn(t, tb.Client, "the subflow from 10.0.2.2 is backup", func(cc connJSON) bool {
		i := subflowOn(cc, testbed.ClientCell4, false)
		return cc.Local == local && i >= 0 && cc.Subflows[i].Backup && !cc.Subflows[i].BackupRemote
	})
	onServer("the subflow from 10.0.2.2 is backup_remote", func(sc connJSON, i int) bool {
		return i >= 0 && sc.Subflows[i].BackupRemote && !sc.Subflows[i].Backup
	})
	echo(t, c, "backup")

	// delete: the subflow goes (REMOVE_ADDR to the peer), data still flows.
	mustCLI(t, tb.Client, "endpoint", "delete", "id", strconv.Itoa(id))
	wantEndpoints(t, tb.Client)
	waitConn(t, tb.Client, "the subflow from 10.0.2.2 is gone", func(cc connJSON) bool {
		return cc.Local == local && len(cc.Subflows) == 1 && subflowOn(cc, testbed.ClientWifi4, false) == 0
	})
	onServer("the subflow from 10.0.2.2 is gone", func(sc connJSON, i int) bool {
		return i < 0 && len(sc.Subflows) == 1
	})
	echo(t, c, "after delete")
}

func TestIntegrationKernelPMSignal(t *testing.T) {
	t.Parallel()
	// What the client does with an announced address depends on its
	// endpoints: without a fullmesh one, the kernel joins from the address
	// routing picks (here the initial subflow's, 10.0.1.2, id 0, no device);
	// with a fullmesh one, from each fullmesh endpoint only.
	for _, c := range []struct {
		name  string
		flags []string
		from  string
		locid int
		dev   string
	}{
		{"subflow", []string{"subflow"}, "10.0.1.2", 0, ""},
		{"fullmesh", []string{"subflow", "fullmesh"}, "10.0.2.2", 1, "wwan0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testSignal(t, c.flags, netip.MustParseAddr(c.from), c.locid, c.dev)
		})
	}
}

// testSignal: the client has endpoint 10.0.2.2 dev wwan0 with flags and a
// connection with 2 subflows; the server announces 10.0.4.2; the client
// must join it from `from` with local id locid on device dev ("" for
// none), then drop that subflow when the server deletes the endpoint.
func testSignal(t *testing.T, flags []string, from netip.Addr, locid int, dev string) {
	tb := testbed.New(t)
	kernelPM(t, tb)
	mustCLI(t, tb.Client, append([]string{"endpoint", "add", "10.0.2.2", "dev", "wwan0"}, flags...)...)
	mc := startMonitor(t, tb.Client)

	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	echo(t, c, "hello")
	conn := connectionOf(t, tb.Client, c.LocalAddr(), 2)
	local := addrPortOf(c.LocalAddr())

	// The server announces its second address; the client accepts it
	// (add_addr_accepted 2) and joins it (subflows 2).
	mustCLI(t, tb.Server, "endpoint", "add", testbed.Server4b.String(), "dev", "eth1", "signal")
	wantEndpoints(t, tb.Server, "10.0.4.2 id 1 signal dev eth1")
	mc.expect(t, "ANNOUNCED", map[string]any{"token": conn.Token, "daddr4": "10.0.4.2", "remid": 1, "dport": 5201})
	mc.expect(t, "SF_ESTABLISHED", map[string]any{"token": conn.Token, "daddr4": "10.0.4.2", "remid": 1,
		"saddr4": from.String(), "locid": locid})

	conn = waitConn(t, tb.Client, "a subflow to 10.0.4.2", func(cc connJSON) bool {
		return cc.Token == conn.Token && subflowOn(cc, testbed.Server4b, true) >= 0
	})
	sf := conn.Subflows[subflowOn(conn, testbed.Server4b, true)]
	if ap, err := netip.ParseAddrPort(sf.Local); err != nil || ap.Addr() != from || sf.LocID != locid || sf.Dev != dev ||
		sf.Remote != "10.0.4.2:5201" || sf.RemID != 1 || sf.State != "ESTAB" {
		t.Fatalf("client subflow to the announced 10.0.4.2: %+v\nwant local %s, locid %d, dev %q, remote 10.0.4.2:5201, remid 1, ESTAB",
			sf, from, locid, dev)
	}
	if len(conn.Subflows) != 3 || subflowOn(conn, testbed.ClientCell4, false) < 0 {
		t.Errorf("client connection: %d subflows, want 3 (initial, from endpoint 10.0.2.2, to announced 10.0.4.2): %+v", len(conn.Subflows), conn.Subflows)
	}
	waitConn(t, tb.Server, "a subflow on 10.0.4.2 with locid 1 from "+from.String(), func(sc connJSON) bool {
		i := subflowOn(sc, testbed.Server4b, false)
		return sc.Remote == local && i >= 0 && sc.Subflows[i].LocID == 1 && sc.Subflows[i].RemID == locid &&
			strings.HasPrefix(sc.Subflows[i].Remote, from.String()+":")
	})
	echo(t, c, "three subflows")

	// Deleting the signal endpoint sends REMOVE_ADDR: the subflow goes.
	mustCLI(t, tb.Server, "endpoint", "delete", "id", "1")
	mc.expect(t, "REMOVED", map[string]any{"token": conn.Token, "remid": 1})
	waitConn(t, tb.Client, "no subflow to 10.0.4.2 and 2 left", func(cc connJSON) bool {
		return cc.Token == conn.Token && subflowOn(cc, testbed.Server4b, true) < 0 && len(cc.Subflows) == 2
	})
	echo(t, c, "bye")
}

func TestIntegrationKernelPMUserspaceCommandsRefused(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	kernelPM(t, tb)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	echo(t, c, "hello")
	conn := connectionOf(t, tb.Client, c.LocalAddr(), 1)
	tok := conn.Token
	n, err := strconv.ParseUint(tok, 16, 32)
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	other := fmt.Sprintf("%08x", uint32(n)^0xffffffff)
	sport := strconv.Itoa(int(netip.MustParseAddrPort(conn.Local).Port()))

	for _, args := range [][]string{
		{"announce", "10.0.2.2", "id", "5", "token", tok},
		{"remove", "id", "5", "token", tok},
		{"subflow", "add", "token", tok, "local", "10.0.2.2", "id", "5", "remote", "10.0.3.2", "port", "5201"},
		{"subflow", "delete", "token", tok, "local", "10.0.1.2", "port", sport, "remote", "10.0.3.2", "port", "5201"},
		{"subflow", "set", "token", tok, "local", "10.0.1.2", "port", sport, "remote", "10.0.3.2", "port", "5201", "backup"},
	} {
		line := failCLI(t, tb.Client, "userspace PM not selected", args...)
		t.Logf("%s: %s", strings.Join(args, " "), line)
	}
	failCLI(t, tb.Client, "invalid token", "announce", "10.0.2.2", "id", "5", "token", other)

	// Nothing happened to the connection.
	cc := connectionOf(t, tb.Client, c.LocalAddr(), 1)
	if len(cc.Subflows) != 1 || cc.Subflows[0].Local != conn.Local || cc.Subflows[0].Backup {
		t.Errorf("connection after the refused commands: %+v, want its single non-backup subflow from %s", cc.Subflows, conn.Local)
	}
	echo(t, c, "still here")
}

func TestIntegrationKernelPMIPv6(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	kernelPM(t, tb)
	mustCLI(t, tb.Client, "endpoint", "add", testbed.ClientCell6.String(), "dev", testbed.CellDev, "subflow")
	wantEndpoints(t, tb.Client, "fd00:2::2 id 1 subflow dev wwan0")

	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv6Unspecified(), 5201))
	c := dialMPTCP(t, tb.Client, testbed.ClientWifi6, netip.AddrPortFrom(testbed.Server6, 5201))
	echo(t, c, "hello v6")
	local := addrPortOf(c.LocalAddr())

	conn := connectionOf(t, tb.Client, c.LocalAddr(), 2)
	i := subflowOn(conn, testbed.ClientCell6, false)
	if i < 0 {
		t.Fatalf("client connection %s: no subflow from fd00:2::2: %+v", conn.Token, conn.Subflows)
	}
	if sf := conn.Subflows[i]; sf.Remote != "[fd00:3::2]:5201" || sf.LocID != 1 || sf.Dev != "wwan0" || sf.State != "ESTAB" {
		t.Fatalf("client subflow from fd00:2::2: %+v; want remote [fd00:3::2]:5201, locid 1, dev wwan0, ESTAB", sf)
	}
	echo(t, c, "two v6 subflows")

	// delete id 0 with the initial subflow's address closes that subflow
	// on the live connection (the list itself does not change).
	mustCLI(t, tb.Client, "endpoint", "delete", "id", "0", testbed.ClientWifi6.String())
	wantEndpoints(t, tb.Client, "fd00:2::2 id 1 subflow dev wwan0")
	waitConn(t, tb.Client, "only the subflow from fd00:2::2 is left", func(cc connJSON) bool {
		return cc.Local == local && len(cc.Subflows) == 1 && subflowOn(cc, testbed.ClientCell6, false) == 0
	})
	echo(t, c, "over the second path")
}
