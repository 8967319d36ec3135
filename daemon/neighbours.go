package daemon

import (
	"context"

	"github.com/mptcp-pm/mptcp-pm/internal/neighbours"
)

// claimNeighbours marks this daemon in its namespace (so that other
// mptcp-pm daemons see it) and looks for the other managers of MPTCP
// there, warning of each: another userspace path manager acts on the same
// connections.
func (d *Daemon) claimNeighbours() {
	if m, err := neighbours.Claim(d.opts.NetNS, neighbours.RoleDaemon, false); err != nil {
		d.log.Warn("other mptcp-pm daemons will not see this one", "err", err)
	} else {
		d.marker = m
	}
	near, err := neighbours.Scan(d.opts.NetNS)
	if err != nil {
		d.log.Warn("other MPTCP managers not looked for", "err", err)
		return
	}
	neighbours.Log(d.log, neighbours.RoleDaemon, nil, near)
	d.near.Store(&near)
}

// watchNeighbours looks for the managers that come and go until ctx ends,
// off the loop; status shows the last list.
func (d *Daemon) watchNeighbours(ctx context.Context) {
	var first []neighbours.Neighbour
	if p := d.near.Load(); p != nil {
		first = *p
	}
	fd := d.opts.NetNS
	neighbours.Watch(ctx, neighbours.Interval, first, func() ([]neighbours.Neighbour, error) { return neighbours.Scan(fd) },
		func(old, cur []neighbours.Neighbour) {
			neighbours.Log(d.log, neighbours.RoleDaemon, old, cur)
			d.near.Store(&cur)
		})
}

// neighbourWarnings are status's warnings of the managers last found:
// "neighbour mptcpd pid 42: a path manager too: ...". Safe off the loop.
func (d *Daemon) neighbourWarnings() []string {
	p := d.near.Load()
	if p == nil || len(*p) == 0 {
		return nil
	}
	lines := neighbours.Lines(*p, neighbours.RoleDaemon)
	for i, l := range lines {
		lines[i] = "neighbour " + l
	}
	return lines
}
