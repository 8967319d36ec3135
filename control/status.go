package control

import (
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
)

// Status is the daemon's view, as the control socket serves it.
type Status struct {
	PID         int               `json:"pid"`
	NetNS       string            `json:"netns,omitempty"`
	Config      string            `json:"config"`
	Updated     time.Time         `json:"updated"`
	Policies    []PolicyStatus    `json:"policies"`
	Interfaces  []InterfaceStatus `json:"interfaces"`
	Connections []ConnStatus      `json:"connections"`
	Quality     string            `json:"quality"`  // what subflows are measured with: ebpf, sockdiag, none
	Commands    int               `json:"commands"` // actions sent to the kernel
	Refused     int               `json:"refused"`  // of which the kernel refused
	Resyncs     int               `json:"resyncs"`  // rebuilds of the view from a kernel dump
	// ConnectionCount and SubflowCount count what Connections lists (also
	// in a brief status, which leaves the list out).
	ConnectionCount int `json:"connection_count"`
	SubflowCount    int `json:"subflow_count"`
	// Latency is the event-to-command latency: for each command a kernel
	// event caused, from the event's receipt to the command's sending.
	// CommandTime is, for the same commands, from their sending to the
	// kernel's acknowledgement (the kernel's work, which on a veth
	// testbed includes handing the new subflow's SYN through the peers).
	Latency     LatencyStatus `json:"latency"`
	CommandTime LatencyStatus `json:"command_time"`
	Runtime     RuntimeStatus `json:"runtime"`
	// Build is the daemon's build, Started when it started.
	Build   buildinfo.Info `json:"build"`
	Started time.Time      `json:"started"`
	// PMType is net.mptcp.pm_type in the daemon's namespace: 1 the
	// userspace path manager, 0 the kernel's own ("" if unreadable).
	PMType string `json:"pm_type"`
	// DryRun is set when the daemon sends the kernel no command.
	DryRun bool `json:"dry_run,omitempty"`
	// Warnings are sentences for a person, each something to fix: a
	// policy with no backup path, the kernel's path manager in charge,
	// another manager of MPTCP in the namespace ("neighbour mptcpd pid
	// 42: a path manager too: ..."). Anything that builds a Status may
	// append to them.
	Warnings []string `json:"warnings"`
}

// PolicyStatus is one loaded policy.
type PolicyStatus struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Mode   string `json:"mode"`
	// Mptcpify is "ebpf" when the policy's cgroup has its sockets made
	// MPTCP, "unavailable: …" when the kernel refused, "" when not asked.
	Mptcpify string `json:"mptcpify,omitempty"`
}

// InterfaceStatus is one interface as the daemon classified it.
type InterfaceStatus struct {
	Name  string   `json:"name"`
	Index int32    `json:"index"`
	Class string   `json:"class"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs"`
	// Temporary and Deprecated are the addresses of Addrs that are IPv6
	// temporary (privacy) addresses and deprecated ones: no subflow is
	// opened from them unless a policy's addresses key asks.
	Temporary  []string `json:"temporary,omitempty"`
	Deprecated []string `json:"deprecated,omitempty"`
}

// ConnStatus is one connection and what the daemon does with it.
type ConnStatus struct {
	Token       string   `json:"token"`
	Application string   `json:"application"`
	Mode        string   `json:"mode"`
	Local       string   `json:"local"`
	Remote      string   `json:"remote"`
	ServerSide  bool     `json:"server_side"`
	Established bool     `json:"established"`
	Active      []string `json:"active"` // interfaces of the non-backup subflows
	// Bad are the paths measured bad for this connection: interface name
	// -> rto, loss or rtt.
	Bad map[string]string `json:"bad,omitempty"`
	// Excluded are the interfaces that are up and that the policy allows
	// but that the connection does not use, with why: no route to the
	// peer from their addresses, a route through another interface, or
	// only addresses of a kind the policy did not ask for.
	Excluded map[string]string `json:"excluded,omitempty"`
	Subflows []SubflowStatus   `json:"subflows"`
}

// SubflowStatus is one subflow in the daemon's model.
type SubflowStatus struct {
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	LocID     uint8  `json:"locid"`
	RemID     uint8  `json:"remid"`
	Backup    bool   `json:"backup"`
	Interface string `json:"interface,omitempty"`
}

// LatencyStatus summarises the event-to-command latencies of the last
// Window commands caused by kernel events.
type LatencyStatus struct {
	Count  int     `json:"count"`  // commands measured since start
	Window int     `json:"window"` // of which the quantiles cover the last
	P50    float64 `json:"p50_us"`
	P99    float64 `json:"p99_us"`
	Max    float64 `json:"max_us"`
}

// RuntimeStatus is the daemon process's Go runtime at the time of the
// status: what a leak would grow.
type RuntimeStatus struct {
	Goroutines     int    `json:"goroutines"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"` // garbage not collected yet included
	HeapObjects    uint64 `json:"heap_objects"`
	// HeapLiveBytes is the heap the last garbage collection found live:
	// what a leak grows, without the garbage since.
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
	GCCycles      uint64 `json:"gc_cycles"`
}
