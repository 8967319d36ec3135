package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	st := &control.Status{PID: 42, Config: "/etc/mptcp-pm/config.yaml", Quality: "ebpf", Commands: 3, Refused: 1, Resyncs: 1,
		Build:   buildinfo.Info{Version: "v1.2.0", Revision: "5b13d27b8a5c825eb4", GoVersion: "go1.26.8"},
		Started: now.Add(-192 * time.Second), PMType: "1",
		Warnings: []string{"handover policy voice has no interface of class cellular: no backup path"},
		Policies: []control.PolicyStatus{{Name: "voice", Mode: "handover", Source: "/etc/mptcp-pm/policies.d/voice.yaml"},
			{Name: "default", Mode: "aggregate", Source: "/etc/mptcp-pm/config.yaml"}},
		Interfaces: []control.InterfaceStatus{{Name: "wlan0", Class: "wifi", Up: true, Addrs: []string{"10.0.1.2"}},
			{Name: "eth0", Class: "wired", Addrs: []string{}}},
		ConnectionCount: 1, SubflowCount: 1,
		Connections: []control.ConnStatus{{Token: "84715662", Application: "voice", Mode: "handover", Local: "10.0.1.2:37399",
			Remote: "10.0.3.2:5201", Active: []string{"wlan0"}, Bad: map[string]string{"eth0": "rto"},
			Subflows: []control.SubflowStatus{{Local: "10.0.1.2:37399", Remote: "10.0.3.2:5201", Interface: "wlan0"}}}},
		Latency:     control.LatencyStatus{Count: 3, Window: 3, P50: 45, P99: 120.4, Max: 300},
		CommandTime: control.LatencyStatus{Count: 3, Window: 3, P50: 80, P99: 200, Max: 250},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	want := `mptcp-pm v1.2.0 (revision 5b13d27b8a5c, go1.26.8), process 42, running for 3m12s
configuration /etc/mptcp-pm/config.yaml
the kernel leaves the paths to mptcp-pm (net.mptcp.pm_type=1)
path quality measured by eBPF probes
warning: handover policy voice has no interface of class cellular: no backup path
applications (the first that matches a connection is its policy):
  voice        handover     /etc/mptcp-pm/policies.d/voice.yaml
  default      aggregate    /etc/mptcp-pm/config.yaml
interfaces:
  wlan0        wifi         up    10.0.1.2
  eth0         wired        down
connections: 1, with 1 subflow
  84715662 10.0.1.2:37399 -> 10.0.3.2:5201  voice (handover), opened here, traffic on wlan0; eth0 found bad (rto)
      subflow 10.0.1.2:37399 -> 10.0.3.2:5201 on wlan0
commands sent to the kernel: 3 (1 refused); view of the kernel rebuilt 1 time
reaction to kernel events: median 45µs, 99% within 120µs, worst 300µs; the kernel's own time: median 80µs, worst 250µs (last 3 commands)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
