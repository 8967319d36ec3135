package tests

// End-to-end tests of the forms of current iproute2 (6.19 to 7.1) and of
// the 6.18 kernel that mptcp-pm accepts (issue 13, "Parity"): endpoint
// change by address, the laminar flag (command line and endpoint mode),
// endpoint show for one userspace-PM connection, the monitor's lines and
// JSON, and the subflow commands that fill in what the kernel knows.
// Where the installed ip (6.1) has the command, both run and the kernel
// state after is diffed.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// TestIntegrationParityEndpointChangeByAddr: `endpoint change ADDR [port
// PORT]` leaves the kernel as `ip mptcp endpoint change ADDR [port PORT]`
// does, in two namespaces set up alike.
func TestIntegrationParityEndpointChangeByAddr(t *testing.T) {
	t.Parallel()
	ours, theirs := newNS(t), newNS(t)
	for _, ns := range []string{ours, theirs} {
		addVeth(t, ns, "v0", "v1")
		ip(t, ns, "addr", "add", "10.0.1.3/24", "dev", "v0")
		mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow")
		mustCLI(t, ns, "endpoint", "add", "dead:beef::1", "subflow")
		mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "port", "10100", "signal")
	}
	// Changes where "keep the flags not given" (mptcp-pm) and "set what
	// is given" (ip) end the same.
	for _, s := range []struct {
		ours, theirs []string
		want         []string
	}{
		{[]string{"10.0.1.1", "backup"}, []string{"10.0.1.1", "backup"},
			[]string{"10.0.1.1 id 1 subflow backup", "dead:beef::1 id 2 subflow", "10.0.1.3 port 10100 id 3 signal"}},
		{[]string{"10.0.1.1", "nobackup", "fullmesh"}, []string{"10.0.1.1", "fullmesh"},
			[]string{"10.0.1.1 id 1 subflow fullmesh", "dead:beef::1 id 2 subflow", "10.0.1.3 port 10100 id 3 signal"}},
		{[]string{"dead:beef::1", "backup"}, []string{"dead:beef::1", "backup"},
			[]string{"10.0.1.1 id 1 subflow fullmesh", "dead:beef::1 id 2 subflow backup", "10.0.1.3 port 10100 id 3 signal"}},
		// A port-less endpoint matches any port (the kernel's lookup).
		{[]string{"10.0.1.1", "port", "999", "backup"}, []string{"10.0.1.1", "port", "999", "backup", "fullmesh"},
			[]string{"10.0.1.1 id 1 subflow backup fullmesh", "dead:beef::1 id 2 subflow backup", "10.0.1.3 port 10100 id 3 signal"}},
		{[]string{"10.0.1.3", "port", "10100", "backup"}, []string{"10.0.1.3", "port", "10100", "backup"},
			[]string{"10.0.1.1 id 1 subflow backup fullmesh", "dead:beef::1 id 2 subflow backup", "10.0.1.3 port 10100 id 3 signal backup"}},
	} {
		mustCLI(t, ours, append([]string{"endpoint", "change"}, s.ours...)...)
		ip(t, theirs, append([]string{"mptcp", "endpoint", "change"}, s.theirs...)...)
		want := strings.Join(s.want, " \n") + " \n"
		if a, b := mustCLI(t, ours, "endpoint", "show"), ip(t, theirs, "mptcp", "endpoint", "show"); a != want || b != want {
			t.Fatalf("after change %s: mptcp-pm left\n%sip left\n%swant\n%s", strings.Join(s.ours, " "), a, b, want)
		}
	}
	wantEndpoints(t, theirs, "10.0.1.1 id 1 subflow backup fullmesh", "dead:beef::1 id 2 subflow backup", "10.0.1.3 port 10100 id 3 signal backup")
	// Refusals: the kernel's message, as ip prints it.
	if msg := ipFails(t, theirs, "mptcp", "endpoint", "change", "10.0.9.9", "backup"); !strings.Contains(msg, "address not found") {
		t.Errorf("ip mptcp endpoint change 10.0.9.9: %q, want the kernel's \"address not found\"", msg)
	}
	failCLI(t, ours, "change endpoint 10.0.9.9: address not found (invalid argument)", "endpoint", "change", "10.0.9.9", "backup")
	failCLI(t, ours, "invalid addr flags", "endpoint", "change", "10.0.1.3", "port", "10100", "fullmesh")
	failCLI(t, ours, "give id ID or ADDR [port PORT], not both", "endpoint", "change", "id", "1", "10.0.1.1", "backup")
	wantEndpoints(t, ours, "10.0.1.1 id 1 subflow backup fullmesh", "dead:beef::1 id 2 subflow backup", "10.0.1.3 port 10100 id 3 signal backup")
}

// ipRawFlags returns, by address, the rawflags ip 6.1 prints for the
// flags it does not know (laminar is 0x20), "" for none.
func ipRawFlags(t *testing.T, ns string) map[string]string {
	t.Helper()
	var eps []struct {
		Address  string `json:"address"`
		RawFlags string `json:"rawflags"`
	}
	if err := json.Unmarshal([]byte(ip(t, ns, "-j", "mptcp", "endpoint", "show")), &eps); err != nil {
		t.Fatalf("ip -j mptcp endpoint show: %v", err)
	}
	m := map[string]string{}
	for _, e := range eps {
		m[e.Address] = e.RawFlags
	}
	return m
}

// TestIntegrationParityLaminar: the laminar flag from the command line,
// as the kernel stores it (ip 6.1 shows it as rawflags 20), and as the
// text and JSON of ip 6.19 and later print it (iproute2's
// print_mptcp_addr_flags: the flags in the order signal, subflow, backup,
// fullmesh, implicit, laminar).
func TestIntegrationParityLaminar(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	mustCLI(t, ns, "endpoint", "add", "10.0.1.1", "subflow", "laminar")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.2", "lam", "signal")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.3", "laminar", "fullmesh", "subflow", "backup")
	mustCLI(t, ns, "endpoint", "add", "10.0.1.4", "subflow")
	want := "10.0.1.1 id 1 subflow laminar \n10.0.1.2 id 2 signal laminar \n" +
		"10.0.1.3 id 3 subflow backup fullmesh laminar \n10.0.1.4 id 4 subflow \n"
	if got := mustCLI(t, ns, "endpoint", "show"); got != want {
		t.Errorf("endpoint show:\n got %q\nwant %q", got, want)
	}
	wantJ := `[{"address":"10.0.1.1","id":1,"subflow":true,"laminar":true},{"address":"10.0.1.2","id":2,"signal":true,"laminar":true},` +
		`{"address":"10.0.1.3","id":3,"subflow":true,"backup":true,"fullmesh":true,"laminar":true},{"address":"10.0.1.4","id":4,"subflow":true}]` + "\n"
	if got := mustCLI(t, ns, "-j", "endpoint", "show"); got != wantJ {
		t.Errorf("endpoint show -j:\n got %s\nwant %s", got, wantJ)
	}
	raw := ipRawFlags(t, ns)
	if d := fmtMap(raw); d != "10.0.1.1=20 10.0.1.2=20 10.0.1.3=20 10.0.1.4=" {
		t.Errorf("ip -j mptcp endpoint show rawflags: %s, want laminar (20) on the first three", d)
	}
	// Changing backup keeps laminar (the kernel changes backup and
	// fullmesh only); change has no laminar, as ip's CHANGE-OPT.
	mustCLI(t, ns, "endpoint", "change", "10.0.1.1", "backup")
	if got := mustCLI(t, ns, "endpoint", "show", "id", "1"); got != "10.0.1.1 id 1 subflow backup laminar \n" {
		t.Errorf("after change 10.0.1.1 backup: %q", got)
	}
	failCLI(t, ns, `unknown argument "laminar"`, "endpoint", "change", "id", "4", "laminar")
}

// fmtMap formats m as sorted "k=v" words.
func fmtMap(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestIntegrationParityLaminarEndpointMode: an endpoints section with
// laminar passes `policy check` and the daemon keeps laminar endpoints.
func TestIntegrationParityLaminarEndpointMode(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, "pm: kernel\nendpoints:\n  interfaces: [\"wlan*\"]\n  flags: [subflow, laminar]\n", nil)
	if out := mustCLI(t, "", "policy", "check", dir+"/config.yaml"); strings.Contains(out, "laminar") {
		t.Errorf("policy check: %q", out)
	}
	d := startKeeper(t, tb.Client, dir)
	want := []string{"10.0.1.2 subflow laminar dev wlan0", "fd00:1::2 subflow laminar dev wlan0"}
	idRe := regexp.MustCompile(` id \d+ `)
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = nil
		for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, tb.Client, "endpoint", "show")), "\n") {
			got = append(got, strings.TrimSpace(idRe.ReplaceAllString(l, " ")))
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("endpoints of the keeper with flags [subflow, laminar]:\n got %q\nwant %q\nlog:\n%s", got, want, d.log.String())
}

// TestIntegrationParityEndpointShowToken: `endpoint show token T` lists
// the addresses the userspace PM keeps for one connection: those of the
// subflows and announcements made on it, with their IDs.
func TestIntegrationParityEndpointShowToken(t *testing.T) {
	t.Parallel()
	p := newUserspacePair(t, true)
	cli := p.tb.Client
	uc := p.connect(t, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, usPort4))
	fc := usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", uc.ctok, "local", "10.0.2.2", "id", "23", "remote", "10.0.3.2", "port", strconv.Itoa(usPort4))
	usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": uc.ctok, "saddr4": "10.0.2.2", "locid": 23})
	mustCLI(t, cli, "announce", "fd00:2::2", "id", "24", "token", uc.ctok)

	got := mustCLI(t, cli, "endpoint", "show", "token", uc.ctok)
	if !usHasLine(got, "10.0.2.2 id 23 subflow ") || !usHasLine(got, "fd00:2::2 id 24 signal ") {
		t.Errorf("endpoint show token %s: want 10.0.2.2 id 23 subflow and fd00:2::2 id 24 signal; got\n%s", uc.ctok, got)
	}
	if one := mustCLI(t, cli, "endpoint", "show", "token", uc.ctok, "id", "23"); one != "10.0.2.2 id 23 subflow \n" {
		t.Errorf("endpoint show token %s id 23: %q", uc.ctok, one)
	}
	var eps []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, cli, "-j", "endpoint", "show", "token", uc.ctok)), &eps); err != nil || len(eps) < 2 {
		t.Errorf("endpoint show -j token %s: %v %v", uc.ctok, err, eps)
	}
	// The in-kernel table is another list: still empty.
	if all := mustCLI(t, cli, "endpoint", "show"); all != "" {
		t.Errorf("endpoint show (in-kernel): %q, want nothing", all)
	}
	failCLI(t, cli, "invalid token", "endpoint", "show", "token", usBadToken(t, cli))
}

// TestIntegrationParitySubflowLookups: the subflow commands fill in the
// local ID, the remote port and the rest of a subflow from the kernel.
func TestIntegrationParitySubflowLookups(t *testing.T) {
	t.Parallel()
	p := newUserspacePair(t, true)
	cli := p.tb.Client
	uc := p.connect(t, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, usPort4))

	// No id, no remote port: the lowest ID the connection does not use
	// (1) and the connection's port.
	fc := usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", uc.ctok, "local", "10.0.2.2", "remote", "10.0.4.2")
	ev := usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": uc.ctok, "saddr4": "10.0.2.2", "daddr4": "10.0.4.2", "dport": usPort4, "locid": 1})
	sport, _ := ev.num("sport")
	sf1 := netip.AddrPortFrom(testbed.ClientCell4, uint16(sport))
	// The same address again: its ID on the connection (1).
	fc = usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", uc.ctok, "local", "10.0.2.2", "remote", "10.0.3.2")
	ev = usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": uc.ctok, "saddr4": "10.0.2.2", "daddr4": "10.0.3.2", "locid": 1})
	sport, _ = ev.num("sport")
	sf2 := netip.AddrPortFrom(testbed.ClientCell4, uint16(sport))
	// The initial subflow's address: ID 0.
	fc = usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", uc.ctok, "local", "10.0.1.2", "remote", "10.0.4.2")
	ev = usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": uc.ctok, "saddr4": "10.0.1.2", "daddr4": "10.0.4.2", "locid": 0})
	sport, _ = ev.num("sport")
	sf3 := netip.AddrPortFrom(testbed.ClientWifi4, uint16(sport))
	s3, s4 := netip.AddrPortFrom(testbed.Server4, usPort4), netip.AddrPortFrom(testbed.Server4b, usPort4)
	usWaitSubflows(t, cli, uc.ctok, [2]netip.AddrPort{uc.local, uc.remote}, [2]netip.AddrPort{sf1, s4}, [2]netip.AddrPort{sf2, s3}, [2]netip.AddrPort{sf3, s4})

	// Two subflows from 10.0.2.2: the local address alone is ambiguous.
	failCLI(t, cli, "2 subflows of connection "+uc.ctok+" have local 10.0.2.2", "subflow", "delete", "token", uc.ctok, "local", "10.0.2.2")
	failCLI(t, cli, "no subflow of connection "+uc.ctok+" has remote 10.0.9.9", "subflow", "set", "token", uc.ctok, "remote", "10.0.9.9", "backup")

	// set by local ADDR:PORT, as connection show prints it.
	mustCLI(t, cli, "subflow", "set", "token", uc.ctok, "local", sf1.String(), "backup")
	c := usConnWhere(t, cli, "subflow "+sf1.String()+" backup", func(c connJSON) bool {
		i := usSubflow(c, sf1, s4)
		return c.Token == uc.ctok && i >= 0 && c.Subflows[i].Backup
	})
	if i := usSubflow(c, sf2, s3); i < 0 || c.Subflows[i].Backup {
		t.Errorf("subflow %s: backup set too, or gone: %+v", sf2, c.Subflows)
	}
	// delete by local and remote addresses without ports.
	mustCLI(t, cli, "subflow", "delete", "token", uc.ctok, "local", "10.0.2.2", "remote", "10.0.3.2")
	usWaitSubflows(t, cli, uc.ctok, [2]netip.AddrPort{uc.local, uc.remote}, [2]netip.AddrPort{sf1, s4}, [2]netip.AddrPort{sf3, s4})
	// delete by remote with port and local address.
	mustCLI(t, cli, "subflow", "delete", "token", uc.ctok, "remote", s4.String(), "local", "10.0.1.2")
	usWaitSubflows(t, cli, uc.ctok, [2]netip.AddrPort{uc.local, uc.remote}, [2]netip.AddrPort{sf1, s4})
	echo(t, uc.c, "after the lookups")

	// An in-kernel endpoint's ID, on a second connection, for an address
	// the connection does not use yet.
	ip(t, cli, "mptcp", "endpoint", "add", "10.0.2.2", "id", "7", "subflow")
	u2 := p.connect(t, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, usPort4))
	fc = usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", u2.ctok, "local", "10.0.2.2", "remote", "10.0.3.2")
	usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": u2.ctok, "saddr4": "10.0.2.2", "daddr4": "10.0.3.2", "locid": 7})
	failCLI(t, cli, fmt.Sprintf("no MPTCP connection with token %s", usBadToken(t, cli)),
		"subflow", "add", "token", usBadToken(t, cli), "local", "10.0.2.2", "remote", "10.0.3.2")
}

// parityReady starts the monitors and returns once each provably receives
// events (a listener's LISTENER_CLOSED, which every version prints with
// its name or as "UNKNOWN 16"), with the number of lines each printed
// until then.
func parityReady(t *testing.T, ns string, procs ...*usLineProc) []int {
	t.Helper()
	closedSince := func(lp *usLineProc, from int) bool {
		for _, l := range lp.snapshot()[from:] {
			if strings.Contains(l, "LISTENER_CLOSED") || strings.Contains(l, "UNKNOWN 16") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		from := make([]int, len(procs))
		for i, lp := range procs {
			from[i] = len(lp.snapshot())
		}
		ln := listenMPTCP(t, ns, netip.MustParseAddrPort("127.0.0.1:0"))
		ln.Close()
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			all := true
			for i, lp := range procs {
				all = all && closedSince(lp, from[i])
			}
			if all {
				for i, lp := range procs {
					from[i] = len(lp.snapshot())
				}
				return from
			}
		}
	}
	t.Fatalf("monitors in %s never all reported a listener", ns)
	return nil
}

// parityLine waits up to 5 s for a line of lp (from position from on)
// that starts, after the time prefix tre, with prefix, and returns it
// without the time.
func parityLine(t *testing.T, lp *usLineProc, from int, tre *regexp.Regexp, prefix string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines := lp.snapshot()[from:]
		for _, l := range lines {
			rest := tre.ReplaceAllString(l, "")
			if strings.HasPrefix(rest, prefix) {
				if tre.String() != "^$" && rest == l {
					t.Errorf("%s: line %q has no time prefix", lp.name, l)
				}
				return rest
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no line starting with %q within 5 s; got\n\t%s", lp.name, prefix, strings.Join(lines, "\n\t"))
		}
	}
}

// TestIntegrationParityMonitor: `mptcp-pm monitor` prints what iproute2
// 7.1 prints for the 6.18 kernel's events (server_side on the server,
// deny_join_id0 where the peer refuses joins to its initial address,
// ifindex and dev= for a device-bound subflow), with -t a time prefix,
// with -j the objects of `ip -j mptcp monitor`; and the same lines as the
// installed ip once the parts ip 6.1 prints otherwise are left out.
func TestIntegrationParityMonitor(t *testing.T) {
	t.Parallel()
	p := newUserspacePair(t, true)
	cli, srv := p.tb.Client, p.tb.Server
	sysctl(t, srv, "net.mptcp.allow_join_initial_addr_port", "0")
	ct := usStartLines(t, true, binary, "-n", cli, "-t", "monitor")
	cj := usStartLines(t, true, binary, "-n", cli, "-j", "monitor")
	cip := usStartLines(t, false, "ip", "-n", cli, "mptcp", "monitor")
	st := usStartLines(t, true, binary, "-n", srv, "-t", "monitor")
	from := parityReady(t, cli, ct, cj, cip)
	sfrom := parityReady(t, srv, st)[0]

	uc := p.connect(t, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, usPort4))
	fc := usMark(p.mc)
	mustCLI(t, cli, "subflow", "add", "token", uc.ctok, "local", "10.0.2.2", "id", "5", "remote", "10.0.4.2", "port", strconv.Itoa(usPort4), "dev", testbed.CellDev)
	ev := usAwait(t, p.mc, fc, "SF_ESTABLISHED", map[string]any{"token": uc.ctok, "saddr4": "10.0.2.2", "locid": 5})
	sport, _ := ev.num("sport")

	tre := regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\] `)
	cport := uc.local.Port()
	for _, w := range []struct {
		lp     *usLineProc
		from   int
		prefix string
		want   string
	}{
		{st, sfrom, "[         CREATED] token=" + uc.stok,
			fmt.Sprintf("[         CREATED] token=%s remid=0 locid=0 saddr4=10.0.3.2 daddr4=10.0.1.2 sport=%d dport=%d server_side", uc.stok, usPort4, cport)},
		{st, sfrom, "[     ESTABLISHED] token=" + uc.stok,
			fmt.Sprintf("[     ESTABLISHED] token=%s remid=0 locid=0 saddr4=10.0.3.2 daddr4=10.0.1.2 sport=%d dport=%d server_side", uc.stok, usPort4, cport)},
		{ct, from[0], "[     ESTABLISHED] token=" + uc.ctok,
			fmt.Sprintf("[     ESTABLISHED] token=%s remid=0 locid=0 saddr4=10.0.1.2 daddr4=10.0.3.2 sport=%d dport=%d deny_join_id0", uc.ctok, cport, usPort4)},
		{ct, from[0], "[  SF_ESTABLISHED] token=" + uc.ctok,
			// remid 1: the server's userspace PM numbers an address
			// that is not its initial one from 1.
			fmt.Sprintf("[  SF_ESTABLISHED] token=%s remid=1 locid=5 saddr4=10.0.2.2 daddr4=10.0.4.2 sport=%d dport=%d backup=0 ifindex=%d dev=%s",
				uc.ctok, sport, usPort4, usIfIndex(t, cli, testbed.CellDev), testbed.CellDev)},
	} {
		if got := parityLine(t, w.lp, w.from, tre, w.prefix); got != w.want {
			t.Errorf("%s:\n got %s\nwant %s", w.lp.name, got, w.want)
		}
	}

	// -j: the objects of ip -j mptcp monitor (iproute2 7.x), after a time.
	line := parityLine(t, cj, from[1], regexp.MustCompile("^$"), `{"time":`)
	var obj map[string]any
	for _, l := range cj.snapshot()[from[1]:] {
		if strings.Contains(l, `"event":"ESTABLISHED"`) {
			line = l
		}
	}
	if err := json.Unmarshal([]byte(line), &obj); err != nil {
		t.Fatalf("%s: %q: %v", cj.name, line, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(obj["time"])); err != nil {
		t.Errorf("%s: time %v: %v", cj.name, obj["time"], err)
	}
	tok, _ := strconv.ParseUint(uc.ctok, 16, 32)
	wantJ := fmt.Sprintf(`,"event":"ESTABLISHED","token":"0x%x","remid":0,"locid":0,"saddr4":"10.0.1.2","daddr4":"10.0.3.2","sport":%d,"dport":%d,"deny_join_id0":true}`,
		tok, cport, usPort4)
	if !strings.HasSuffix(line, wantJ) {
		t.Errorf("%s: ESTABLISHED\n got %s\nwant {\"time\":…%s", cj.name, line, wantJ)
	}

	// The installed ip, normalised as TestIntegrationMonitorTextMatchesIP does.
	var ours, theirs []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ours, theirs = ct.snapshot()[from[0]:], cip.snapshot()[from[2]:]
		if len(theirs) >= len(ours) || time.Now().After(deadline) {
			break
		}
	}
	for i := range ours {
		ours[i] = usNormalize(tre.ReplaceAllString(ours[i], ""))
	}
	for i := range theirs {
		theirs[i] = usNormalize(theirs[i])
	}
	if !slices.Equal(ours, theirs) || len(ours) < 3 {
		t.Errorf("mptcp-pm -t monitor and ip mptcp monitor differ (normalised)\nmptcp-pm:\n\t%s\nip:\n\t%s",
			strings.Join(ours, "\n\t"), strings.Join(theirs, "\n\t"))
	}
}

// TestIntegrationParityKernelPMRefused: the new forms on a connection of
// the in-kernel path manager get the kernel's refusal, as the full forms
// do (TestIntegrationKernelPMUserspaceCommandsRefused), and change nothing.
func TestIntegrationParityKernelPMRefused(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	kernelPM(t, tb)
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5201))
	c := dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	echo(t, c, "hello")
	conn := connectionOf(t, tb.Client, c.LocalAddr(), 1)
	failCLI(t, tb.Client, "subflow add: look up the ID of local 10.0.2.2: dump addresses token "+conn.Token+": userspace PM not selected",
		"subflow", "add", "token", conn.Token, "local", "10.0.2.2", "remote", "10.0.3.2")
	for _, args := range [][]string{
		{"subflow", "delete", "token", conn.Token, "local", "10.0.1.2"},
		{"subflow", "set", "token", conn.Token, "remote", "10.0.3.2:5201", "backup"},
		{"endpoint", "show", "token", conn.Token},
	} {
		line := failCLI(t, tb.Client, "userspace PM not selected", args...)
		t.Logf("%s: %s", strings.Join(args, " "), line)
	}
	cc := connectionOf(t, tb.Client, c.LocalAddr(), 1)
	if len(cc.Subflows) != 1 || cc.Subflows[0].Local != conn.Local || cc.Subflows[0].Backup {
		t.Errorf("connection after the refused commands: %+v, want its single non-backup subflow from %s", cc.Subflows, conn.Local)
	}
}
