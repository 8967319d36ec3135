package main

import (
	"net/netip"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

const announceUsage = `Usage: mptcp-pm announce ADDR id ID token TOKEN [port PORT] [dev IFNAME]

Sends ADD_ADDR for ADDR (local address ID, not 0) on the userspace-PM
connection TOKEN. The kernel opens no listener for PORT: an MPTCP listening
socket on ADDR:PORT must exist for the peer's joins to that port.
TOKEN is hexadecimal, as "mptcp-pm monitor" and "mptcp-pm connection show" print it.
`

const removeUsage = `Usage: mptcp-pm remove id ID token TOKEN

Sends REMOVE_ADDR for local address ID on the userspace-PM connection TOKEN
and closes the local subflows that use it (ID 0: the initial subflow's address).
`

const subflowUsage = `Usage: mptcp-pm subflow add token TOKEN local ADDR [id ID] [port PORT] remote ADDR port PORT [dev IFNAME] [backup]
       mptcp-pm subflow delete token TOKEN local ADDR port PORT remote ADDR port PORT
       mptcp-pm subflow set token TOKEN local ADDR port PORT remote ADDR port PORT backup|nobackup

Subflows of a userspace-PM connection (net.mptcp.pm_type=1). "port" belongs
to the "local" or "remote" before it. "set" sends MP_PRIO to the peer.
"delete" sends no REMOVE_ADDR (use "remove" for that).
`

func runAnnounce(e *env, args []string) error {
	s := &scanner{cmd: "announce", args: args}
	var (
		ep                genl.Endpoint
		token             uint32
		dev               string
		haveID, haveToken bool
		err               error
	)
	keywords := []string{"id", "token", "port", "dev"}
	for s.more() {
		a := s.next()
		kw, ok := match(a, keywords...)
		if !ok {
			if ep.Addr.IsValid() {
				return s.unknown(a, append([]string{"ADDR once"}, keywords...)...)
			}
			if ep.Addr, err = parseAddr(s.cmd, "local", a); err != nil {
				return err
			}
			continue
		}
		switch kw {
		case "id":
			ep.ID, err = s.id()
			haveID = true
		case "token":
			token, err = s.token()
			haveToken = true
		case "port":
			ep.Port, err = s.port()
		case "dev":
			dev, err = s.value("dev")
		}
		if err != nil {
			return err
		}
	}
	var missing []string
	if !ep.Addr.IsValid() {
		missing = append(missing, "ADDR")
	}
	if !haveID {
		missing = append(missing, "id ID")
	}
	if !haveToken {
		missing = append(missing, "token TOKEN")
	}
	if err := required(s.cmd, missing...); err != nil {
		return err
	}
	if ep.ID == 0 {
		return usagef("announce: invalid id 0: an announced address needs an ID from 1 to 255")
	}
	if dev != "" {
		if ep.IfIndex, err = resolveDev(e, s.cmd, dev); err != nil {
			return err
		}
	}
	return withPM(e, func(pm pmClient) error { return pm.Announce(token, ep) })
}

func runRemove(e *env, args []string) error {
	s := &scanner{cmd: "remove", args: args}
	var (
		id                uint8
		token             uint32
		haveID, haveToken bool
		err               error
	)
	for s.more() {
		a := s.next()
		kw, ok := match(a, "id", "token")
		if !ok {
			return s.unknown(a, "id", "token")
		}
		if kw == "id" {
			id, err = s.id()
			haveID = true
		} else {
			token, err = s.token()
			haveToken = true
		}
		if err != nil {
			return err
		}
	}
	var missing []string
	if !haveID {
		missing = append(missing, "id ID")
	}
	if !haveToken {
		missing = append(missing, "token TOKEN")
	}
	if err := required(s.cmd, missing...); err != nil {
		return err
	}
	return withPM(e, func(pm pmClient) error { return pm.Remove(token, id) })
}

func runSubflow(e *env, args []string) error {
	return verb(e, "subflow", subflowUsage, args, "", []command{
		{name: "add", run: subflowAdd},
		{name: "delete", run: subflowDelete},
		{name: "set", run: subflowSet},
	})
}

// subflowArgs is what the three subflow commands read.
type subflowArgs struct {
	token      uint32
	haveToken  bool
	local      genl.Endpoint
	remote     netip.AddrPort
	dev        string
	backup     *bool
	haveRemote bool
}

// parseSubflow reads the subflow grammar; allowed lists the optional
// keywords the command takes beyond token/local/remote/port.
func parseSubflow(cmd string, args []string, allowed ...string) (subflowArgs, error) {
	s := &scanner{cmd: cmd, args: args}
	var (
		sa         subflowArgs
		side       string
		remoteAddr netip.Addr
		remotePort uint16
		err        error
	)
	keywords := append([]string{"token", "local", "remote", "port"}, allowed...)
	for s.more() {
		a := s.next()
		kw, ok := match(a, keywords...)
		if !ok {
			return sa, s.unknown(a, keywords...)
		}
		switch kw {
		case "token":
			sa.token, err = s.token()
			sa.haveToken = true
		case "local":
			side = "local"
			sa.local.Addr, err = s.addr("local")
		case "remote":
			side = "remote"
			remoteAddr, err = s.addr("remote")
			sa.haveRemote = true
		case "port":
			var p uint16
			if p, err = s.port(); err != nil {
				return sa, err
			}
			switch side {
			case "local":
				sa.local.Port = p
			case "remote":
				remotePort = p
			default:
				return sa, usagef("%s: \"port\" must follow \"local ADDR\" or \"remote ADDR\"", cmd)
			}
		case "id":
			if side != "local" {
				return sa, usagef("%s: \"id\" must follow \"local ADDR\"", cmd)
			}
			sa.local.ID, err = s.id()
		case "dev":
			sa.dev, err = s.value("dev")
		case "backup", "nobackup":
			on := kw == "backup"
			if sa.backup != nil && *sa.backup != on {
				return sa, usagef("%s: backup and nobackup contradict each other", cmd)
			}
			sa.backup = &on
		}
		if err != nil {
			return sa, err
		}
	}
	var missing []string
	if !sa.haveToken {
		missing = append(missing, "token TOKEN")
	}
	if !sa.local.Addr.IsValid() {
		missing = append(missing, "local ADDR")
	}
	if !sa.haveRemote {
		missing = append(missing, "remote ADDR")
	} else if remotePort == 0 {
		missing = append(missing, "remote port PORT")
	}
	if err := required(cmd, missing...); err != nil {
		return sa, err
	}
	if sa.local.Addr.Unmap().Is4() != remoteAddr.Unmap().Is4() {
		return sa, usagef("%s: local %s and remote %s are not of the same address family", cmd, sa.local.Addr, remoteAddr)
	}
	sa.remote = netip.AddrPortFrom(remoteAddr, remotePort)
	return sa, nil
}

func subflowAdd(e *env, args []string) error {
	sa, err := parseSubflow("subflow add", args, "id", "dev", "backup")
	if err != nil {
		return err
	}
	if sa.backup != nil && *sa.backup {
		sa.local.Flags |= genl.FlagBackup
	}
	if sa.dev != "" {
		if sa.local.IfIndex, err = resolveDev(e, "subflow add", sa.dev); err != nil {
			return err
		}
	}
	return withPM(e, func(pm pmClient) error { return pm.CreateSubflow(sa.token, sa.local, sa.remote) })
}

func localAddrPort(cmd string, sa subflowArgs) (netip.AddrPort, error) {
	if sa.local.Port == 0 {
		return netip.AddrPort{}, required(cmd, "local port PORT")
	}
	return netip.AddrPortFrom(sa.local.Addr, sa.local.Port), nil
}

func subflowDelete(e *env, args []string) error {
	sa, err := parseSubflow("subflow delete", args)
	if err != nil {
		return err
	}
	local, err := localAddrPort("subflow delete", sa)
	if err != nil {
		return err
	}
	return withPM(e, func(pm pmClient) error { return pm.DestroySubflow(sa.token, local, sa.remote) })
}

func subflowSet(e *env, args []string) error {
	sa, err := parseSubflow("subflow set", args, "backup", "nobackup")
	if err != nil {
		return err
	}
	local, err := localAddrPort("subflow set", sa)
	if err != nil {
		return err
	}
	if sa.backup == nil {
		return required("subflow set", "backup or nobackup")
	}
	return withPM(e, func(pm pmClient) error { return pm.SetFlags(sa.token, local, sa.remote, *sa.backup) })
}
