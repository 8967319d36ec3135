package main

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

const endpointUsage = `Usage: mptcp-pm endpoint add ADDR [port PORT] [dev IFNAME] [id ID] [FLAG-LIST]
       mptcp-pm endpoint delete id ID [ADDR]
       mptcp-pm endpoint change { id ID | ADDR [port PORT] } CHANGE-OPT...
       mptcp-pm endpoint show [id ID] [token TOKEN]
       mptcp-pm endpoint flush
FLAG-LIST := [FLAG-LIST] FLAG
FLAG := [ signal | subflow | laminar | backup | fullmesh ]
CHANGE-OPT := [ backup | nobackup | fullmesh | nofullmesh ]

Endpoints of the in-kernel path manager (net.mptcp.pm_type=0), as ip mptcp endpoint.
"change" keeps the flags it is not given (ip mptcp clears them); by ADDR,
an endpoint without a port matches any PORT, as in the kernel.
"show token TOKEN" lists the local addresses of one userspace-PM connection.
"laminar" (kernel 6.18): the source of subflows to the peer's announced addresses.
`

const limitsUsage = `Usage: mptcp-pm limits set [subflows N] [add_addr_accepted N]
       mptcp-pm limits show

Limits of the in-kernel path manager (the kernel takes 0 to 8 for each).
"subflow" is accepted for "subflows", as any prefix of a keyword is.
`

func runEndpoint(e *env, args []string) error {
	return verb(e, "endpoint", endpointUsage, args, "show", []command{
		{name: "add", run: endpointAdd},
		{name: "delete", run: endpointDelete},
		{name: "change", run: endpointChange},
		{name: "show", run: endpointShow},
		{name: "flush", run: endpointFlush},
	})
}

// resolveDev turns an interface name into its index in the chosen namespace.
func resolveDev(e *env, cmd, name string) (int32, error) {
	lt, err := e.dumpLinks(e)
	if err != nil {
		return 0, err
	}
	idx, ok := lt.Index(name)
	if !ok {
		return 0, usagef("%s: device %q does not exist", cmd, name)
	}
	return idx, nil
}

// parseEndpointAdd reads `endpoint add` arguments; dev is the device name,
// resolved by the caller.
func parseEndpointAdd(args []string) (ep genl.Endpoint, dev string, err error) {
	s := &scanner{cmd: "endpoint add", args: args}
	keywords := []string{"port", "dev", "id", "signal", "subflow", "backup", "fullmesh", "laminar"}
	for s.more() {
		a := s.next()
		kw, ok := match(a, keywords...)
		if !ok {
			if ep.Addr.IsValid() {
				return ep, "", s.unknown(a, append([]string{"ADDR once"}, keywords...)...)
			}
			addr, err := netip.ParseAddr(a)
			if err != nil || addr.Zone() != "" {
				return ep, "", usagef("endpoint add: invalid address %q (expected ADDR, %s)", a, strings.Join(keywords, ", "))
			}
			ep.Addr = addr
			continue
		}
		switch kw {
		case "port":
			if ep.Port, err = s.port(); err != nil {
				return ep, "", err
			}
		case "dev":
			if dev, err = s.value("dev"); err != nil {
				return ep, "", err
			}
		case "id":
			if ep.ID, err = s.id(); err != nil {
				return ep, "", err
			}
		default:
			f, _ := genl.ParseFlag(kw)
			ep.Flags |= f
		}
	}
	if !ep.Addr.IsValid() {
		return ep, "", required("endpoint add", "ADDR")
	}
	return ep, dev, nil
}

func endpointAdd(e *env, args []string) error {
	ep, dev, err := parseEndpointAdd(args)
	if err != nil {
		return err
	}
	if dev != "" {
		if ep.IfIndex, err = resolveDev(e, "endpoint add", dev); err != nil {
			return err
		}
	}
	return withPM(e, func(pm pmClient) error { return pm.AddEndpoint(ep) })
}

func endpointDelete(e *env, args []string) error {
	s := &scanner{cmd: "endpoint delete", args: args}
	var (
		id     uint8
		haveID bool
		addr   netip.Addr
		err    error
	)
	for s.more() {
		a := s.next()
		if kw, ok := match(a, "id"); ok && kw == "id" {
			if id, err = s.id(); err != nil {
				return err
			}
			haveID = true
			continue
		}
		if addr.IsValid() {
			return s.unknown(a, "id", "ADDR once")
		}
		if addr, err = parseAddr(s.cmd, "endpoint", a); err != nil {
			return err
		}
	}
	if !haveID {
		return required(s.cmd, "id ID")
	}
	if id == 0 && !addr.IsValid() {
		return usagef("%s: id 0 needs the address (id 0 is the initial subflow's address)", s.cmd)
	}
	return withPM(e, func(pm pmClient) error { return pm.DeleteEndpoint(id, addr) })
}

// knownFlags are the endpoint flags iproute2 7.1 names.
const knownFlags = genl.FlagSignal | genl.FlagSubflow | genl.FlagBackup | genl.FlagFullmesh | genl.FlagImplicit | genl.FlagLaminar

// rawFlags is what iproute2 prints as "rawflags" for the bits it does not
// name (print_mptcp_addr_flags: "%02x"), "" for none.
func rawFlags(f genl.Flags) string {
	if f&^knownFlags == 0 {
		return ""
	}
	return fmt.Sprintf("%02x", uint32(f&^knownFlags))
}

// endpointJSON is an endpoint as `ip -j mptcp endpoint show` prints it.
type endpointJSON struct {
	Address  string `json:"address"`
	Port     uint16 `json:"port,omitempty"`
	ID       uint8  `json:"id"`
	Signal   bool   `json:"signal,omitempty"`
	Subflow  bool   `json:"subflow,omitempty"`
	Backup   bool   `json:"backup,omitempty"`
	Fullmesh bool   `json:"fullmesh,omitempty"`
	Implicit bool   `json:"implicit,omitempty"`
	Laminar  bool   `json:"laminar,omitempty"`
	RawFlags string `json:"rawflags,omitempty"` // bits ip does not name, "%02x"
	Dev      string `json:"dev,omitempty"`
}

// endpointsJSON is eps as `ip -j mptcp endpoint show` prints them; dev
// names an endpoint's interface.
func endpointsJSON(eps []genl.Endpoint, dev func(genl.Endpoint) string) []endpointJSON {
	out := make([]endpointJSON, 0, len(eps))
	for _, ep := range eps {
		out = append(out, endpointJSON{
			Address: ep.Addr.String(), Port: ep.Port, ID: ep.ID,
			Signal: ep.Flags&genl.FlagSignal != 0, Subflow: ep.Flags&genl.FlagSubflow != 0,
			Backup: ep.Flags&genl.FlagBackup != 0, Fullmesh: ep.Flags&genl.FlagFullmesh != 0,
			Implicit: ep.Flags&genl.FlagImplicit != 0, Laminar: ep.Flags&genl.FlagLaminar != 0,
			RawFlags: rawFlags(ep.Flags), Dev: dev(ep),
		})
	}
	return out
}

func printEndpoints(e *env, eps []genl.Endpoint) error {
	var lt linkTable
	for _, ep := range eps {
		if ep.IfIndex != 0 && lt == nil {
			var err error
			if lt, err = e.dumpLinks(e); err != nil {
				return err
			}
		}
	}
	dev := func(ep genl.Endpoint) string {
		if ep.IfIndex == 0 {
			return ""
		}
		if n := lt.Name(ep.IfIndex); n != "" {
			return n
		}
		return "if" + strconv.Itoa(int(ep.IfIndex))
	}
	if e.json {
		return printJSON(e.stdout, endpointsJSON(eps, dev))
	}
	// The same words, order and trailing space as iproute2's print_addr(),
	// so that the output of the two can be diffed.
	for _, ep := range eps {
		var b strings.Builder
		b.WriteString(ep.Addr.String())
		b.WriteString(" ")
		if ep.Port != 0 {
			fmt.Fprintf(&b, "port %d ", ep.Port)
		}
		fmt.Fprintf(&b, "id %d ", ep.ID)
		for _, f := range (ep.Flags & knownFlags).Names() {
			b.WriteString(f + " ")
		}
		if raw := rawFlags(ep.Flags); raw != "" {
			b.WriteString("rawflags " + raw + " ")
		}
		if d := dev(ep); d != "" {
			fmt.Fprintf(&b, "dev %s ", d)
		}
		fmt.Fprintln(e.stdout, b.String())
	}
	return nil
}

func endpointFlush(e *env, args []string) error {
	if len(args) > 0 {
		return (&scanner{cmd: "endpoint flush"}).unknown(args[0], "nothing")
	}
	return withPM(e, func(pm pmClient) error { return pm.FlushEndpoints() })
}

func runLimits(e *env, args []string) error {
	return verb(e, "limits", limitsUsage, args, "show", []command{
		{name: "set", run: limitsSet},
		{name: "show", run: limitsShow},
	})
}

func limitsSet(e *env, args []string) error {
	s := &scanner{cmd: "limits set", args: args}
	var u genl.LimitsUpdate
	for s.more() {
		a := s.next()
		kw, ok := match(a, "subflows", "add_addr_accepted")
		if !ok {
			return s.unknown(a, "subflows", "add_addr_accepted")
		}
		n, err := s.uint(kw, 0, math.MaxUint32)
		if err != nil {
			return err
		}
		v := uint32(n)
		if kw == "subflows" {
			u.Subflows = &v
		} else {
			u.AddAddrAccepted = &v
		}
	}
	if u.Subflows == nil && u.AddAddrAccepted == nil {
		return required(s.cmd, "subflows N or add_addr_accepted N")
	}
	return withPM(e, func(pm pmClient) error { return pm.SetLimits(u) })
}

func limitsShow(e *env, args []string) error {
	if len(args) > 0 {
		return (&scanner{cmd: "limits show"}).unknown(args[0], "nothing")
	}
	var l genl.Limits
	err := withPM(e, func(pm pmClient) error {
		var err error
		l, err = pm.Limits()
		return err
	})
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, map[string]uint32{"add_addr_accepted": l.AddAddrAccepted, "subflows": l.Subflows})
	}
	_, err = fmt.Fprintf(e.stdout, "add_addr_accepted %d subflows %d \n", l.AddAddrAccepted, l.Subflows)
	return err
}
