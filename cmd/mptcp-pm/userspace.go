package main

import (
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
