package main

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/control"
)

func TestParseExplain(t *testing.T) {
	uid := uint32(1000)
	root := uint32(0)
	for line, want := range map[string]control.ExplainRequest{
		"token 84715662":                     {Token: "84715662"},
		"t 0x1f":                             {Token: "0000001f"},
		"port 443 dest 192.0.2.1 uid 1000":   {Port: 443, Dest: "192.0.2.1", UID: &uid},
		"destination fd00::1 process curl":   {Dest: "fd00::1", Process: "curl"},
		"cgroup /system.slice/x.service":     {Cgroup: "/system.slice/x.service"},
		"uid root":                           {UID: &root},
		"port 5060 --control /tmp/c.sock":    {Port: 5060},
		"":                                   {},
		"pro firefox c /user.slice dest ::1": {Process: "firefox", Cgroup: "/user.slice", Dest: "::1"},
	} {
		got, _, err := parseExplain(strings.Fields(line))
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", line, diff)
		}
	}
	for line, msg := range map[string]string{
		"token xyz":             `policy explain: invalid token "xyz"`,
		"port 0":                `policy explain: invalid port "0": want a number from 1 to 65535`,
		"dest 10.0.0":           `policy explain: invalid dest address "10.0.0"`,
		"uid no-such-user-here": `policy explain: invalid uid "no-such-user-here": not a number, and no user of that name`,
		"cgroup user.slice":     `policy explain: invalid cgroup "user.slice": want a cgroup v2 path from the root`,
		"token 1 port 443":      "policy explain: token names a connection: give no port, dest, uid, cgroup or process with it",
		"frob 1":                `policy explain: unknown argument "frob" (expected token, port, dest, destination, uid, cgroup, process)`,
		"process":               `policy explain: missing value after "process"`,
		"port 443 --frob":       `policy explain: unknown option "--frob"`,
	} {
		_, _, err := parseExplain(strings.Fields(line))
		if err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", line, err, msg)
		}
	}
}

// fakeDaemon answers one control request on a socket with reply, and
// hands the request it got to got.
func fakeDaemon(t *testing.T, reply control.Reply) (string, <-chan control.Request) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan control.Request, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadBytes('\n')
		req, err := control.DecodeRequest(line)
		if err != nil {
			t.Errorf("the CLI sent a request the daemon refuses: %v: %s", err, line)
		}
		got <- req
		_ = json.NewEncoder(c).Encode(reply)
	}()
	return path, got
}

func TestPolicyExplainOutput(t *testing.T) {
	ex := &control.Explanation{Remote: "192.0.2.1:5060", Matched: []string{"port 5060", "destination 192.0.2.1"},
		Policy: "voice", Mode: "handover", Source: "/etc/mptcp-pm/policies.d/voice.yaml",
		Rules: []control.RuleExplanation{{Policy: "root", Field: "uid", Why: "matches on uid, which is not known"},
			{Policy: "voice", Matched: true, Why: "every condition holds"}},
		Paths: []control.PathExplanation{{Interface: "wlan0", Class: "wifi", Used: true, Local: "10.0.1.2", Remote: "192.0.2.1:5060", Why: "handover: preferred path wlan0"},
			{Interface: "wwan0", Class: "cellular", Local: "10.0.2.2", Why: "backup path: used only while no preferred path is usable"},
			{Interface: "eth9", Class: "wired", Why: "down"}},
		Notes: []string{"no uid given"}}
	path, got := fakeDaemon(t, control.Reply{Explanation: ex})
	e, out, _ := testEnv(&fakePM{}, nil)
	if err := run(e, []string{"policy", "explain", "port", "5060", "dest", "192.0.2.1", "--control", path}); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if req.Query != control.QueryExplain || req.Explain == nil || req.Explain.Port != 5060 || req.Explain.Dest != "192.0.2.1" {
		t.Errorf("request %+v", req)
	}
	want := `a connection to 192.0.2.1:5060 (port 5060, destination 192.0.2.1) gets policy voice, mode handover (/etc/mptcp-pm/policies.d/voice.yaml)
policies tried, in order:
  no  root         matches on uid, which is not known
  yes voice        every condition holds
paths now:
  used     wlan0    wifi      10.0.1.2 -> 192.0.2.1:5060: handover: preferred path wlan0
  not used wwan0    cellular  backup path: used only while no preferred path is usable
  not used eth9     wired     down
note: no uid given
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	path, _ = fakeDaemon(t, control.Reply{Error: "no connection with token 00001234 (see mptcp-pm status)"})
	e, _, _ = testEnv(&fakePM{}, nil)
	err := run(e, []string{"policy", "explain", "token", "1234", "--control", path})
	if err == nil || err.Error() != "policy explain: daemon: no connection with token 00001234 (see mptcp-pm status)" {
		t.Errorf("unknown token: %v", err)
	}
}
