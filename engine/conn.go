package engine

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Subflow is a subflow as the kernel reported it.
type Subflow struct {
	Local, Remote netip.AddrPort // addresses unmapped
	LocID, RemID  uint8
	Backup        bool // our side's backup flag

	since time.Time  // when the engine first saw it
	q     *sfQuality // its measurements; nil until the first
}

// connState is one MPTCP connection the engine knows.
type connState struct {
	Token       uint32
	Local       netip.AddrPort // of the initial subflow, unmapped
	Remote      netip.AddrPort
	ServerSide  bool
	Established bool
	// Mapped is true when the kernel reports the connection's IPv4
	// addresses as v4-mapped IPv6 (an AF_INET6 socket): subflows of it are
	// then named that way in commands (see Action.Mapped).
	Mapped   bool
	Policy   *policy.Policy
	Subflows []Subflow
	// Announced are the peer's announced addresses by remote ID.
	Announced map[uint8]netip.AddrPort

	pending   map[pathKey]pendingCreate       // creations under way
	health    map[int32]*pathHealth           // paths found bad, by link
	closing   map[[2]netip.AddrPort]time.Time // destructions under way (local, remote), since
	backoff   map[pathKey]backoff             // paths that failed recently
	removed   map[uint8]bool                  // local IDs we sent REMOVE_ADDR for
	announced map[netip.AddrPort]bool         // addresses sent with ADD_ADDR
	wake      time.Time                       // when it wants to be looked at again (zero: no need)
	// tellPeer are local IDs of subflows closed on a broken path: the peer
	// cannot have heard the close, so REMOVE_ADDR goes out (on the new
	// subflow) once a working one is up.
	tellPeer map[uint8]bool
	// silent are the paths (links) suspected of silence, waiting for
	// proof (see silence.go).
	silent map[int32]*suspicion
	// recovered are the paths (links) that were bad and recovered, for
	// setBad.
	recovered map[int32]recovery
	// createTAT is the rate limit's theoretical arrival time (GCRA): a
	// creation is allowed from createTAT - (CreateBurst-1)*CreateInterval
	// on, and moves it CreateInterval on.
	createTAT time.Time
	// rescueAt is when the last creation for a stranded connection went
	// out, and rescueN how many went out in a row, each less than
	// rescueQuiet after the one before (survive.go).
	rescueAt time.Time
	rescueN  int
}

// compact drops the maps that emptied: an empty map keeps the memory of
// its largest size, and most connections, most of the time, have nothing
// pending, closing or backing off.
func (c *connState) compact() {
	if len(c.pending) == 0 {
		c.pending = nil
	}
	if len(c.closing) == 0 {
		c.closing = nil
	}
	if len(c.backoff) == 0 {
		c.backoff = nil
	}
	if len(c.health) == 0 {
		c.health = nil
	}
	if len(c.tellPeer) == 0 {
		c.tellPeer = nil
	}
	if len(c.silent) == 0 {
		c.silent = nil
	}
	if len(c.recovered) == 0 {
		c.recovered = nil
	}
}

// allowCreate takes a token from c's creation bucket at now, or returns
// false and when the next one is there.
func (c *connState) allowCreate(now time.Time) (bool, time.Time) {
	from := c.createTAT.Add(-(CreateBurst - 1) * CreateInterval)
	if now.Before(from) {
		return false, from
	}
	if c.createTAT.Before(now) {
		c.createTAT = now
	}
	c.createTAT = c.createTAT.Add(CreateInterval)
	return true, time.Time{}
}

// prune forgets what no longer matters, so that a connection's memory
// stays bounded whatever the peer or the links do: back-offs quiet for
// backoffMax (the next failure starts again from backoffMin), and
// creations that timed out on paths no longer wanted (their answer would
// change nothing).
func (c *connState) prune(wants []want, now time.Time) {
	for k, b := range c.backoff {
		if now.Sub(b.until) > backoffMax {
			delete(c.backoff, k)
		}
	}
	for link, r := range c.recovered {
		if now.Sub(r.at) >= probeMax {
			delete(c.recovered, link)
		}
	}
	for k, p := range c.pending {
		if now.Sub(p.since) >= pendingTimeout && !slices.ContainsFunc(wants, func(w want) bool { return w.key == k }) {
			delete(c.pending, k)
		}
	}
}

// pendingCreate is a subflow creation the kernel has not answered yet.
type pendingCreate struct {
	since  time.Time
	backup bool  // the flag it was created with
	id     uint8 // the local address ID it was created with
	probe  bool  // a probe of a silent path (see silence.go)
}

// pathKey names a wanted subflow: from a link to a remote address.
type pathKey struct {
	link   int32
	remote netip.AddrPort
}

type backoff struct {
	until time.Time
	n     int
}

func (c *connState) addSubflow(sf Subflow, at time.Time) {
	sf = sf.unmapped()
	sf.since = at
	for i, x := range c.Subflows {
		if x.Local == sf.Local && x.Remote == sf.Remote {
			sf.since, sf.q = x.since, x.q
			c.Subflows[i] = sf
			return
		}
	}
	c.Subflows = append(c.Subflows, sf)
}

func (c *connState) fail(k pathKey, now time.Time) {
	if c.backoff == nil {
		c.backoff = map[pathKey]backoff{}
	}
	b := c.backoff[k]
	d := backoffMin << min(b.n, 10)
	c.backoff[k] = backoff{until: now.Add(min(d, backoffMax)), n: b.n + 1}
}

func (sf Subflow) unmapped() Subflow {
	sf.Local, sf.Remote = unmapAP(sf.Local), unmapAP(sf.Remote)
	return sf
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// loopback reports whether c runs over the loopback interface, which is no
// path of the engine's: its address is never "gone" and no other path
// leads to the host itself, so c is left as it is.
func (c *connState) loopback() bool {
	return c.Local.Addr().IsLoopback() || c.Remote.Addr().IsLoopback()
}
