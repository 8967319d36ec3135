package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

// The userspace subflow commands fill in what the user left out from the
// kernel: the connection's subflows from sock_diag, its local addresses
// (GET_ADDR with the token) and the in-kernel endpoints (issue 13).

// connOf returns the MPTCP connection token of the namespace, from sock_diag.
func connOf(e *env, cmd string, token uint32) (connection, error) {
	conns, err := e.dumpConns(e)
	if err != nil {
		return connection{}, fmt.Errorf("%s: list connections: %w", cmd, err)
	}
	for _, c := range conns {
		if c.Token == token {
			return c, nil
		}
	}
	return connection{}, usagef("%s: no MPTCP connection with token %08x in this namespace (\"connection show\" lists them)", cmd, token)
}

// completeAdd fills in the remote port (the connection's) and the local
// address ID of a `subflow add` that left them out.
func completeAdd(e *env, pm pmClient, sa *subflowArgs) error {
	const cmd = "subflow add"
	c, err := connOf(e, cmd, sa.token)
	if err != nil {
		return err
	}
	if sa.remote.Port() == 0 {
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), c.Remote.Port())
	}
	if !sa.haveID {
		if sa.local.ID, err = localID(pm, c, sa.local.Addr); err != nil {
			// The CLI prints a kernel refusal as its operation and
			// message alone: say there what was looked up.
			var ge *genl.Error
			if errors.As(err, &ge) {
				return &genl.Error{Op: fmt.Sprintf("%s: look up the ID of local %s: %s", cmd, sa.local.Addr, ge.Op), Message: ge.Message, Err: ge.Err}
			}
			return fmt.Errorf("%s: look up the ID of local %s: %w", cmd, sa.local.Addr, err)
		}
	}
	return nil
}

// localID picks the address ID of addr on connection c: the one the
// connection already uses for it (its userspace-PM address list, then its
// subflows, where the initial subflow's address is ID 0), else the ID of
// the in-kernel endpoint of that address when the connection does not use
// it for another address, else the lowest ID the connection does not use.
// The kernel keeps one ID per address on a connection ("did not match
// address and id" otherwise), and an absent ID would be taken as 0.
func localID(pm pmClient, c connection, addr netip.Addr) (uint8, error) {
	addr = addr.Unmap()
	addrs, err := pm.Addresses(c.Token)
	if err != nil {
		return 0, err
	}
	used := map[uint8]bool{}
	for _, a := range addrs {
		if a.Addr.Unmap() == addr {
			return a.ID, nil
		}
		used[a.ID] = true
	}
	for _, sf := range c.Subflows {
		if sf.Local.Addr().Unmap() == addr {
			return sf.LocID, nil
		}
		used[sf.LocID] = true
	}
	eps, err := pm.Endpoints()
	if err != nil {
		return 0, err
	}
	for _, ep := range eps {
		if ep.Addr.Unmap() == addr && !used[ep.ID] {
			return ep.ID, nil
		}
	}
	for id := 1; id <= 255; id++ {
		if !used[uint8(id)] {
			return uint8(id), nil
		}
	}
	return 0, fmt.Errorf("connection %08x uses every address ID from 1 to 255", c.Token)
}

// findSubflow returns the two ends of the one subflow of the connection
// that matches what sa gives (any of local and remote address and port).
// With the whole 4-tuple given it asks nothing of the kernel.
func findSubflow(e *env, cmd string, sa subflowArgs) (local, remote netip.AddrPort, err error) {
	given := netip.AddrPortFrom(sa.local.Addr, sa.local.Port)
	if sa.haveLocal && sa.haveRemote && sa.local.Port != 0 && sa.remote.Port() != 0 {
		return given, sa.remote, nil
	}
	if !sa.haveLocal && !sa.haveRemote {
		return local, remote, required(cmd, "local ADDR[:PORT] or remote ADDR[:PORT]")
	}
	c, err := connOf(e, cmd, sa.token)
	if err != nil {
		return local, remote, err
	}
	end := func(want, got netip.AddrPort, have bool) bool {
		return !have || want.Addr().Unmap() == got.Addr().Unmap() && (want.Port() == 0 || want.Port() == got.Port())
	}
	var found, all []string
	for _, sf := range c.Subflows {
		all = append(all, sf.Local.String()+" -> "+sf.Remote.String())
		if end(given, sf.Local, sa.haveLocal) && end(sa.remote, sf.Remote, sa.haveRemote) {
			local, remote = sf.Local, sf.Remote
			found = append(found, all[len(all)-1])
		}
	}
	switch len(found) {
	case 1:
		return local, remote, nil
	case 0:
		return local, remote, usagef("%s: no subflow of connection %08x has %s (its subflows: %s)",
			cmd, sa.token, sa.describe(), strings.Join(all, ", "))
	default:
		return local, remote, usagef("%s: %d subflows of connection %08x have %s (%s): give more of local ADDR:PORT remote ADDR:PORT",
			cmd, len(found), sa.token, sa.describe(), strings.Join(found, ", "))
	}
}
