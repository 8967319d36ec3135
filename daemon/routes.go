package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// maxRoutePeers bounds the peers whose routes the engine holds between two
// interface changes: past it the routes are looked up anew for the peers
// of the connections there are, and the others forgotten.
const maxRoutePeers = 4096

// router is the kernel's route lookup (ifmon.Monitor.Route).
type router interface {
	Route(src, dst netip.Addr) (ifmon.Route, error)
}

// routeBook is what the daemon keeps of the route lookups it fed the
// engine: the peers whose routes the engine has for the current
// snapshot. Each (source address, peer) pair is looked up once per
// snapshot: an event of a connection to a known peer costs no netlink
// round trip. Every interface change (a change of links, addresses,
// routes or rules: ifmon's snapshot carries a digest of the routes and
// rules) invalidates them all. Only the loop uses it.
type routeBook struct {
	router router // nil: no lookups (every path counts as reachable)
	peers  map[netip.Addr]bool
	// unrouted is, by peer, the paths without a route to it last
	// logged, so that a line is written when that changes.
	unrouted map[netip.Addr]string
	// kinds is the last logged line of temporary and deprecated
	// addresses.
	kinds   string
	lookups int
}

// withRoutes runs before each step: it gives the engine the routes an
// event may need that it has not got. A new peer's are stepped in first
// (RoutesLearned); an interface change carries those of every peer in its
// event (InterfacesChanged.Routes).
func (d *Daemon) withRoutes(ev engine.Event) engine.Event {
	b := &d.routes
	if b.router == nil {
		return ev
	}
	switch e := ev.(type) {
	case engine.InterfacesChanged:
		d.logAddrKinds(e.Ifaces)
		peers := d.state.Peers()
		e.Routes = d.lookupRoutes(e.Ifaces, peers)
		b.peers = make(map[netip.Addr]bool, len(peers))
		for _, p := range peers {
			b.peers[p] = true
		}
		return e
	case engine.ConnReported:
		if !e.ServerSide {
			d.learnPeer(e.Remote.Addr())
		}
	case engine.ConnCreated:
		if !e.ServerSide {
			d.learnPeer(e.Remote.Addr())
		}
	case engine.PeerAnnounced:
		d.learnPeer(e.Remote.Addr())
	}
	return ev
}

// learnPeer looks up the routes towards dst, unless the engine has them,
// and steps them in.
func (d *Daemon) learnPeer(dst netip.Addr) {
	b := &d.routes
	dst = dst.Unmap()
	if b.peers[dst] {
		return
	}
	if b.peers == nil || len(b.peers) >= maxRoutePeers {
		peers := append(d.state.Peers(), dst)
		b.peers = make(map[netip.Addr]bool, len(peers))
		for _, p := range peers {
			b.peers[p] = true
		}
		d.step(engine.RoutesLearned{EventBase: now(), Routes: d.lookupRoutes(d.state.Interfaces(), peers), Flush: true})
		return
	}
	b.peers[dst] = true
	d.step(engine.RoutesLearned{EventBase: now(), Routes: d.lookupRoutes(d.state.Interfaces(), []netip.Addr{dst})})
}

// lookupRoutes asks the kernel for the route from every address of snap
// that could carry a subflow (on a link that is up, not loopback) towards
// each of dsts of its family. A lookup that fails (not the kernel's "no
// route") is logged and left out: the engine counts such a pair as
// reachable. The result is never nil.
func (d *Daemon) lookupRoutes(snap ifmon.Snapshot, dsts []netip.Addr) []engine.Route {
	b := &d.routes
	out := []engine.Route{}
	start := time.Now()
	for _, dst := range dsts {
		var unrouted []string
		for _, l := range snap.Links {
			if !l.Up || l.Class == ifmon.ClassLoopback {
				continue
			}
			for _, src := range l.Addrs {
				if src.Is4() != dst.Is4() {
					continue
				}
				r, ok := d.lookupRoute(src, dst)
				if !ok {
					continue
				}
				out = append(out, r)
				if r.Err != "" || (!r.Local && r.Dev != l.Index) {
					unrouted = append(unrouted, fmt.Sprintf("%s %s: %s", l.Name, src, routeWhy(r, snap)))
				}
			}
		}
		d.logUnrouted(dst, unrouted)
	}
	if len(dsts) > 0 {
		d.log.Debug("routes looked up", "peers", len(dsts), "lookups", len(out), "took", time.Since(start), "total", b.lookups)
	}
	return out
}

// lookupRoute is one lookup; false when it failed.
func (d *Daemon) lookupRoute(src, dst netip.Addr) (engine.Route, bool) {
	d.routes.lookups++
	r, err := d.routes.router.Route(src, dst)
	var errno syscall.Errno
	switch {
	case errors.Is(err, ifmon.ErrNoRoute) && errors.As(err, &errno):
		return engine.Route{Src: src, Dst: dst, Err: errno.Error()}, true
	case errors.Is(err, ifmon.ErrNoRoute):
		return engine.Route{Src: src, Dst: dst, Err: "no route"}, true
	case err != nil:
		d.log.Warn("route lookup failed; the path counts as reachable", "from", src, "to", dst, "err", err)
		return engine.Route{}, false
	}
	return engine.Route{Src: src, Dst: dst, Dev: r.OIF, Local: r.Local}, true
}

// routeWhy says why r is no path.
func routeWhy(r engine.Route, snap ifmon.Snapshot) string {
	if r.Err != "" {
		return r.Err
	}
	if l, ok := snap.Link(r.Dev); ok {
		return "leaves through " + l.Name
	}
	return fmt.Sprintf("leaves through if%d", r.Dev)
}

// logUnrouted logs the paths without a route to dst when they changed.
func (d *Daemon) logUnrouted(dst netip.Addr, unrouted []string) {
	b := &d.routes
	line := strings.Join(unrouted, "; ")
	if b.unrouted == nil {
		b.unrouted = map[netip.Addr]string{}
	}
	if old, ok := b.unrouted[dst]; (ok && old == line) || (!ok && line == "") {
		return
	}
	if len(b.unrouted) >= maxRoutePeers {
		clear(b.unrouted)
	}
	b.unrouted[dst] = line
	if line == "" {
		d.log.Info("every path has a route to the peer again", "peer", dst)
		return
	}
	d.log.Info("paths without a route to the peer are not used", "peer", dst, "paths", line)
}

// logAddrKinds logs the temporary and deprecated addresses, which no
// subflow uses unless a policy's addresses key asks, when they change.
func (d *Daemon) logAddrKinds(snap ifmon.Snapshot) {
	var tmp, dep []string
	for _, l := range snap.Links {
		for _, a := range l.Temporary {
			tmp = append(tmp, l.Name+" "+a.String())
		}
		for _, a := range l.Deprecated {
			dep = append(dep, l.Name+" "+a.String())
		}
	}
	line := fmt.Sprint(tmp, dep)
	was := d.routes.kinds
	if line == was {
		return
	}
	d.routes.kinds = line
	if len(tmp)+len(dep) == 0 && was == "" {
		return // none, from the start
	}
	d.log.Info("addresses not used for new subflows unless a policy's addresses key asks",
		"temporary", strings.Join(tmp, ", "), "deprecated", strings.Join(dep, ", "))
}
