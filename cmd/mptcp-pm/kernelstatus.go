package main

import (
	"fmt"
	"strconv"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/internal/neighbours"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// kernelView is what `status` shows when no daemon answers: the kernel's
// side of the namespace.
type kernelView struct {
	Daemon      any              `json:"daemon"` // always null: no daemon answered
	Reason      string           `json:"reason"`
	PMType      string           `json:"pm_type"`
	Limits      *genl.Limits     `json:"limits,omitempty"`
	Endpoints   []endpointJSON   `json:"endpoints"`
	Connections []connectionJSON `json:"connections"`
	// Neighbours are the managers of MPTCP found in the namespace.
	Neighbours []neighbours.Neighbour `json:"neighbours"`
}

// pmTypeNames name the values of net.mptcp.pm_type.
var pmTypeNames = map[string]string{"0": "in-kernel path manager", "1": "userspace path manager"}

// kernelStatus prints the kernel's side of the namespace (pm_type, limits,
// endpoints, MPTCP connections) for a status that found no daemon (why),
// and returns why, so that the exit status says there is no daemon.
func kernelStatus(e *env, why error) error {
	v := kernelView{Reason: why.Error(), Endpoints: []endpointJSON{}, Connections: []connectionJSON{}}
	var err error
	if v.PMType, err = netns.ReadSysctl(e.nsfd, "net/mptcp/pm_type"); err != nil {
		return fmt.Errorf("%w; and the kernel: %w", why, err)
	}
	var eps []genl.Endpoint
	err = withPM(e, func(pm pmClient) error {
		l, err := pm.Limits()
		if err != nil {
			return err
		}
		v.Limits = &l
		eps, err = pm.Endpoints()
		return err
	})
	if err != nil {
		return fmt.Errorf("%w; and the kernel: %w", why, err)
	}
	conns, err := e.dumpConns(e)
	if err != nil {
		return fmt.Errorf("%w; and the kernel: %w", why, err)
	}
	lt, err := e.dumpLinks(e)
	if err != nil {
		return fmt.Errorf("%w; and the kernel: %w", why, err)
	}
	name := func(i int32) string {
		if n := lt.Name(i); n != "" {
			return n
		}
		return "if" + strconv.Itoa(int(i))
	}
	epDev := func(ep genl.Endpoint) string {
		if ep.IfIndex == 0 {
			return ""
		}
		return name(ep.IfIndex)
	}
	sfDev := func(i uint32) string {
		if i == 0 {
			return ""
		}
		return name(int32(i))
	}
	v.Endpoints = endpointsJSON(eps, epDev)
	if v.Neighbours, err = neighbours.Scan(e.nsfd); err != nil {
		return fmt.Errorf("%w; and the neighbours: %w", why, err)
	}
	if e.json {
		v.Connections = connsJSON(conns, nil, sfDev)
		if err := printJSON(e.stdout, v); err != nil {
			return err
		}
		return why
	}
	printKernelView(e, v, conns, sfDev)
	return why
}

// printKernelView prints v, with conns as `connection show` does.
func printKernelView(e *env, v kernelView, conns []connection, sfDev func(uint32) string) {
	fmt.Fprintf(e.stdout, "daemon none (%s)\n", v.Reason)
	fmt.Fprintf(e.stdout, "kernel pm_type %s (%s)\n", v.PMType, pmTypeNames[v.PMType])
	fmt.Fprintf(e.stdout, "limits subflows %d add_addr_accepted %d\n", v.Limits.Subflows, v.Limits.AddAddrAccepted)
	for _, ep := range v.Endpoints {
		fmt.Fprintf(e.stdout, "endpoint %s id %d", ep.Address, ep.ID)
		if ep.Port != 0 {
			fmt.Fprintf(e.stdout, " port %d", ep.Port)
		}
		for _, f := range genlFlags(ep) {
			fmt.Fprintf(e.stdout, " %s", f)
		}
		if ep.Dev != "" {
			fmt.Fprintf(e.stdout, " dev %s", ep.Dev)
		}
		fmt.Fprintln(e.stdout)
	}
	keepers := 0
	for _, n := range v.Neighbours {
		line := "neighbour " + n.String()
		if n.KeepsEndpoints() {
			keepers++
			line += " (manages endpoints)"
		}
		fmt.Fprintln(e.stdout, line)
	}
	if keepers > 1 {
		fmt.Fprintf(e.stdout, "warning: %d managers of the endpoints in this namespace: they add and delete the same ones\n", keepers)
	}
	fmt.Fprintf(e.stdout, "connections %d\n", len(conns))
	printConns(e, conns, nil, sfDev)
}

// genlFlags names an endpoint's flags as `ip mptcp endpoint show` does.
func genlFlags(ep endpointJSON) []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{{ep.Signal, "signal"}, {ep.Subflow, "subflow"}, {ep.Backup, "backup"}, {ep.Fullmesh, "fullmesh"},
		{ep.Implicit, "implicit"}, {ep.Laminar, "laminar"}} {
		if f.on {
			out = append(out, f.name)
		}
	}
	return out
}
