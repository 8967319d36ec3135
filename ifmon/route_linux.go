//go:build linux

package ifmon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Route asks the kernel which way packets from src to dst would leave
// (`ip route get DST from SRC`), in the monitored namespace, on a socket
// the Monitor keeps for lookups. An error that matches ErrNoRoute is the
// kernel's answer that there is none; any other is a failed lookup (the
// socket is opened anew for the next one). Route may be called from any
// goroutine; lookups are one at a time. The socket is closed when Run
// returns; a Monitor that never runs keeps it.
func (m *Monitor) Route(src, dst netip.Addr) (Route, error) {
	m.sys.routeMu.Lock()
	defer m.sys.routeMu.Unlock()
	if m.sys.routes == nil {
		d, err := openDumper(m.cfg.NetNS)
		if err != nil {
			return Route{}, fmt.Errorf("ifmon: route lookup: open rtnetlink socket: %w", err)
		}
		m.sys.routes = d
	}
	r, err := lookup(m.sys.routes.h, src.Unmap(), dst.Unmap())
	if err != nil && !errors.Is(err, ErrNoRoute) {
		m.sys.routes.Close()
		m.sys.routes = nil
	}
	return r, err
}

// closeRoutes closes the lookup socket, if open.
func (m *Monitor) closeRoutes() {
	m.sys.routeMu.Lock()
	defer m.sys.routeMu.Unlock()
	if m.sys.routes != nil {
		m.sys.routes.Close()
		m.sys.routes = nil
	}
}

// lookup is one RTM_GETROUTE from src to dst. The kernel answers with the
// route it would use, or an errno: ENETUNREACH without a route,
// EHOSTUNREACH, EACCES or EINVAL for unreachable, prohibit and blackhole
// routes, EINVAL too for a source it does not own; all of them are
// ErrNoRoute. The route's type says the same for IPv6, which answers some
// of them with a route of that type.
func lookup(h *netlink.Handle, src, dst netip.Addr) (out Route, err error) {
	defer func() {
		// The library slices attribute values by their expected size;
		// see dumpOnce.
		if p := recover(); p != nil {
			out, err = Route{}, fmt.Errorf("route to %s from %s: vishvananda/netlink panicked: %v", dst, src, p)
		}
	}()
	routes, err := h.RouteGetWithOptions(net.IP(dst.AsSlice()), &netlink.RouteGetOptions{SrcAddr: net.IP(src.AsSlice())})
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return Route{}, fmt.Errorf("route to %s from %s: %w: %w", dst, src, ErrNoRoute, err)
	case err != nil:
		return Route{}, fmt.Errorf("route to %s from %s: %w", dst, src, err)
	case len(routes) == 0:
		return Route{}, fmt.Errorf("route to %s from %s: the kernel answered with no route", dst, src)
	}
	r := routes[0]
	switch r.Type {
	case rtnUnicast:
	case rtnLocal:
		return Route{Src: src, Dst: dst, OIF: int32(r.LinkIndex), Local: true}, nil
	default:
		return Route{}, fmt.Errorf("route to %s from %s: %w: route of type %d", dst, src, ErrNoRoute, r.Type)
	}
	return Route{Src: src, Dst: dst, OIF: int32(r.LinkIndex)}, nil
}
