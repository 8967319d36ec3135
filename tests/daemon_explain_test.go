package tests

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// explainPolicies are three policies before the default: bulk on another
// port, then voice on the echo server's port, in handover mode, and video,
// whose backup class no interface of the testbed has.
var explainPolicies = map[string]string{
	"a-bulk.yaml":  "name: bulk\nmatch:\n  ports: [5202]\nmode: aggregate\n",
	"b-voice.yaml": "name: voice\nmatch:\n  ports: [5201]\nmode: handover\nhandover: { hold_down: 1s }\n",
	"c-video.yaml": "name: video\nmatch:\n  ports: [8443]\nmode: handover\npaths: { prefer: [wifi], backup: [wired] }\n",
}

// explainToken runs `mptcp-pm -j policy explain token TOKEN` against d.
func explainToken(t *testing.T, d *daemonProc, token string) control.Explanation {
	t.Helper()
	var ex control.Explanation
	out := mustCLI(t, "", "-j", "policy", "explain", "token", token, "--control", d.control)
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("policy explain -j: %v: %s", err, out)
	}
	return ex
}

// pathOf returns the explanation of interface name.
func pathOf(t *testing.T, ex control.Explanation, name string) control.PathExplanation {
	t.Helper()
	for _, p := range ex.Paths {
		if p.Interface == name {
			return p
		}
	}
	t.Fatalf("no path %s in %+v", name, ex.Paths)
	return control.PathExplanation{}
}

// TestIntegrationPolicyExplainToken explains a live connection: the
// policy tried first and why it did not match, the one that did, and the
// paths, before and after the Wi-Fi link goes down.
func TestIntegrationPolicyExplainToken(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, explainPolicies)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	c := d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return c.Application == "voice" && activeOn("wlan0")(c) })

	ex := explainToken(t, d, c.Token)
	if ex.Policy != "voice" || ex.Mode != "handover" || ex.Token != c.Token {
		t.Fatalf("explain: policy %s mode %s token %s, want voice, handover, %s", ex.Policy, ex.Mode, ex.Token, c.Token)
	}
	if len(ex.Rules) != 2 || ex.Rules[0].Policy != "bulk" || ex.Rules[0].Matched || ex.Rules[0].Why != "port 5201 is not 5202" ||
		ex.Rules[1].Policy != "voice" || !ex.Rules[1].Matched {
		t.Errorf("rules: %+v", ex.Rules)
	}
	if w := pathOf(t, ex, "wlan0"); !w.Used || w.Backup || w.Local != testbed.ClientWifi4.String() {
		t.Errorf("wlan0 before the cut: %+v", w)
	}
	if c := pathOf(t, ex, "wwan0"); c.Used || !strings.Contains(c.Why, "backup path") {
		t.Errorf("wwan0 before the cut: %+v", c)
	}

	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	ex = explainToken(t, d, c.Token)
	if w := pathOf(t, ex, "wlan0"); w.Used || w.Why != "down" {
		t.Errorf("wlan0 after the cut: %+v", w)
	}
	if c := pathOf(t, ex, "wwan0"); !c.Used || c.Local != testbed.ClientCell4.String() || !strings.Contains(c.Why, "backup wwan0") {
		t.Errorf("wwan0 after the cut: %+v", c)
	}
	// The text form says the same for a person.
	text := mustCLI(t, "", "policy", "explain", "token", c.Token, "--control", d.control)
	for _, want := range []string{"gets policy voice, mode handover", "no  bulk         port 5201 is not 5202", "not used wlan0    wifi      down"} {
		if !strings.Contains(text, want) {
			t.Errorf("policy explain: no %q in:\n%s", want, text)
		}
	}
	failCLI(t, "", "no connection with token 00000001", "policy", "explain", "token", "1", "--control", d.control)
	s.wait(t)

	// A connection that does not exist yet: the video policy, whose paths
	// leave cellular out; and the status warns that it has no backup path.
	var hypo control.Explanation
	out := mustCLI(t, "", "-j", "policy", "explain", "port", "8443", "dest", testbed.Server4.String(), "--control", d.control)
	if err := json.Unmarshal([]byte(out), &hypo); err != nil {
		t.Fatalf("policy explain -j: %v: %s", err, out)
	}
	if hypo.Policy != "video" || len(hypo.Rules) != 3 || hypo.Rules[1].Why != "port 8443 is not 5201" {
		t.Errorf("explain port 8443: policy %s, rules %+v", hypo.Policy, hypo.Rules)
	}
	if c := pathOf(t, hypo, "wwan0"); c.Used || !strings.HasPrefix(c.Why, "class cellular is not among the paths of policy video") {
		t.Errorf("explain port 8443: wwan0 %+v", c)
	}
	want := "handover policy video has no interface of class wired: no backup path"
	if st := d.status(); !slices.Contains(st.Warnings, want) {
		t.Errorf("status warnings %q, want %q among them", st.Warnings, want)
	}
	if text := mustCLI(t, "", "status", "--control", d.control); !strings.Contains(text, "warning: "+want+"\n") {
		t.Errorf("status: no warning %q in:\n%s", want, text)
	}
}

// TestIntegrationDaemonDryRun: with --dry-run, a link down in handover
// mode makes the daemon log the subflow it would create, and the kernel
// gets none; the daemon's view stays the kernel's.
func TestIntegrationDaemonDryRun(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBedWith(t, handoverConfig, nil, "--dry-run")
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	c := d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return c.Mode == "handover" && activeOn("wlan0")(c) })
	if st := d.status(); !st.DryRun {
		t.Errorf("status: dry_run not set")
	}

	tb.Impair(t, testbed.PathWifi, "cut")
	// The log has the creation it would send: from cellular to the
	// server, as the subflow of a handover (whatever else it would do,
	// such as probing the silent Wi-Fi path).
	want := "create-subflow token " + c.Token + " " + testbed.ClientCell4.String() + " id "
	if !d.waitLog(`msg="would create-subflow" action="`+want, 5*time.Second) {
		t.Fatalf("no \"would create-subflow\" from %s in the log after the cut", testbed.ClientCell4)
	}
	// The kernel has no subflow from the cellular address, and the daemon
	// neither sent a command nor thinks it has one.
	for _, c := range connections(t, tb.Client) {
		for _, sf := range c.Subflows {
			if netip.MustParseAddrPort(sf.Local).Addr() == testbed.ClientCell4 {
				t.Errorf("the kernel has a subflow from %s in a dry run: %+v", testbed.ClientCell4, c.Subflows)
			}
		}
	}
	st := d.status()
	if st.Commands != 0 {
		t.Errorf("status: %d commands sent in a dry run", st.Commands)
	}
	for _, c := range st.Connections {
		for _, sf := range c.Subflows {
			if sf.Interface == testbed.CellDev {
				t.Errorf("the daemon's view has a cellular subflow that was never created: %+v", c.Subflows)
			}
		}
	}
	// status says it is a dry run, for a person and in JSON.
	text := mustCLI(t, "", "status", "--control", d.control)
	for _, want := range []string{"dry run: the daemon logs what it would do and sends the kernel nothing", ", running for ",
		"the kernel's own path manager is in charge (net.mptcp.pm_type=0)", "commands sent to the kernel: 0 (0 refused)"} {
		if !strings.Contains(text, want) {
			t.Errorf("status: no %q in:\n%s", want, text)
		}
	}
	if st.PMType != "0" || st.Build.GoVersion == "" || st.Started.IsZero() {
		t.Errorf("status: pm_type %q build %+v started %v", st.PMType, st.Build, st.Started)
	}
	t.Logf("%d \"would\" lines in the log", strings.Count(d.log.String(), "msg=\"would "))
	if strings.Contains(d.log.String(), "kernel refused") {
		t.Errorf("a command went to the kernel in a dry run:\n%s", d.log.String())
	}
	s.cancel()
}
