package engine

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The engine decides which subflows each connection should have. It is
// level-triggered: every event updates the model, then each affected
// connection's wanted subflows are computed from its policy, the
// interfaces and the time, and compared with the subflows the kernel
// reported; the difference is the actions. It does no I/O and reads no
// clock: time comes in the events. Results of actions come back as kernel
// events (SubflowUp, SubflowDown) or as ActionFailed.

// Timers of the engine.
const (
	// pendingTimeout is how long a subflow creation may go unanswered by
	// the kernel (no SF_ESTABLISHED, no SF_CLOSED) before it counts as
	// failed.
	pendingTimeout = 5 * time.Second
	backoffMin     = 500 * time.Millisecond
	backoffMax     = 30 * time.Second
)

// Limits on what one connection can make the engine do, whatever its
// input: a link flapping hundreds of times, a peer flooding ADD_ADDR and
// REMOVE_ADDR, the kernel refusing or the peer resetting every join. They
// do not hold back the one subflow a connection with none that can carry
// its data needs: that has a pace of its own (survive.go).
const (
	// CreateBurst and CreateInterval limit the subflow creations of one
	// connection with a token bucket (GCRA: one timestamp per connection,
	// time from the events): CreateBurst may go at once, then one every
	// CreateInterval, so over any span T a connection gets at most
	// CreateBurst + T/CreateInterval creations. A creation the limit
	// defers is not lost: Step asks for a wake-up at the time the bucket
	// allows it, and the connection converges then. The burst covers what
	// a connection needs at once (a subflow per path, or a handover with
	// a warm standby); the interval is well above a join's round trip.
	CreateBurst    = 4
	CreateInterval = time.Second
	// MaxSubflows caps the subflows the engine wants for one connection,
	// the initial one included: MPTCP_PM_ADDR_MAX (8), the kernel's cap
	// on its own path manager's subflows (net/mptcp/protocol.h). Peer
	// announcements beyond what fits with every allowed path are not
	// joined, and no creation is sent while the connection has this many
	// subflows, established or being created.
	MaxSubflows = 8
)

// Subflow is a subflow as the kernel reported it.
type Subflow struct {
	Local, Remote netip.AddrPort // addresses unmapped
	LocID, RemID  uint8
	Backup        bool // our side's backup flag

	since time.Time  // when the engine first saw it
	q     *sfQuality // its measurements; nil until the first
}

// ConnState is one MPTCP connection the engine knows.
type ConnState struct {
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
func (c *ConnState) compact() {
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
func (c *ConnState) allowCreate(now time.Time) (bool, time.Time) {
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
func (c *ConnState) prune(wants []want, now time.Time) {
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

// linkState is what the engine remembers of an interface.
type linkState struct {
	usableSince time.Time // zero: usable since before the daemon started
}

// State is the engine's model of the kernel. Its zero value is not usable;
// make one with NewState. It is owned by one goroutine.
type State struct {
	Ifaces ifmon.Snapshot
	Conns  map[uint32]*ConnState

	links map[int32]linkState
	// addrIDs are the IDs of local addresses, by address and port (port 0
	// for subflows): the kernel tells ADDR:PORT entries apart by port.
	addrIDs map[netip.AddrPort]uint8
	nextID  uint8
	// closed are tokens closed in the last closedTTL, with when: the
	// kernel can report a connection that closes at once as CREATED,
	// CLOSED, ESTABLISHED (6.18), and that late ESTABLISHED must not
	// bring it back, to be managed (and its commands refused with
	// "invalid token") forever.
	closed     map[uint32]time.Time
	closedPrun time.Time
	// peak is the most connections since Conns was last made: a Go map
	// keeps the memory of its largest size, and a host that had ten
	// thousand connections should not keep their room when they are gone.
	peak int
}

// shrink makes m anew when it holds less than a quarter of *peak (and the
// peak was worth it); it returns m, or the new map.
func shrink[K comparable, V any](m map[K]V, peak *int) map[K]V {
	*peak = max(*peak, len(m))
	if *peak < 1024 || len(m) > *peak/4 {
		return m
	}
	*peak = len(m)
	return rebuilt(m)
}

// rebuilt copies m into a map of its size (maps.Clone keeps the old one's
// room).
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	n := make(map[K]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// closedTTL is how long a closed token is remembered.
const closedTTL = 10 * time.Second

// NewState returns a model that starts with the interfaces ifaces; the
// links in it count as usable since before any connection (no hold-down).
func NewState(ifaces ifmon.Snapshot) *State {
	s := &State{
		Ifaces:  ifaces,
		Conns:   map[uint32]*ConnState{},
		links:   map[int32]linkState{},
		addrIDs: map[netip.AddrPort]uint8{},
		nextID:  1,
		closed:  map[uint32]time.Time{},
	}
	for _, l := range ifaces.Links {
		s.links[l.Index] = linkState{}
	}
	return s
}

// Event is an input of the engine. Every event carries the time it
// happened (At).
type Event interface{ at() time.Time }

// EventBase holds the time of an event.
type EventBase struct{ At time.Time }

func (e EventBase) at() time.Time { return e.At }

// ConnCreated is a new connection (CREATED, or ESTABLISHED when CREATED was
// missed), or one adopted from a kernel dump. Policy is the application
// policy the daemon matched it to.
type ConnCreated struct {
	EventBase
	Token         uint32
	Local, Remote netip.AddrPort
	ServerSide    bool
	Established   bool
	Policy        *policy.Policy
	// Subflows, when the connection is adopted from a dump, are the
	// subflows it has; nil means a new connection, whose only subflow is
	// the initial one, Local -> Remote.
	Subflows []Subflow
}

// ConnEstablished is the kernel's ESTABLISHED: subflows can be added now.
type ConnEstablished struct {
	EventBase
	Token uint32
}

// ConnClosed is the kernel's CLOSED.
type ConnClosed struct {
	EventBase
	Token uint32
}

// SubflowUp is SF_ESTABLISHED.
type SubflowUp struct {
	EventBase
	Token uint32
	Subflow
}

// SubflowDown is SF_CLOSED; Error is the subflow's errno, 0 if none.
type SubflowDown struct {
	EventBase
	Token uint32
	Subflow
	Error uint8
}

// SubflowPriority is SF_PRIO: the peer changed a subflow's backup flag.
type SubflowPriority struct {
	EventBase
	Token uint32
	Subflow
}

// PeerAnnounced is ANNOUNCED: the peer's ADD_ADDR.
type PeerAnnounced struct {
	EventBase
	Token  uint32
	RemID  uint8
	Remote netip.AddrPort
}

// PeerRemoved is REMOVED: the peer's REMOVE_ADDR.
type PeerRemoved struct {
	EventBase
	Token uint32
	RemID uint8
}

// InterfacesChanged carries a new snapshot of the interfaces.
type InterfacesChanged struct {
	EventBase
	Ifaces ifmon.Snapshot
}

// Tick is a wake-up the engine asked for (Step's wake time).
type Tick struct{ EventBase }

// ActionFailed reports that the kernel refused an action.
type ActionFailed struct {
	EventBase
	Action Action
	Err    error
}

// ActionDone reports that the kernel accepted an action. Only SetBackup
// needs it: the kernel reports MP_PRIO to the peer, not to us.
type ActionDone struct {
	EventBase
	Action Action
}

// PolicyChanged gives a connection another policy (after a reload).
type PolicyChanged struct {
	EventBase
	Token  uint32
	Policy *policy.Policy
}

// ActionKind is what an action does.
type ActionKind int

// Action kinds.
const (
	CreateSubflow  ActionKind = iota + 1 // open a subflow from Local (ID, IfIndex) to Remote
	DestroySubflow                       // close the subflow Local -> Remote
	SetBackup                            // set the backup flag of Local -> Remote to Backup (MP_PRIO)
	RemoveAddr                           // send REMOVE_ADDR for local ID and close its subflows
	Announce                             // send ADD_ADDR for Local (port 0: the connection's) with ID
)

func (k ActionKind) String() string {
	switch k {
	case CreateSubflow:
		return "create-subflow"
	case DestroySubflow:
		return "destroy-subflow"
	case SetBackup:
		return "set-backup"
	case RemoveAddr:
		return "remove-addr"
	case Announce:
		return "announce"
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is one command for the kernel's userspace path manager.
type Action struct {
	Kind    ActionKind
	Token   uint32
	Local   netip.AddrPort // for CreateSubflow the port is 0
	ID      uint8          // local address ID (CreateSubflow, RemoveAddr)
	IfIndex int32          // CreateSubflow: the interface to bind to
	Remote  netip.AddrPort
	Backup  bool
	// Mapped asks for IPv4 addresses as v4-mapped IPv6 in the command: the
	// kernel finds the subflows of an AF_INET6 connection by that form
	// only (SUBFLOW_DESTROY and SET_FLAGS with plain IPv4 get ESRCH).
	Mapped bool
	Reason string // why, for logs
}

func (a Action) String() string {
	switch a.Kind {
	case RemoveAddr:
		return fmt.Sprintf("%s token %08x id %d (%s)", a.Kind, a.Token, a.ID, a.Reason)
	case Announce:
		return fmt.Sprintf("%s token %08x %s id %d (%s)", a.Kind, a.Token, a.Local, a.ID, a.Reason)
	case SetBackup:
		return fmt.Sprintf("%s token %08x %s -> %s backup=%v (%s)", a.Kind, a.Token, a.Local, a.Remote, a.Backup, a.Reason)
	case CreateSubflow:
		return fmt.Sprintf("%s token %08x %s id %d if %d -> %s backup=%v (%s)", a.Kind, a.Token, a.Local.Addr(), a.ID, a.IfIndex, a.Remote, a.Backup, a.Reason)
	}
	return fmt.Sprintf("%s token %08x %s -> %s (%s)", a.Kind, a.Token, a.Local, a.Remote, a.Reason)
}

// Step applies ev to the model and returns the actions to take, and the
// time at which the engine wants a Tick (zero: none).
func (s *State) Step(ev Event) ([]Action, time.Time) {
	now := ev.at()
	var touched []*ConnState // connections to re-evaluate; nil slice + all=true means all
	all, tick := false, false
	switch ev := ev.(type) {
	case ConnCreated:
		c := s.Conns[ev.Token]
		if t, ok := s.closed[ev.Token]; ok && c == nil && ev.Subflows == nil && now.Sub(t) < closedTTL {
			// A late report of a connection that is gone. (A dump's
			// adoption, with Subflows, is the kernel's word: it exists.)
			break
		}
		delete(s.closed, ev.Token)
		if c == nil {
			// Room for the initial subflow and one more: what most
			// connections have.
			c = &ConnState{Token: ev.Token, Subflows: make([]Subflow, 0, max(2, len(ev.Subflows)))}
			s.Conns[ev.Token] = c
		}
		c.Local, c.Remote = unmapAP(ev.Local), unmapAP(ev.Remote)
		c.Mapped = ev.Local.Addr().Is4In6() || ev.Remote.Addr().Is4In6()
		c.ServerSide, c.Policy = ev.ServerSide, ev.Policy
		c.Established = c.Established || ev.Established
		if ev.Subflows == nil {
			// The kernel sends no SF_ESTABLISHED for the initial subflow:
			// CREATED is its only report.
			c.addSubflow(Subflow{Local: c.Local, Remote: c.Remote}, now)
		} else {
			// A dump: the kernel's word on which subflows there are (events
			// may have been lost). Those that stay keep what the engine
			// knows of them; a creation under way that the dump shows is
			// done.
			old := c.Subflows
			c.Subflows = make([]Subflow, 0, max(2, len(ev.Subflows)))
			for _, sf := range ev.Subflows {
				sf = sf.unmapped()
				sf.since = now
				if i := slices.IndexFunc(old, func(x Subflow) bool { return x.Local == sf.Local && x.Remote == sf.Remote }); i >= 0 {
					sf.since, sf.q = old[i].since, old[i].q
				}
				c.Subflows = append(c.Subflows, sf)
				if k, ok := s.keyOf(sf); ok {
					delete(c.pending, k)
				}
			}
		}
		touched = append(touched, c)
	case ConnEstablished:
		if c := s.Conns[ev.Token]; c != nil {
			c.Established = true
			touched = append(touched, c)
		}
	case ConnClosed:
		s.forget(ev.Token, now)
	case SubflowUp:
		if c := s.Conns[ev.Token]; c != nil {
			sf := ev.Subflow.unmapped()
			// SF_ESTABLISHED's backup attribute is the peer's flag (6.18):
			// ours is the one the subflow was created with, or none.
			sf.Backup = false
			if k, ok := s.keyOf(sf); ok {
				if p, was := c.pending[k]; was {
					sf.Backup = p.backup
					if p.probe {
						c.answered(k.link)
					}
				}
				delete(c.pending, k)
				delete(c.backoff, k)
			}
			delete(c.removed, sf.LocID) // the ID is in use again
			c.addSubflow(sf, now)
			touched = append(touched, c)
		}
	case SubflowDown:
		if c := s.Conns[ev.Token]; c != nil {
			sf := ev.Subflow.unmapped()
			n := len(c.Subflows)
			c.Subflows = slices.DeleteFunc(c.Subflows, func(x Subflow) bool {
				return x.Local == sf.Local && x.Remote == sf.Remote
			})
			established := len(c.Subflows) < n
			delete(c.closing, [2]netip.AddrPort{sf.Local, sf.Remote})
			// A subflow that never came up is a creation that failed; one
			// that was up closing is not (another creation may be under
			// way on the same path).
			if k, ok := s.keyOf(sf); ok && !established {
				if _, was := c.pending[k]; was || ev.Error != 0 {
					delete(c.pending, k)
					c.fail(k, now)
				}
			}
			touched = append(touched, c)
		}
	case SubflowPriority:
		// The peer's flag; ours is what the engine sets. Nothing to do.
	case PeerAnnounced:
		if c := s.Conns[ev.Token]; c != nil {
			if c.Announced == nil {
				c.Announced = map[uint8]netip.AddrPort{}
			}
			c.Announced[ev.RemID] = unmapAP(ev.Remote)
			touched = append(touched, c)
		}
	case PeerRemoved:
		if c := s.Conns[ev.Token]; c != nil {
			delete(c.Announced, ev.RemID)
			touched = append(touched, c)
		}
	case InterfacesChanged:
		s.setIfaces(ev.Ifaces, now)
		all = true
	case Tick:
		// Only the connections whose time has come: at ten thousand
		// connections, reconciling every one at every wake-up was most
		// of the daemon's work.
		tick = true
		for _, c := range s.Conns {
			if !c.wake.IsZero() && !c.wake.After(now) {
				touched = append(touched, c)
			}
		}
		slices.SortFunc(touched, func(a, b *ConnState) int { return cmp.Compare(a.Token, b.Token) })
	case ActionFailed:
		if errors.Is(ev.Err, genl.ErrInvalidToken) {
			// The kernel has no such connection: it closed without a
			// CLOSED event (6.18 sends none for many a connection the
			// peer reset), and every further command would be refused
			// the same way.
			s.forget(ev.Action.Token, now)
			break
		}
		if c := s.Conns[ev.Action.Token]; c != nil {
			s.failed(c, ev.Action, ev.Err, now)
			touched = append(touched, c)
		}
	case ActionDone:
		if c := s.Conns[ev.Action.Token]; c != nil && ev.Action.Kind == SetBackup {
			for i, sf := range c.Subflows {
				if sf.Local == unmapAP(ev.Action.Local) && sf.Remote == unmapAP(ev.Action.Remote) {
					c.Subflows[i].Backup = ev.Action.Backup
				}
			}
		}
	case PolicyChanged:
		if c := s.Conns[ev.Token]; c != nil {
			c.Policy = ev.Policy
			touched = append(touched, c)
		}
	case Quality:
		if c := s.Conns[ev.Token]; c != nil && s.quality(c, ev, now) {
			touched = append(touched, c)
		}
	}
	if all {
		touched = touched[:0]
		for _, c := range s.Conns {
			touched = append(touched, c)
		}
		slices.SortFunc(touched, func(a, b *ConnState) int { return cmp.Compare(a.Token, b.Token) })
	}
	var actions []Action
	var wake time.Time
	for _, c := range touched {
		a, w := s.reconcile(c, now)
		c.wake = w
		c.compact()
		actions = append(actions, a...)
		wake = earliest(wake, w)
	}
	if tick {
		// The caller's timer fired: it needs the next wake-up of every
		// connection, not only of those looked at.
		for _, c := range s.Conns {
			wake = earliest(wake, c.wake)
		}
	}
	return actions, wake
}

// forget drops connection token, closed at now, from the model.
func (s *State) forget(token uint32, now time.Time) {
	delete(s.Conns, token)
	s.Conns = shrink(s.Conns, &s.peak)
	s.closed[token] = now
	if now.Sub(s.closedPrun) >= closedTTL {
		s.closedPrun = now
		for tok, t := range s.closed {
			if now.Sub(t) >= closedTTL {
				delete(s.closed, tok)
			}
		}
		s.closed = rebuilt(s.closed)
	}
}

func (s *State) setIfaces(snap ifmon.Snapshot, now time.Time) {
	old := s.Ifaces
	s.Ifaces = snap
	next := map[int32]linkState{}
	for _, l := range snap.Links {
		ls, known := s.links[l.Index]
		ol, _ := old.Link(l.Index)
		switch {
		case !known:
			ls = linkState{usableSince: now}
		case usable(l) && !usable(ol):
			ls.usableSince = now
		}
		next[l.Index] = ls
	}
	s.links = next
}

func usable(l ifmon.Link) bool { return l.Up && len(l.Addrs) > 0 }

func (c *ConnState) addSubflow(sf Subflow, at time.Time) {
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

// failed takes in a refused action. The model changes only where the
// refusal says what the kernel has: a subflow to destroy that the kernel
// does not know (ESRCH) is gone. Otherwise the path backs off, so that a
// refusal is not repeated at every event.
func (s *State) failed(c *ConnState, a Action, err error, now time.Time) {
	switch a.Kind {
	case CreateSubflow:
		k := pathKey{link: a.IfIndex, remote: unmapAP(a.Remote)}
		delete(c.pending, k)
		c.fail(k, now)
	case DestroySubflow, SetBackup:
		local, remote := unmapAP(a.Local), unmapAP(a.Remote)
		delete(c.closing, [2]netip.AddrPort{local, remote})
		if a.Kind == DestroySubflow && errors.Is(err, syscall.ESRCH) {
			c.Subflows = slices.DeleteFunc(c.Subflows, func(x Subflow) bool { return x.Local == local && x.Remote == remote })
			return
		}
		if k, ok := s.keyOf(Subflow{Local: local, Remote: remote}); ok {
			c.fail(k, now)
		}
	}
}

func (c *ConnState) fail(k pathKey, now time.Time) {
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

// keyOf names the path of a subflow: the link holding its local address.
func (s *State) keyOf(sf Subflow) (pathKey, bool) {
	l, ok := s.Ifaces.ByAddr(sf.Local.Addr())
	if !ok {
		return pathKey{}, false
	}
	return pathKey{link: l.Index, remote: sf.Remote}, true
}

// want is one wanted subflow.
type want struct {
	key    pathKey
	local  netip.Addr
	backup bool
	reason string
	// freshAfter asks for a subflow established after this time (a probe
	// of a bad path): an older one is closed and a new one opened.
	freshAfter time.Time
}

// reconcile compares what c should have with what it has.
func (s *State) reconcile(c *ConnState, now time.Time) ([]Action, time.Time) {
	if !c.Established || c.Policy == nil {
		return nil, time.Time{}
	}
	if c.ServerSide {
		// The side that accepted the connection opens no subflows; it
		// announces the policy's addresses, once each.
		return s.announce(c), time.Time{}
	}
	settled := s.settleSilence(c, now)
	wants, wake := s.wanted(c, now)
	wake = earliest(wake, settled)
	c.prune(wants, now)
	var actions []Action
	kept := map[pathKey]bool{}
	destroy := func(sf Subflow, reason string) {
		if c.closing == nil {
			c.closing = map[[2]netip.AddrPort]time.Time{}
		}
		c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}] = now
		wake = earliest(wake, now.Add(pendingTimeout)) // unanswered: sent again
		actions = append(actions, Action{Kind: DestroySubflow, Token: c.Token, Local: sf.Local, Remote: sf.Remote, Reason: reason})
	}
	// Subflows that are there: keep one per wanted path (fixing its
	// backup flag); an address that is gone gets REMOVE_ADDR and its
	// subflows are closed; the other unwanted ones are closed once they
	// are dead (link down) or a wanted non-backup subflow is established
	// (make before break).
	var unwanted []Subflow
	active := false
	for _, sf := range c.Subflows {
		if t, ok := c.closing[[2]netip.AddrPort{sf.Local, sf.Remote}]; ok {
			if now.Sub(t) < pendingTimeout {
				// Being destroyed: the kernel's SF_CLOSED is on its way.
				wake = earliest(wake, t.Add(pendingTimeout))
				continue
			}
			delete(c.closing, [2]netip.AddrPort{sf.Local, sf.Remote})
		}
		k, ok := s.keyOf(sf)
		if !ok {
			reason := fmt.Sprintf("local address %s is gone", sf.Local.Addr())
			if !c.removed[sf.LocID] {
				if c.removed == nil {
					c.removed = map[uint8]bool{}
				}
				c.removed[sf.LocID] = true
				actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: sf.LocID, Reason: reason})
			}
			// REMOVE_ADDR tells the peer; our own subflow stays open
			// until it is destroyed.
			destroy(sf, reason)
			continue
		}
		if b, ok := c.backoff[k]; ok && now.Before(b.until) {
			// Refused recently: leave it until the back-off ends.
			kept[k] = true
			wake = earliest(wake, b.until)
			continue
		}
		i := slices.IndexFunc(wants, func(w want) bool { return w.key == k })
		if i < 0 || kept[k] || sf.since.Before(wants[i].freshAfter) {
			unwanted = append(unwanted, sf)
			continue
		}
		kept[k] = true
		active = active || !wants[i].backup
		if sf.Backup != wants[i].backup {
			actions = append(actions, Action{Kind: SetBackup, Token: c.Token, Local: sf.Local, Remote: sf.Remote,
				Backup: wants[i].backup, Reason: wants[i].reason})
		}
	}
	for _, sf := range unwanted {
		if s.keepsLast(c, kept) {
			break // the last ones: closed once a replacement is up (survive.go)
		}
		k, _ := s.keyOf(sf)
		l, ok := s.Ifaces.Link(k.link)
		h, bad := c.bad(k.link)
		broken := bad && h.reason != "rtt"
		if ok && l.Up && !active && !broken {
			continue // still the one carrying traffic: closed when its successor is up
		}
		reason := s.unwantedReason(k)
		if bad {
			reason = l.Name + " is bad (" + h.reason + ")"
		}
		if broken && sf.LocID != 0 {
			// The kernel forgets the address ID of a subflow it destroys
			// (6.18: REMOVE_ADDR for it is then refused, "address with
			// id N not found"), and the peer cannot hear the close on a
			// broken path: REMOVE_ADDR goes first, over a working
			// subflow. Until one is up the broken one stays (its data
			// could not be reinjected anywhere before).
			if !active {
				continue
			}
			if !c.removed[sf.LocID] {
				if c.removed == nil {
					c.removed = map[uint8]bool{}
				}
				c.removed[sf.LocID] = true
				actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: sf.LocID,
					Reason: "the peer cannot hear that a subflow on a broken path is closed"})
			}
		} else if broken {
			// The initial subflow's ID 0 can be removed after: at once,
			// so that the kernel reinjects its data.
			if c.tellPeer == nil {
				c.tellPeer = map[uint8]bool{}
			}
			c.tellPeer[sf.LocID] = true
		}
		destroy(sf, reason)
	}
	// Wanted paths with no subflow: open one, unless one is being opened,
	// the path failed recently, the connection has MaxSubflows already or
	// its creation rate limit says later.
	// Subflows being closed count until the kernel says they are gone:
	// the kernel never has more than MaxSubflows.
	live := len(c.Subflows)
	var create []Action
	for _, w := range wants {
		if kept[w.key] {
			continue
		}
		if p, ok := c.pending[w.key]; ok {
			if now.Sub(p.since) < pendingTimeout {
				wake = earliest(wake, p.since.Add(pendingTimeout))
				continue
			}
			delete(c.pending, w.key)
			c.fail(w.key, now)
		}
		if b, ok := c.backoff[w.key]; ok && now.Before(b.until) {
			wake = earliest(wake, b.until)
			continue
		}
		if live+len(c.pending) >= MaxSubflows {
			// Room comes back with a SubflowDown, an event of its own.
			continue
		}
		if ok, next := c.allowCreate(now); !ok {
			wake = earliest(wake, next)
			continue
		}
		if c.pending == nil {
			c.pending = map[pathKey]pendingCreate{}
		}
		id := s.idFor(c, w.local)
		c.pending[w.key] = pendingCreate{since: now, backup: w.backup, id: id}
		wake = earliest(wake, now.Add(pendingTimeout))
		create = append(create, Action{Kind: CreateSubflow, Token: c.Token, Local: netip.AddrPortFrom(w.local, 0),
			ID: id, IfIndex: w.key.link, Remote: w.key.remote, Backup: w.backup, Reason: w.reason})
	}
	probes, next := s.proveSilent(c, now)
	create, wake = append(create, probes...), earliest(wake, next)
	// A connection left with no subflow that can carry its data gets one,
	// whatever held back the creations above (survive.go).
	a, w := s.rescue(c, wants, now)
	if a != nil {
		create = append(create, *a)
	}
	wake = earliest(wake, w)
	// REMOVE_ADDR for the IDs of subflows closed on a broken path, once a
	// working subflow is up — unless a new subflow is being opened from
	// the same address (ID): the peer would close that one too.
	if active {
		for _, id := range slices.Sorted(maps.Keys(c.tellPeer)) {
			delete(c.tellPeer, id)
			inUse := slices.ContainsFunc(c.Subflows, func(x Subflow) bool {
				_, closing := c.closing[[2]netip.AddrPort{x.Local, x.Remote}]
				return x.LocID == id && !closing
			})
			for _, p := range c.pending {
				inUse = inUse || p.id == id
			}
			if inUse || c.removed[id] {
				continue // the ID is in use again, or gone already
			}
			if c.removed == nil {
				c.removed = map[uint8]bool{}
			}
			c.removed[id] = true
			actions = append(actions, Action{Kind: RemoveAddr, Token: c.Token, ID: id,
				Reason: "the peer cannot have heard that a subflow on a broken path was closed"})
		}
	}
	// New subflows first, then promotions, then demotions, then
	// closures: the kernel always has a subflow to send on, and closing
	// the old ones makes it reinject their data on one already on its way.
	actions = append(create, actions...)
	for i := range actions {
		actions[i].Mapped = c.Mapped && actions[i].Local.Addr().Is4()
	}
	slices.SortStableFunc(actions, func(a, b Action) int { return cmp.Compare(phase(a), phase(b)) })
	return actions, wake
}

func phase(a Action) int {
	switch {
	case a.Kind == CreateSubflow:
		return 0
	case a.Kind == SetBackup && !a.Backup:
		return 1
	case a.Kind == SetBackup:
		return 2
	}
	return 3
}

func (s *State) unwantedReason(k pathKey) string {
	l, ok := s.Ifaces.Link(k.link)
	switch {
	case !ok:
		return "interface gone"
	case !l.Up:
		return l.Name + " is down"
	}
	return "not wanted on " + l.Name
}

// announce returns ADD_ADDR actions for the policy's addresses c has not
// announced yet; addresses of the other family, and the connection's own
// address and port, are left out.
func (s *State) announce(c *ConnState) []Action {
	var out []Action
	for _, ap := range c.Policy.Announce {
		if c.announced[ap] {
			continue
		}
		if c.announced == nil {
			c.announced = map[netip.AddrPort]bool{}
		}
		c.announced[ap] = true
		if ap.Addr().Is4() != c.Local.Addr().Is4() ||
			(ap.Addr() == c.Local.Addr() && (ap.Port() == 0 || ap.Port() == c.Local.Port())) {
			continue
		}
		out = append(out, Action{Kind: Announce, Token: c.Token, Local: ap, ID: s.addrID(ap),
			Reason: "policy " + c.Policy.Name + " announces it"})
	}
	return out
}

// idFor returns the local address ID for a, stable across connections:
// the initial subflow's address keeps ID 0.
func (s *State) idFor(c *ConnState, a netip.Addr) uint8 {
	if a == c.Local.Addr() {
		return 0
	}
	return s.addrID(netip.AddrPortFrom(a, 0))
}

// addrID returns the ID of local address a (never 0), the same for every
// connection.
func (s *State) addrID(a netip.AddrPort) uint8 {
	if id, ok := s.addrIDs[a]; ok {
		return id
	}
	used := map[uint8]bool{}
	for _, id := range s.addrIDs {
		used[id] = true
	}
	for range 255 {
		id := s.nextID
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if !used[id] {
			s.addrIDs[a] = id
			return id
		}
	}
	// All 255 IDs are taken by addresses seen before: reuse the first.
	return 1
}

// candidate is a link a connection may use, with its address.
type candidate struct {
	link ifmon.Link
	addr netip.Addr
	rank int
}

// wanted computes the subflows c should have now.
func (s *State) wanted(c *ConnState, now time.Time) ([]want, time.Time) {
	p := c.Policy
	is4 := c.Remote.Addr().Is4()
	var cands []candidate
	for _, l := range s.Ifaces.Links {
		if !usable(l) || !p.Paths.Allowed(l.Class) {
			continue
		}
		a, ok := s.addrFor(c, l, is4)
		if !ok {
			continue
		}
		cands = append(cands, candidate{link: l, addr: a, rank: p.Paths.Rank(l.Class)})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.link.Index, b.link.Index))
	})
	remotes := []netip.AddrPort{c.Remote}
	// A subflow from every candidate to every remote, within MaxSubflows:
	// the announcements that do not fit are left out, lowest IDs first in.
	room := max(1, MaxSubflows/max(1, len(cands)))
	if p.AcceptAnnouncements && p.Mode != policy.ModeHandover {
		ids := make([]uint8, 0, len(c.Announced))
		for id := range c.Announced {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r := c.Announced[id]
			if r.Port() == 0 {
				r = netip.AddrPortFrom(r.Addr(), c.Remote.Port())
			}
			if len(remotes) >= room {
				break
			}
			if r.Addr().Is4() == is4 && !slices.Contains(remotes, r) {
				remotes = append(remotes, r)
			}
		}
	}
	var wants []want
	wake := time.Time{}
	if usesQuality(p.Mode) {
		wake = c.refreshHealth(now)
	}
	// probe adds, for a bad path whose probe is due, a fresh backup subflow.
	probe := func(cd candidate, r netip.AddrPort) bool {
		h, bad := c.bad(cd.link.Index)
		if !bad {
			return false
		}
		due, next := h.probeDue(now)
		wake = earliest(wake, next)
		if due {
			wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true, freshAfter: h.probeAt,
				reason: fmt.Sprintf("%s: probing %s (bad: %s)", p.Mode, cd.link.Name, h.reason)})
		}
		return true
	}
	switch p.Mode {
	case policy.ModeSingle:
		// Never a new subflow; of those there are (more than one after a
		// reload from another mode), keep one: the initial subflow if it
		// is still there, else the first.
		for _, sf := range c.Subflows {
			k, ok := s.keyOf(sf)
			if !ok {
				continue
			}
			if len(wants) == 0 || (sf.Local == c.Local && sf.Remote == c.Remote) {
				wants = []want{{key: k, local: sf.Local.Addr(), backup: sf.Backup, reason: "single: one subflow"}}
			}
		}
	case policy.ModeInteractive, policy.ModeAggregate:
		allBad := !slices.ContainsFunc(cands, func(cd candidate) bool { _, bad := c.bad(cd.link.Index); return !bad })
		for _, cd := range cands {
			for _, r := range remotes {
				if h, bad := c.bad(cd.link.Index); bad && p.Mode == policy.ModeInteractive {
					// A slow or lossy path is demoted while bad; one that
					// timed out is closed (its data reinjected on the
					// others at once: a demotion leaves it stuck there
					// until the kernel's RTO), unless every path is bad.
					// Either is replaced by a fresh probe when due.
					probed := probe(cd, r) && slices.ContainsFunc(wants, func(w want) bool { return w.key == pathKey{cd.link.Index, r} })
					if !probed && (!timedOut(h.reason) || allBad) {
						wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr, backup: true,
							reason: fmt.Sprintf("interactive: %s is bad (%s)", cd.link.Name, h.reason)})
					}
					continue
				}
				wants = append(wants, want{key: pathKey{cd.link.Index, r}, local: cd.addr,
					reason: fmt.Sprintf("%s: every allowed path (%s)", p.Mode, cd.link.Name)})
			}
		}
	case policy.ModeHandover:
		var pref, back, bad []candidate
		for _, cd := range cands {
			switch _, isBad := c.bad(cd.link.Index); {
			case isBad:
				bad = append(bad, cd)
			case p.Paths.Preferred(cd.link.Class):
				pref = append(pref, cd)
			default:
				back = append(back, cd)
			}
		}
		if len(pref) == 0 && len(back) == 0 && len(bad) > 0 {
			// Every path is bad: the best of them is still better than none.
			pref, back, bad = bad[:1], nil, bad[1:]
		}

		add := func(cd candidate, backup bool, reason string) {
			wants = append(wants, want{key: pathKey{cd.link.Index, c.Remote}, local: cd.addr, backup: backup, reason: reason})
		}
		switch {
		case len(pref) > 0 && s.settled(pref[0].link, p.Handover.HoldDown, now):
			add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
			if p.Handover.WarmStandby && len(back) > 0 {
				add(back[0], true, "handover: warm standby on "+back[0].link.Name)
			}
		case len(pref) > 0 && len(back) > 0:
			// The preferred path is back but not for the hold-down yet:
			// stay on the backup path, with the preferred one ready.
			until := s.links[pref[0].link.Index].usableSince.Add(p.Handover.HoldDown)
			wake = until
			add(back[0], false, "handover: "+pref[0].link.Name+" in hold-down, staying on "+back[0].link.Name)
			add(pref[0], true, "handover: "+pref[0].link.Name+" back, in hold-down")
		case len(pref) > 0:
			add(pref[0], false, "handover: preferred path "+pref[0].link.Name)
		case len(back) > 0:
			add(back[0], false, "handover: no preferred path, backup "+back[0].link.Name)
		}
		for _, cd := range bad {
			probe(cd, c.Remote)
		}
	}
	return wants, wake
}

// settled reports whether link l has been usable for at least hold.
func (s *State) settled(l ifmon.Link, hold time.Duration, now time.Time) bool {
	since := s.links[l.Index].usableSince
	return since.IsZero() || !now.Before(since.Add(hold))
}

// addrFor picks the local address of c on link l: the initial subflow's
// address when it is on l, else the first address of the connection's
// family.
func (s *State) addrFor(c *ConnState, l ifmon.Link, is4 bool) (netip.Addr, bool) {
	if slices.Contains(l.Addrs, c.Local.Addr()) {
		return c.Local.Addr(), true
	}
	for _, a := range l.Addrs {
		if a.Is4() == is4 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}
