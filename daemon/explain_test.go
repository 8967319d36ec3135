package daemon

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

func explainSet() *policy.Set {
	paths := policy.DefaultPaths
	return &policy.Set{Config: &policy.Config{Default: policy.Policy{Name: "default", Source: "config.yaml", Mode: policy.ModeAggregate, Paths: paths}},
		Policies: []*policy.Policy{
			{Name: "root", Source: "root.yaml", Mode: policy.ModeSingle, Paths: paths, Match: policy.Match{UIDs: []uint32{0}}},
			{Name: "voice", Source: "voice.yaml", Mode: policy.ModeHandover, Paths: paths, Handover: policy.DefaultHandover,
				Match: policy.Match{Ports: []policy.PortRange{{From: 5060, To: 5060}}}},
			{Name: "app", Source: "app.yaml", Mode: policy.ModeSingle, Paths: paths, Match: policy.Match{Cgroup: "/app"}},
			{Name: "office", Source: "office.yaml", Mode: policy.ModeAggregate, Paths: paths,
				Match: policy.Match{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}},
			{Name: "browser", Source: "browser.yaml", Mode: policy.ModeInteractive, Paths: paths, Match: policy.Match{Process: "firefox"}},
		}}
}

func explainIfaces() ifmon.Snapshot {
	return ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.2")}},
		{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: false, Addrs: []netip.Addr{netip.MustParseAddr("10.0.2.2")}},
	}}
}

func TestExplainNew(t *testing.T) {
	set, st := explainSet(), engine.NewState(explainIfaces())
	uid0 := uint32(0)
	for _, tc := range []struct {
		name    string
		req     control.ExplainRequest
		policy  string
		matched []string
		rules   []string
	}{
		{"nothing given: a uid 0 policy does not match", control.ExplainRequest{}, "default", []string{},
			[]string{"no root: matches on uid, which is not known", "no voice: matches on port, which is not known",
				"no app: matches on cgroup, which is not known", "no office: matches on destination, which is not known",
				"no browser: matches on process, which is not known", "yes default: no policy matched: the default applies"}},
		{"destination", control.ExplainRequest{Port: 443, Dest: "10.9.1.1"}, "office", []string{"port 443", "destination 10.9.1.1"},
			[]string{"no root: matches on uid, which is not known", "no voice: port 443 is not 5060",
				"no app: matches on cgroup, which is not known", "yes office: every condition holds"}},
		{"process", control.ExplainRequest{Port: 443, Dest: "192.0.2.1", Process: "firefox"}, "browser",
			[]string{"port 443", "destination 192.0.2.1", "process firefox"},
			[]string{"no root: matches on uid, which is not known", "no voice: port 443 is not 5060",
				"no app: matches on cgroup, which is not known", "no office: destination 192.0.2.1 is not in 10.9.0.0/16",
				"yes browser: every condition holds"}},
		{"port", control.ExplainRequest{Port: 5060, Dest: "192.0.2.1"}, "voice", []string{"port 5060", "destination 192.0.2.1"},
			[]string{"no root: matches on uid, which is not known", "yes voice: every condition holds"}},
		{"uid", control.ExplainRequest{Port: 5060, UID: &uid0}, "root", []string{"port 5060", "uid 0"},
			[]string{"yes root: every condition holds"}},
		{"cgroup", control.ExplainRequest{Port: 443, Cgroup: "/app/x"}, "app", []string{"port 443", "cgroup /app/x"},
			[]string{"no root: matches on uid, which is not known", "no voice: port 443 is not 5060", "yes app: every condition holds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := explainNew(set, st, tc.req, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, r := range ex.Rules {
				rules = append(rules, map[bool]string{true: "yes ", false: "no "}[r.Matched]+r.Policy+": "+r.Why)
			}
			if ex.Policy != tc.policy || !cmp.Equal(ex.Matched, tc.matched) || !cmp.Equal(rules, tc.rules) {
				t.Errorf("got policy %s matched %q rules %q\nwant policy %s matched %q rules %q", ex.Policy, ex.Matched, rules, tc.policy, tc.matched, tc.rules)
			}
		})
	}
	ex, err := explainNew(set, st, control.ExplainRequest{Port: 5060, Dest: "10.0.3.2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []control.PathExplanation{
		{Interface: "wlan0", Class: "wifi", Used: true, Local: "10.0.1.2", Remote: "10.0.3.2:5060", Why: "handover: preferred path wlan0"},
		{Interface: "wwan0", Class: "cellular", Why: "down"},
	}
	if diff := cmp.Diff(want, ex.Paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	for req, want := range map[control.ExplainRequest]string{
		{Dest: "fd00:3::2"}: "fd00:3::2", {Port: 5202}: "*:5202", {}: "*", {Dest: "fd00:3::2", Port: 443}: "[fd00:3::2]:443",
	} {
		ex, err := explainNew(set, st, req, time.Now())
		if err != nil || ex.Remote != want {
			t.Errorf("%+v: remote %q (%v), want %q", req, ex.Remote, err, want)
			continue
		}
		for _, p := range ex.Paths {
			if p.Used && p.Remote != want {
				t.Errorf("%+v: path %s to %q, want %q", req, p.Interface, p.Remote, want)
			}
		}
	}
	if _, err := explainNew(set, st, control.ExplainRequest{Dest: "fe80::1%eth0"}, time.Now()); err == nil || !strings.Contains(err.Error(), `invalid destination address "fe80::1%eth0"`) {
		t.Errorf("a zone in the destination: %v", err)
	}
}

func TestExplainConn(t *testing.T) {
	set, st := explainSet(), engine.NewState(explainIfaces())
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:5060")
	st.Step(engine.ConnCreated{EventBase: engine.EventBase{At: time.Now()}, Token: 0x1234, Local: local, Remote: remote, Policy: set.Policies[1]})
	mi := matchInfo{conn: policy.Conn{Local: local, Remote: remote, UID: 1000, Cgroup: "/user.slice"}, owner: true}
	ex, err := explainConn(set, st, 0x1234, mi, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ex.Policy != "voice" || ex.Token != "00001234" || !cmp.Equal(ex.Matched, []string{"port 5060", "destination 10.0.3.2", "uid 1000", "cgroup /user.slice"}) {
		t.Errorf("got %+v", ex)
	}
	if len(ex.Rules) != 2 || ex.Rules[0].Why != "uid 1000 is not 0" || !ex.Rules[1].Matched {
		t.Errorf("rules: %+v", ex.Rules)
	}
	if _, err := explainConn(set, st, 0x9999, matchInfo{}, false, time.Now()); err == nil || !strings.Contains(err.Error(), "no connection with token 00009999") {
		t.Errorf("unknown token: %v", err)
	}
}
