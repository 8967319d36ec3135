package main

import (
	"net/netip"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

const subflowUsage = `Usage: mptcp-pm subflow add token TOKEN local ADDR [id ID] [port PORT] remote ADDR [port PORT] [dev IFNAME] [backup]
       mptcp-pm subflow delete token TOKEN [local ADDR[:PORT] [port PORT]] [remote ADDR[:PORT] [port PORT]]
       mptcp-pm subflow set token TOKEN [local ADDR[:PORT] [port PORT]] [remote ADDR[:PORT] [port PORT]] backup|nobackup

Subflows of a userspace-PM connection (net.mptcp.pm_type=1). "port" belongs
to the "local" or "remote" before it; ADDR:PORT ([ADDR]:PORT for IPv6) says
the same in one word. "set" sends MP_PRIO to the peer. "delete" sends no
REMOVE_ADDR (use "remove" for that).
"add" without "id" uses the ID the address already has on the connection,
else its in-kernel endpoint's, else the lowest one the connection does not
use; without the remote port, the connection's.
"delete" and "set" take any part of the subflow as "connection show" prints
it and find the rest there; it must match one subflow.
`

func runSubflow(e *env, args []string) error {
	return verb(e, "subflow", subflowUsage, args, "", []command{
		{name: "add", run: subflowAdd},
		{name: "delete", run: subflowDelete},
		{name: "set", run: subflowSet},
	})
}

// subflowArgs is what the three subflow commands read. Ports and the
// local ID are 0 (haveID false) when not given.
type subflowArgs struct {
	token      uint32
	haveToken  bool
	local      genl.Endpoint
	haveID     bool
	remote     netip.AddrPort
	haveLocal  bool
	haveRemote bool
	dev        string
	backup     *bool
}

// parseSubflow reads the subflow grammar; allowed lists the optional
// keywords the command takes beyond token/local/remote/port.
func parseSubflow(cmd string, args []string, allowed ...string) (subflowArgs, error) {
	s := &scanner{cmd: cmd, args: args}
	var (
		sa   subflowArgs
		side string
		err  error
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
			side, sa.haveLocal = "local", true
			var ap netip.AddrPort
			ap, err = s.addrPort("local")
			sa.local.Addr, sa.local.Port = ap.Addr(), ap.Port()
		case "remote":
			side, sa.haveRemote = "remote", true
			sa.remote, err = s.addrPort("remote")
		case "port":
			var p uint16
			if p, err = s.port(); err != nil {
				return sa, err
			}
			switch {
			case side == "local" && sa.local.Port == 0:
				sa.local.Port = p
			case side == "remote" && sa.remote.Port() == 0:
				sa.remote = netip.AddrPortFrom(sa.remote.Addr(), p)
			case side != "":
				return sa, usagef("%s: a second port for %s", cmd, side)
			default:
				return sa, usagef("%s: \"port\" must follow \"local ADDR\" or \"remote ADDR\"", cmd)
			}
		case "id":
			if side != "local" {
				return sa, usagef("%s: \"id\" must follow \"local ADDR\"", cmd)
			}
			sa.local.ID, err = s.id()
			sa.haveID = true
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
	if !sa.haveToken {
		return sa, required(cmd, "token TOKEN")
	}
	if sa.haveLocal && sa.haveRemote && sa.local.Addr.Unmap().Is4() != sa.remote.Addr().Unmap().Is4() {
		return sa, usagef("%s: local %s and remote %s are not of the same address family", cmd, sa.local.Addr, sa.remote.Addr())
	}
	return sa, nil
}

// addrPort reads ADDR, or ADDR:PORT ([ADDR]:PORT for IPv6) as `connection
// show` prints a subflow's ends.
func (s *scanner) addrPort(kw string) (netip.AddrPort, error) {
	v, err := s.value(kw)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		return netip.AddrPortFrom(a, 0), nil
	}
	ap, err := netip.ParseAddrPort(v)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, usagef("%s: invalid %s address %q (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)", s.cmd, kw, v)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, usagef("%s: invalid %s port 0 in %q: want a number from 1 to 65535", s.cmd, kw, v)
	}
	return ap, nil
}

func subflowAdd(e *env, args []string) error {
	const cmd = "subflow add"
	sa, err := parseSubflow(cmd, args, "id", "dev", "backup")
	if err != nil {
		return err
	}
	var missing []string
	if !sa.haveLocal {
		missing = append(missing, "local ADDR")
	}
	if !sa.haveRemote {
		missing = append(missing, "remote ADDR")
	}
	if err := required(cmd, missing...); err != nil {
		return err
	}
	if sa.backup != nil && *sa.backup {
		sa.local.Flags |= genl.FlagBackup
	}
	if sa.dev != "" {
		if sa.local.IfIndex, err = resolveDev(e, cmd, sa.dev); err != nil {
			return err
		}
	}
	return withPM(e, func(pm pmClient) error {
		if !sa.haveID || sa.remote.Port() == 0 {
			if err := completeAdd(e, pm, &sa); err != nil {
				return err
			}
		}
		return pm.CreateSubflow(sa.token, sa.local, sa.remote)
	})
}

func subflowDelete(e *env, args []string) error {
	sa, err := parseSubflow("subflow delete", args)
	if err != nil {
		return err
	}
	local, remote, err := findSubflow(e, "subflow delete", sa)
	if err != nil {
		return err
	}
	return withPM(e, func(pm pmClient) error { return pm.DestroySubflow(sa.token, local, remote) })
}

func subflowSet(e *env, args []string) error {
	sa, err := parseSubflow("subflow set", args, "backup", "nobackup")
	if err != nil {
		return err
	}
	if sa.backup == nil {
		return required("subflow set", "backup or nobackup")
	}
	local, remote, err := findSubflow(e, "subflow set", sa)
	if err != nil {
		return err
	}
	return withPM(e, func(pm pmClient) error { return pm.SetFlags(sa.token, local, remote, *sa.backup) })
}

// describe formats what of a subflow was given, for messages.
func (sa subflowArgs) describe() string {
	var parts []string
	side := func(name string, ap netip.AddrPort) {
		switch {
		case !ap.Addr().IsValid():
		case ap.Port() == 0:
			parts = append(parts, name+" "+ap.Addr().String())
		default:
			parts = append(parts, name+" "+ap.String())
		}
	}
	side("local", netip.AddrPortFrom(sa.local.Addr, sa.local.Port))
	side("remote", sa.remote)
	return strings.Join(parts, " ")
}
