package ifmon

import (
	"errors"
	"net/netip"
)

// ErrNoRoute marks the kernel's refusal of a route lookup: no route
// (ENETUNREACH), an unreachable, prohibit or blackhole route, or a source
// address the kernel will not send from. Errors of Monitor.Route that do
// not match it are failures of the lookup itself.
var ErrNoRoute = errors.New("no route")

// Route is the kernel's answer to a route lookup towards a peer from one
// source address (RTM_GETROUTE with RTA_SRC, so that policy routing by
// source applies): the interface the packets would leave through.
type Route struct {
	Src, Dst netip.Addr
	// OIF is the output interface's index (RTA_OIF).
	OIF int32
	// Local is set when Dst is an address of this host (RTN_LOCAL): the
	// packets go through lo whatever the source.
	Local bool
}
