package daemon

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// The status types are package control's: the daemon builds them, the
// command line and the tests decode them.
type (
	Status          = control.Status
	PolicyStatus    = control.PolicyStatus
	InterfaceStatus = control.InterfaceStatus
	ConnStatus      = control.ConnStatus
	SubflowStatus   = control.SubflowStatus
	LatencyStatus   = control.LatencyStatus
	RuntimeStatus   = control.RuntimeStatus
)

// snapshot builds the Status from the loop's state; only the loop calls it.
// With brief, the connections are counted, not listed.
func (d *Daemon) snapshot(brief bool) *Status {
	st := &Status{PID: os.Getpid(), NetNS: d.opts.NetNSName, Config: d.set.Config.Source, Updated: time.Now(),
		Commands: d.commands, Refused: d.refused, Resyncs: d.resyncs, Quality: "none",
		Latency: d.lat.summary(), CommandTime: d.cmdLat.summary(), Runtime: runtimeStatus(),
		Build: d.build, Started: d.started, DryRun: d.opts.DryRun, Warnings: []string{}}
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
	st.Warnings = append(st.Warnings, configWarnings(d.set, ifaces)...)
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
