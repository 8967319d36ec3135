package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// The per-connection limits of the engine (CreateBurst, CreateInterval,
// MaxSubflows) against storms of input, with a fake kernel that answers
// every command at once and successfully: nothing but the limits keeps
// the creations down.

// fakeKernel plays the kernel for the engine: it tracks each connection's
// subflows and answers creations with SF_ESTABLISHED and destructions
// with SF_CLOSED.
type fakeKernel struct {
	s        *State
	port     uint16
	creates  map[uint32][]time.Time // creation times by token, rescues left out
	rescues  map[uint32][]time.Time // rescue creation times by token (survive.go)
	maxSubs  map[uint32]int         // most subflows a connection had
	subflows map[uint32]map[[2]netip.AddrPort]uint8
	wake     time.Time
}

func newFakeKernel(s *State) *fakeKernel {
	return &fakeKernel{s: s, port: 50000, creates: map[uint32][]time.Time{}, rescues: map[uint32][]time.Time{}, maxSubs: map[uint32]int{},
		subflows: map[uint32]map[[2]netip.AddrPort]uint8{}}
}

// step feeds ev to the engine and answers its actions, and the actions
// that follow, until none is left.
func (k *fakeKernel) step(t *testing.T, ev Event) {
	t.Helper()
	queue := []Event{ev}
	for i := 0; i < len(queue); i++ {
		if i > 10000 {
			t.Fatal("the engine does not settle: more than 10000 follow-up events")
		}
		actions, wake := aw(k.s.Step(queue[i]))
		if !wake.IsZero() {
			k.wake = wake
		}
		now := queue[i].at()
		for _, a := range actions {
			switch a.Kind {
			case CreateSubflow:
				if strings.HasPrefix(a.Reason, rescueReason) {
					k.rescues[a.Token] = append(k.rescues[a.Token], now)
				} else {
					k.creates[a.Token] = append(k.creates[a.Token], now)
				}
				k.port++
				sf := Subflow{Local: netip.AddrPortFrom(a.Local.Addr(), k.port), Remote: a.Remote, LocID: a.ID}
				k.add(a.Token, sf)
				queue = append(queue, SubflowUp{EventBase: EventBase{At: now}, Token: a.Token, Subflow: sf})
			case DestroySubflow:
				queue = append(queue, k.down(a.Token, a.Local, a.Remote, now)...)
			case SetBackup:
				queue = append(queue, ActionDone{EventBase: EventBase{At: now}, Action: a})
			}
		}
	}
}

func (k *fakeKernel) add(token uint32, sf Subflow) {
	if k.subflows[token] == nil {
		k.subflows[token] = map[[2]netip.AddrPort]uint8{}
	}
	k.subflows[token][[2]netip.AddrPort{sf.Local, sf.Remote}] = sf.LocID
	k.maxSubs[token] = max(k.maxSubs[token], len(k.subflows[token]))
}

// down closes a subflow (or those of a remote address, if local is not
// valid) and returns their SF_CLOSED events.
func (k *fakeKernel) down(token uint32, local, remote netip.AddrPort, now time.Time) []Event {
	var out []Event
	for p, id := range k.subflows[token] {
		if (local.IsValid() && p[0] != local) || p[1] != remote {
			continue
		}
		delete(k.subflows[token], p)
		out = append(out, SubflowDown{EventBase: EventBase{At: now}, Token: token, Subflow: Subflow{Local: p[0], Remote: p[1], LocID: id}})
	}
	return out
}

// tick delivers the wake-ups the engine asked for, up to until.
func (k *fakeKernel) tick(t *testing.T, until time.Time) {
	t.Helper()
	for !k.wake.IsZero() && !k.wake.After(until) {
		w := k.wake
		k.wake = time.Time{}
		k.step(t, Tick{EventBase: EventBase{At: w}})
	}
}

// checkRate fails unless every span of the creations respects the limit:
// n creations from t_i to t_j need (n - CreateBurst) intervals between.
func checkRate(t *testing.T, times []time.Time) {
	t.Helper()
	checkPace(t, "creations", times, CreateBurst, CreateInterval)
}

// checkRescues is checkRate for the rescues of stranded connections
// (survive.go), which have a pace of their own.
func checkRescues(t *testing.T, times []time.Time) {
	t.Helper()
	checkPace(t, "rescues", times, RescueBurst, rescueMax)
}

func checkPace(t *testing.T, what string, times []time.Time, burst int, interval time.Duration) {
	t.Helper()
	for i := range times {
		for j := i; j < len(times); j++ {
			n := j - i + 1
			if span := times[j].Sub(times[i]); n > burst+int(span/interval) {
				t.Fatalf("%d %s in %v (from %d at +%v): the limit allows %d", n, what, span, i, times[i].Sub(t0),
					burst+int(span/interval))
			}
		}
	}
}

func TestCreateRateLimit(t *testing.T) {
	cellInitial := netip.AddrPortFrom(cell4, 40000)
	const storm = 5 * time.Second
	for _, tc := range []struct {
		name string
		mode policy.Mode
		// input is the storm's i-th event at time at (every 5 ms); the
		// kernel fake k answers it.
		input func(k *fakeKernel, i int, at time.Time) []Event
		// final is what the connection must have once the storm is over
		// and the wake-ups have run: its subflows, by local address.
		final []netip.Addr
	}{
		{
			name: "interfaces flap, interactive",
			mode: policy.ModeInteractive,
			input: func(_ *fakeKernel, i int, at time.Time) []Event {
				return []Event{InterfacesChanged{EventBase: EventBase{At: at}, Ifaces: ifaces(i%2 == 1, true)}}
			},
			final: []netip.Addr{wifi4, cell4},
		},
		{
			name: "interfaces flap, handover",
			mode: policy.ModeHandover,
			input: func(_ *fakeKernel, i int, at time.Time) []Event {
				// The connection starts on cellular; Wi-Fi, preferred,
				// flaps: every time it is up past the hold-down it is
				// wanted again.
				return []Event{InterfacesChanged{EventBase: EventBase{At: at}, Ifaces: ifaces(i%40 >= 20, true)}}
			},
			final: []netip.Addr{wifi4},
		},
		{
			name: "peer resets every join",
			mode: policy.ModeAggregate,
			input: func(k *fakeKernel, _ int, at time.Time) []Event {
				// SF_CLOSED, no error, for every subflow of the
				// connection but the initial one: each had been up, so no
				// back-off applies.
				var out []Event
				for p := range k.subflows[tok] {
					if p[0] != cellInitial {
						out = append(out, k.down(tok, p[0], p[1], at)...)
					}
				}
				return out
			},
			final: []netip.Addr{wifi4, cell4},
		},
		{
			name: "peer announces and removes",
			mode: policy.ModeAggregate,
			input: func(k *fakeKernel, i int, at time.Time) []Event {
				id := uint8(1 + i%255)
				r := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i % 7), id}), 5201)
				if i%2 == 1 {
					// The peer's REMOVE_ADDR: the kernel closes the
					// subflows to it, then reports REMOVED.
					prev := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte((i - 1) % 7), uint8(1 + (i-1)%255)}), 5201)
					return append(k.down(tok, netip.AddrPort{}, prev, at),
						PeerRemoved{EventBase: EventBase{At: at}, Token: tok, RemID: uint8(1 + (i-1)%255)})
				}
				return []Event{PeerAnnounced{EventBase: EventBase{At: at}, Token: tok, RemID: id, Remote: r}}
			},
			final: []netip.Addr{wifi4, cell4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pol(tc.mode, func(p *policy.Policy) { p.AcceptAnnouncements = true; p.Handover.HoldDown = 50 * time.Millisecond })
			s := NewState(ifaces(true, true))
			k := newFakeKernel(s)
			k.add(tok, Subflow{Local: cellInitial, Remote: srv})
			k.step(t, ConnCreated{EventBase: at(0), Token: tok, Local: cellInitial, Remote: srv, Policy: p, Established: true})
			n := int(storm / (5 * time.Millisecond))
			for i := range n {
				now := t0.Add(time.Duration(i+1) * 5 * time.Millisecond)
				k.tick(t, now)
				for _, ev := range tc.input(k, i, now) {
					k.step(t, ev)
				}
			}
			end := t0.Add(storm + 5*time.Millisecond)
			during := len(k.creates[tok])
			checkRate(t, k.creates[tok])
			checkRescues(t, k.rescues[tok])
			if limit := CreateBurst + int(storm/CreateInterval) + 1; during > limit {
				t.Errorf("%d creations in the %v storm, limit %d", during, storm, limit)
			}
			// After the storm the engine converges on its own wake-ups.
			k.tick(t, end.Add(time.Minute))
			checkRate(t, k.creates[tok])
			var got []netip.Addr
			for p := range k.subflows[tok] {
				got = append(got, p[0].Addr())
			}
			if fmt.Sprint(sorted(got)) != fmt.Sprint(tc.final) {
				t.Errorf("after the storm the kernel has subflows from %v, want %v", sorted(got), tc.final)
			}
			c := s.conns[tok]
			if len(c.Subflows) != len(k.subflows[tok]) {
				t.Errorf("the engine sees %d subflows, the kernel has %d", len(c.Subflows), len(k.subflows[tok]))
			}
			if k.maxSubs[tok] > MaxSubflows {
				t.Errorf("the connection had %d subflows at once, cap %d", k.maxSubs[tok], MaxSubflows)
			}
			t.Logf("%d creations during the storm, %d in all, and %d rescues", during, len(k.creates[tok]), len(k.rescues[tok]))
		})
	}
}

func sorted(as []netip.Addr) []netip.Addr {
	out := append([]netip.Addr(nil), as...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Less(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestCreateRateLimitWake: a creation the limit defers comes with a
// wake-up at the time the bucket allows it, and happens then.
func TestCreateRateLimitWake(t *testing.T) {
	p := pol(policy.ModeAggregate, func(p *policy.Policy) { p.AcceptAnnouncements = true })
	remote := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), 5201)
	}
	steps := []step{{ev: ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true}}}
	// One path (Wi-Fi): each announcement wants a subflow. The first
	// CreateBurst go at once...
	for i := 1; i <= CreateBurst; i++ {
		steps = append(steps, step{ev: PeerAnnounced{EventBase: at(0), Token: tok, RemID: uint8(i), Remote: remote(i)},
			want: []string{fmt.Sprintf("create 10.0.1.2 if3 id 0 -> %s backup=false", remote(i))}})
	}
	// ...the next waits one interval, asked for as a wake-up.
	steps = append(steps,
		step{ev: PeerAnnounced{EventBase: at(0), Token: tok, RemID: CreateBurst + 1, Remote: remote(CreateBurst + 1)}, wake: CreateInterval},
		step{ev: Tick{EventBase: at(CreateInterval - time.Millisecond)}, wake: CreateInterval},
		step{ev: Tick{EventBase: at(CreateInterval)},
			want: []string{fmt.Sprintf("create 10.0.1.2 if3 id 0 -> %s backup=false", remote(CreateBurst+1))}, wake: pendingTimeout},
	)
	run(t, ifaces(true, false), steps)
}

// TestMaxSubflows: a peer announcing 255 addresses gets no more than
// MaxSubflows subflows per connection, from every path, its own address
// first; and the engine's memory of the connection stays bounded.
func TestMaxSubflows(t *testing.T) {
	p := pol(policy.ModeAggregate, func(p *policy.Policy) { p.AcceptAnnouncements = true })
	s := NewState(ifaces(true, true))
	k := newFakeKernel(s)
	k.add(tok, Subflow{Local: initial, Remote: srv})
	k.step(t, ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true})
	for round := range 4 {
		for id := 1; id <= 255; id++ {
			now := t0.Add(time.Duration(round)*time.Minute + time.Duration(id)*time.Millisecond)
			k.tick(t, now)
			r := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(round), byte(id)}), 0)
			k.step(t, PeerAnnounced{EventBase: EventBase{At: now}, Token: tok, RemID: uint8(id), Remote: r})
		}
		k.tick(t, t0.Add(time.Duration(round+1)*time.Minute-time.Second))
	}
	c := s.conns[tok]
	if k.maxSubs[tok] > MaxSubflows || len(c.Subflows) > MaxSubflows {
		t.Errorf("up to %d subflows in the kernel, %d in the engine; cap %d", k.maxSubs[tok], len(c.Subflows), MaxSubflows)
	}
	if len(c.Subflows) != MaxSubflows {
		t.Errorf("with 255 announcements and two paths the connection has %d subflows, want the cap, %d", len(c.Subflows), MaxSubflows)
	}
	// The connection's own remote is kept from both paths.
	own := 0
	for _, sf := range c.Subflows {
		if sf.Remote == srv {
			own++
		}
	}
	if own != 2 {
		t.Errorf("%d subflows to the connection's own remote %s, want 2 (one per path): %v", own, srv, c.Subflows)
	}
	if len(c.Announced) > 255 || len(c.pending) > MaxSubflows || len(c.backoff) > MaxSubflows || len(c.closing) > MaxSubflows {
		t.Errorf("memory of the connection: %d announced, %d pending, %d back-offs, %d closing",
			len(c.Announced), len(c.pending), len(c.backoff), len(c.closing))
	}
}

// TestClosedBeforeEstablished: the kernel reports a connection that
// closes at once as CREATED, CLOSED, ESTABLISHED; the late ESTABLISHED
// (which the daemon turns into ConnCreated, the token being unknown) must
// not bring it back. A dump's adoption still does.
func TestClosedBeforeEstablished(t *testing.T) {
	p := pol(policy.ModeInteractive)
	s := NewState(ifaces(true, true))
	steps := []Event{
		ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: p},
		ConnClosed{EventBase: at(time.Millisecond), Token: tok},
		ConnCreated{EventBase: at(2 * time.Millisecond), Token: tok, Local: initial, Remote: srv, Policy: p, Established: true},
	}
	for i, ev := range steps {
		if as, wake := aw(s.Step(ev)); len(as) != 0 || !wake.IsZero() {
			t.Fatalf("step %d: %v, wake %v", i, as, wake)
		}
	}
	if len(s.conns) != 0 {
		t.Fatalf("a closed connection came back: %v", s.conns)
	}
	as, _ := aw(s.Step(ConnCreated{EventBase: at(3 * time.Millisecond), Token: tok, Local: initial, Remote: srv, Policy: p,
		Established: true, Subflows: []Subflow{{Local: initial, Remote: srv}}}))
	if len(s.conns) != 1 || len(as) != 1 {
		t.Errorf("adoption from a dump after a close: %d connections, actions %v", len(s.conns), as)
	}
	// Tombstones are forgotten.
	for i := range 100 {
		s.Step(ConnClosed{EventBase: at(time.Duration(i) * time.Second), Token: uint32(i)})
	}
	if len(s.closed) > 21 {
		t.Errorf("%d closed tokens remembered", len(s.closed))
	}
}
