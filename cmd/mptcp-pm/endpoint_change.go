package main

import (
	"net/netip"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

// changeArgs is what `endpoint change` reads: the endpoint by id, or by
// address (and port), and the flags to change.
type changeArgs struct {
	id     uint8
	haveID bool
	addr   netip.Addr
	port   uint16
	ch     genl.EndpointChange
}

// changeKeywords are the keywords of `endpoint change`, in prefix order.
var changeKeywords = []string{"id", "port", "backup", "nobackup", "fullmesh", "nofullmesh"}

// parseEndpointChange reads the grammar of ip mptcp endpoint change
// (iproute2 6.1 and later): `change { id ID | ADDR [port PORT] } CHANGE-OPT...`.
func parseEndpointChange(args []string) (changeArgs, error) {
	s := &scanner{cmd: "endpoint change", args: args}
	var (
		c   changeArgs
		err error
	)
	for s.more() {
		a := s.next()
		kw, ok := match(a, changeKeywords...)
		if !ok {
			if c.addr.IsValid() {
				return c, s.unknown(a, append([]string{"ADDR once"}, changeKeywords...)...)
			}
			if c.addr, err = parseAddr(s.cmd, "endpoint", a); err != nil {
				return c, usagef("%s: unknown argument %q (expected ADDR, %s)", s.cmd, a, strings.Join(changeKeywords, ", "))
			}
			continue
		}
		on := !strings.HasPrefix(kw, "no")
		switch strings.TrimPrefix(kw, "no") {
		case "id":
			if c.id, err = s.id(); err != nil {
				return c, err
			}
			c.haveID = true
		case "port":
			if c.port, err = s.port(); err != nil {
				return c, err
			}
		case "backup":
			if c.ch.Backup != nil && *c.ch.Backup != on {
				return c, usagef("%s: backup and nobackup contradict each other", s.cmd)
			}
			c.ch.Backup = &on
		case "fullmesh":
			if c.ch.Fullmesh != nil && *c.ch.Fullmesh != on {
				return c, usagef("%s: fullmesh and nofullmesh contradict each other", s.cmd)
			}
			c.ch.Fullmesh = &on
		}
	}
	switch {
	case c.haveID && c.addr.IsValid():
		// ip mptcp takes both and the kernel then goes by the address
		// alone: refuse rather than ignore the id.
		return c, usagef("%s: give id ID or ADDR [port PORT], not both", s.cmd)
	case c.haveID && c.port != 0:
		return c, usagef("%s: port can't be used with id (give ADDR port PORT)", s.cmd)
	case c.port != 0 && !c.addr.IsValid():
		return c, usagef("%s: port needs the address: ADDR port PORT", s.cmd)
	case !c.haveID && !c.addr.IsValid():
		return c, required(s.cmd, "id ID or ADDR")
	case c.haveID && c.id == 0:
		return c, usagef("%s: invalid id 0: endpoint IDs are 1 to 255 (or give the address)", s.cmd)
	case c.ch.Backup == nil && c.ch.Fullmesh == nil:
		return c, required(s.cmd, "one of backup, nobackup, fullmesh, nofullmesh")
	}
	return c, nil
}

func endpointChange(e *env, args []string) error {
	c, err := parseEndpointChange(args)
	if err != nil {
		return err
	}
	return withPM(e, func(pm pmClient) error {
		if c.haveID {
			return pm.ChangeEndpoint(c.id, c.ch)
		}
		return pm.ChangeEndpointAt(netip.AddrPortFrom(c.addr, c.port), c.ch)
	})
}

func endpointShow(e *env, args []string) error {
	s := &scanner{cmd: "endpoint show", args: args}
	var (
		id, token         uint32
		haveID, haveToken bool
	)
	for s.more() {
		a := s.next()
		kw, ok := match(a, "id", "token")
		if !ok {
			return s.unknown(a, "id", "token")
		}
		if kw == "token" {
			t, err := s.token()
			if err != nil {
				return err
			}
			token, haveToken = t, true
			continue
		}
		n, err := s.id()
		if err != nil {
			return err
		}
		id, haveID = uint32(n), true
	}
	var eps []genl.Endpoint
	err := withPM(e, func(pm pmClient) error {
		var (
			ep  genl.Endpoint
			err error
		)
		switch {
		case haveToken && haveID:
			ep, err = pm.Address(token, uint8(id))
			eps = []genl.Endpoint{ep}
		case haveToken:
			eps, err = pm.Addresses(token)
		case haveID:
			ep, err = pm.Endpoint(uint8(id))
			eps = []genl.Endpoint{ep}
		default:
			eps, err = pm.Endpoints()
		}
		return err
	})
	if err != nil {
		return err
	}
	return printEndpoints(e, eps)
}
