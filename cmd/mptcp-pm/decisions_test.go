package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// fakeDecisions serves the decisions query on a socket in a temporary
// directory: the subscription's answer, then decs, then it holds the
// stream open until the client goes.
func fakeDecisions(t *testing.T, decs ...control.Decision) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadBytes('\n')
		if err != nil {
			return
		}
		if req, err := control.DecodeRequest(line); err != nil || req.Query != control.QueryDecisions {
			_ = json.NewEncoder(c).Encode(control.Reply{Error: "want decisions"})
			return
		}
		enc := json.NewEncoder(c)
		_ = enc.Encode(control.Reply{})
		for _, d := range decs {
			_ = enc.Encode(d)
		}
		_, _ = c.Read(make([]byte, 1))
	}()
	return path
}

func TestMonitorDecisions(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 16, 1, 717590000, time.Local)
	decs := []control.Decision{
		{Time: at, Kind: control.DecisionHandover, Token: "5b06d65d", From: "wlan0", To: "wwan0", Local: "10.0.2.2", Reason: "wlan0 link down", TookMS: 0.687},
		{Time: at, Kind: control.DecisionRefused, Token: "5b06d65d", Action: "set-backup token 5b06d65d", Error: "genl: set flags: invalid token: invalid argument", ExtAck: "invalid token"},
		{Time: at, Kind: control.DecisionDropped, Dropped: 3, DroppedTotal: 5},
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-t", "monitor", "decisions"}, []string{
			"[2026-12-06T10:16:01.717590] handover token 5b06d65d wlan0 -> wwan0 took 0.7ms: wlan0 link down",
			"[2026-12-06T10:16:01.717590] refused token 5b06d65d set-backup token 5b06d65d: genl: set flags: invalid token: invalid argument",
			"[2026-12-06T10:16:01.717590] dropped 3 decisions (5 in all): the reader is too slow"}},
		{[]string{"-j", "mon", "dec"}, nil},
	} {
		e, _, _ := testEnv(&fakePM{}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		e.ctx, e.stdout = ctx, out
		done := make(chan error, 1)
		go func() { done <- run(e, append(tc.args, "--control", fakeDecisions(t, decs...))) }()
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(out.String(), "\n") < len(decs) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if tc.want != nil {
			if strings.Join(lines, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%v:\n got %q\nwant %q", tc.args, lines, tc.want)
			}
			continue
		}
		for i, l := range lines {
			var d control.Decision
			if err := json.Unmarshal([]byte(l), &d); err != nil || !d.Time.Equal(decs[i].Time) || d.Kind != decs[i].Kind || d.ExtAck != decs[i].ExtAck {
				t.Errorf("%v: line %d %s: %v", tc.args, i, l, err)
			}
		}
	}
}

// Without a daemon, monitor decisions says where it looked.
func TestMonitorDecisionsNoDaemon(t *testing.T) {
	e, _, _ := testEnv(&fakePM{}, nil)
	path := filepath.Join(t.TempDir(), "none.sock")
	err := run(e, []string{"monitor", "decisions", "--control", path})
	if err == nil || !strings.Contains(err.Error(), "control socket "+path) || !strings.Contains(err.Error(), "is the daemon running?") {
		t.Errorf("no daemon: %v", err)
	}
}
