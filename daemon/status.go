package daemon

import (
	"fmt"
	"os"
	"slices"
	"time"
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
	Bad      map[string]string `json:"bad,omitempty"`
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

// snapshot builds the Status from the loop's state; only the loop calls it.
// With brief, the connections are counted, not listed.
func (d *Daemon) snapshot(brief bool) *Status {
	st := &Status{PID: os.Getpid(), NetNS: d.opts.NetNSName, Config: d.set.Config.Source, Updated: time.Now(),
		Commands: d.commands, Refused: d.refused, Resyncs: d.resyncs, Quality: "none",
		Latency: d.lat.summary(), CommandTime: d.cmdLat.summary(), Runtime: runtimeStatus()}
	if d.quality != nil {
		st.Quality = d.quality.name()
	}
	for _, p := range d.set.Policies {
		st.Policies = append(st.Policies, PolicyStatus{Name: p.Name, Source: p.Source, Mode: string(p.Mode), Mptcpify: d.mptcpify.state[p.Name]})
	}
	def := d.set.Config.Default
	st.Policies = append(st.Policies, PolicyStatus{Name: def.Name, Source: def.Source, Mode: string(def.Mode)})
	if d.state == nil {
		return st
	}
	st.ConnectionCount, st.SubflowCount = d.state.Counts()
	ifaces := d.state.Interfaces()
	for _, l := range ifaces.Links {
		is := InterfaceStatus{Name: l.Name, Index: l.Index, Class: string(l.Class), Up: l.Up, Addrs: []string{}}
		for _, a := range l.Addrs {
			is.Addrs = append(is.Addrs, a.String())
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	if brief {
		return st
	}
	for _, c := range d.state.Conns() {
		cs := ConnStatus{Token: fmt.Sprintf("%08x", c.Token), Local: c.Local.String(), Remote: c.Remote.String(),
			ServerSide: c.ServerSide, Established: c.Established, Active: []string{}, Subflows: []SubflowStatus{}}
		if c.Policy != nil {
			cs.Application, cs.Mode = c.Policy.Name, string(c.Policy.Mode)
		}
		for link, why := range c.Bad {
			if cs.Bad == nil {
				cs.Bad = map[string]string{}
			}
			name := fmt.Sprintf("if%d", link)
			if l, ok := ifaces.Link(link); ok {
				name = l.Name
			}
			cs.Bad[name] = why
		}
		for _, sf := range c.Subflows {
			ifname := ""
			if l, ok := ifaces.ByAddr(sf.Local.Addr()); ok {
				ifname = l.Name
			}
			cs.Subflows = append(cs.Subflows, SubflowStatus{Local: sf.Local.String(), Remote: sf.Remote.String(),
				LocID: sf.LocID, RemID: sf.RemID, Backup: sf.Backup, Interface: ifname})
			if !sf.Backup && ifname != "" && !slices.Contains(cs.Active, ifname) {
				cs.Active = append(cs.Active, ifname)
			}
		}
		st.Connections = append(st.Connections, cs)
	}
	return st
}
