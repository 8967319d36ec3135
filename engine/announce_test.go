package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// toRemote counts the creations in as to remote.
func toRemote(as []Action, remote netip.AddrPort) int {
	n := 0
	for _, a := range as {
		if a.Kind == CreateSubflow && a.Remote == remote {
			n++
		}
	}
	return n
}

// The engine decides what becomes of a peer's announcement, and keeps
// those its policy does not take for a policy that does.
func TestPeerAnnounced(t *testing.T) {
	from := func(p *policy.Policy) {
		p.AcceptAnnouncements = true
		p.AnnouncementsFrom = []netip.Prefix{netip.MustParsePrefix("10.0.5.0/24")}
	}
	s := NewState(ifaces(true, false))
	s.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeAggregate, from), Established: true})

	r := s.Step(PeerAnnounced{EventBase: at(time.Second), Token: tok, RemID: 1, Remote: netip.MustParseAddrPort("127.0.0.1:5201")})
	if r.Announcement != AnnouncementRefused || r.Why != "loopback" || len(r.Actions) != 0 {
		t.Fatalf("loopback: %v %q %v", r.Announcement, r.Why, r.Actions)
	}
	r = s.Step(PeerAnnounced{EventBase: at(time.Second), Token: tok, RemID: 2, Remote: srvB})
	if r.Announcement != AnnouncementNotFrom || len(r.Actions) != 0 || r.Policy == nil {
		t.Fatalf("outside announcements_from: %v %v", r.Announcement, r.Actions)
	}
	// A reload to a policy that takes it: the address the peer announced
	// before is used.
	m := &matcher{p: pol(policy.ModeAggregate, func(p *policy.Policy) { p.AcceptAnnouncements = true })}
	r = s.Step(PoliciesChanged{EventBase: at(2 * time.Second), Match: m})
	if m.n != 1 || toRemote(r.Actions, srvB) != 1 {
		t.Fatalf("after the reload: %d matches, actions %v; want one creation to %s", m.n, r.Actions, srvB)
	}
	if c, _ := s.Conn(tok); c.Policy != m.p {
		t.Fatal("the reload did not give the connection its new policy")
	}
	r = s.Step(PeerAnnounced{EventBase: at(3 * time.Second), Token: tok, RemID: 3, Remote: netip.MustParseAddrPort("10.0.6.2:5201")})
	if r.Announcement != AnnouncementFollowed || toRemote(r.Actions, netip.MustParseAddrPort("10.0.6.2:5201")) != 1 {
		t.Fatalf("taken: %v %v", r.Announcement, r.Actions)
	}
	r = s.Step(PeerAnnounced{EventBase: at(3 * time.Second), Token: tok + 1, RemID: 3, Remote: srvB})
	if !r.Unknown || r.Announcement != 0 {
		t.Fatalf("unknown connection: %+v", r)
	}

	off := NewState(ifaces(true, false))
	off.Step(ConnCreated{EventBase: at(0), Token: tok, Local: initial, Remote: srv, Policy: pol(policy.ModeAggregate), Established: true})
	r = off.Step(PeerAnnounced{EventBase: at(time.Second), Token: tok, RemID: 2, Remote: srvB})
	if r.Announcement != AnnouncementOff || len(r.Actions) != 0 {
		t.Fatalf("accept_announcements off: %v %v", r.Announcement, r.Actions)
	}
}
