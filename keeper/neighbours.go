package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/internal/neighbours"
)

// claim marks this keeper in the namespace (where names it) and refuses
// to start next to another manager of its endpoints (another mptcp-pm in
// endpoint mode, NetworkManager, mptcpd) unless opts.Force: both would add
// and delete the same endpoints. It returns the marker, which Close
// releases, and the managers found.
func claim(opts Options, where string) (*neighbours.Marker, []neighbours.Neighbour, error) {
	m, err := neighbours.Claim(opts.NetNS, neighbours.RoleKeeper, opts.Force)
	if err != nil && !errors.Is(err, neighbours.ErrKeeperActive) {
		return nil, nil, err
	}
	near, serr := neighbours.Scan(opts.NetNS)
	if serr != nil {
		opts.Logger.Warn("other MPTCP managers not looked for", "err", serr)
	}
	var keepers []string
	for _, n := range near {
		if n.KeepsEndpoints() {
			keepers = append(keepers, n.String())
		}
	}
	if err != nil || (len(keepers) > 0 && !opts.Force) {
		if m != nil {
			m.Close()
		}
		who := strings.Join(keepers, ", ")
		if who == "" {
			who = "another mptcp-pm in endpoint mode" // its marker not seen yet
		}
		return nil, nil, fmt.Errorf("endpoint mode refused in %s: %s already manages its endpoints, and both would add and delete the same ones; "+
			"stop it, or start with --force to run both", where, who)
	}
	neighbours.Log(opts.Logger, neighbours.RoleKeeper, nil, near)
	return m, near, nil
}

// watchNeighbours logs the managers that come and go in the namespace
// until ctx ends.
func (k *Keeper) watchNeighbours(ctx context.Context) {
	if k.marker == nil {
		return
	}
	fd := k.netnsFD
	neighbours.Watch(ctx, neighbours.Interval, k.near, func() ([]neighbours.Neighbour, error) { return neighbours.Scan(fd) },
		func(old, cur []neighbours.Neighbour) { neighbours.Log(k.log, neighbours.RoleKeeper, old, cur) })
}
