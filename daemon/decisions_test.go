package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// decisionDaemon is a daemon with a connection on wlan0 (down) and
// wwan0 (up), enough for the decisions to name them.
func decisionDaemon(t testing.TB) (*Daemon, engine.Action) {
	t.Helper()
	wifi, cell := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
	snap := ifmon.Snapshot{Links: []ifmon.Link{
		{Index: 2, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{wifi}},
		{Index: 3, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{cell}},
	}}
	d := &Daemon{state: engine.NewState(snap), dec: newDecisionHub(nil, false)}
	remote := netip.MustParseAddrPort("10.0.3.2:7000")
	d.state.Step(engine.ConnCreated{EventBase: engine.EventBase{At: time.Now()}, Token: 7,
		Local: netip.AddrPortFrom(wifi, 40000), Remote: remote, Established: true,
		Policy:   &policy.Policy{Name: "voice", Mode: policy.ModeHandover},
		Subflows: []engine.Subflow{{Local: netip.AddrPortFrom(wifi, 40000), Remote: remote}}})
	snap.Links[0].Up = false
	d.state.Step(engine.InterfacesChanged{EventBase: engine.EventBase{At: time.Now()}, Ifaces: snap})
	a := engine.Action{Kind: engine.CreateSubflow, Token: 7, Local: netip.AddrPortFrom(cell, 0), ID: 1, IfIndex: 3,
		Remote: remote, Reason: "handover: no preferred path, backup wwan0"}
	return d, a
}

// With nobody reading, a decision costs the loop no allocation.
func TestDecisionsCostNothingUnread(t *testing.T) {
	d, a := decisionDaemon(t)
	err := &genl.Error{Op: "create subflow", Message: "invalid token", Err: errors.New("x")}
	p := &policy.Policy{Name: "voice", Mode: policy.ModeHandover}
	now := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		_ = d.newHandover(a, now)
		d.decided(a, false)
		d.refusedDecision(a, err, now)
		d.policyDecision(7, policy.Conn{}, p)
		d.handoverDecision(7, a.Local.Addr(), handover{asked: now}, now)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decision with no reader, want 0", allocs)
	}
}

// A handover names the interface left, the one taken and why; a refusal
// keeps the kernel's extended ack.
func TestDecisionsDescribe(t *testing.T) {
	d, a := decisionDaemon(t)
	sub, err := d.dec.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	h := d.newHandover(a, asked)
	d.handoverDecision(7, a.Local.Addr(), h, asked.Add(3*time.Millisecond))
	got := <-sub.c
	want := control.Decision{Time: got.Time, Kind: control.DecisionHandover, Token: "00000007", From: "wlan0", To: "wwan0",
		Local: "10.0.2.2", Reason: "wlan0 link down", TookMS: 3}
	if got != want {
		t.Errorf("handover:\n got %+v\nwant %+v", got, want)
	}
	d.refusedDecision(a, &genl.Error{Op: "create subflow", Message: "invalid token", Err: errors.New("invalid argument")}, asked)
	if got := <-sub.c; got.Kind != control.DecisionRefused || got.ExtAck != "invalid token" || got.Action != a.String() {
		t.Errorf("refused: %+v", got)
	}
	a.Probe, a.Backup = true, true
	d.decided(a, false)
	if got := <-sub.c; got.Kind != control.DecisionProbe || got.To != "wwan0" {
		t.Errorf("probe: %+v", got)
	}
	d.decided(engine.Action{Kind: engine.SetBackup, Token: 7, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Backup: true}, false)
	if got := <-sub.c; got.Kind != control.DecisionDemote || got.From != "wlan0" {
		t.Errorf("demote: %+v", got)
	}
}

// A reader that does not read loses decisions beyond its buffer, counted;
// publishing never waits for it.
func TestDecisionsSlowReader(t *testing.T) {
	h := newDecisionHub(nil, false)
	slow, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	got := 0
	go func() {
		defer close(done)
		for range fast.c {
			got++
		}
	}()
	const n = decisionBuffer + 100
	for range n {
		h.publish(control.Decision{Kind: control.DecisionOpen})
	}
	h.unsubscribe(fast)
	close(fast.c)
	<-done
	if d := slow.dropped.Load(); d != 100 {
		t.Errorf("the slow reader dropped %d, want 100", d)
	}
	if len(slow.c) != decisionBuffer {
		t.Errorf("the slow reader has %d waiting, want %d", len(slow.c), decisionBuffer)
	}
	if got+int(fast.dropped.Load()) != n {
		t.Errorf("the fast reader got %d and dropped %d of %d", got, fast.dropped.Load(), n)
	}
	for range maxDecisionReaders - 1 {
		if _, err := h.subscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.subscribe(); err == nil {
		t.Errorf("reader %d was accepted, want at most %d", maxDecisionReaders+1, maxDecisionReaders)
	}
}

// A warm standby promoted in handover mode is a handover, told once the
// kernel has done it.
func TestDecisionsPromotion(t *testing.T) {
	d, _ := decisionDaemon(t)
	sub, err := d.dec.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	standby := engine.Subflow{Local: netip.MustParseAddrPort("10.0.2.2:40001"), Remote: netip.MustParseAddrPort("10.0.3.2:7000"), LocID: 1, Backup: true}
	d.state.Step(engine.SubflowUp{EventBase: engine.EventBase{At: time.Now()}, Token: 7, Subflow: standby})
	a := engine.Action{Kind: engine.SetBackup, Token: 7, Local: standby.Local, Remote: standby.Remote, Reason: "handover: no preferred path, backup wwan0"}
	d.decided(a, false)
	if len(sub.c) != 0 {
		t.Fatalf("a promotion told before it is done: %+v", <-sub.c)
	}
	d.doneDecision(a, time.Now())
	if got := <-sub.c; got.Kind != control.DecisionHandover || got.From != "wlan0" || got.To != "wwan0" || got.Reason != "wlan0 link down" {
		t.Errorf("promotion: %+v", got)
	}
	if len(d.dec.promotions) != 0 {
		t.Errorf("promotions left: %v", d.dec.promotions)
	}
}

// BenchmarkDecision is what one decision (a subflow opened) costs the
// loop with nobody reading, and with one reader that keeps up.
func BenchmarkDecision(b *testing.B) {
	for _, readers := range []int{0, 1} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			d, a := decisionDaemon(b)
			for range readers {
				s, err := d.dec.subscribe()
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for range s.c {
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				d.decided(a, false)
			}
		})
	}
}

// In a dry run every decision says it was not sent, and a handover is
// told when its command comes back not sent.
func TestDecisionsDryRun(t *testing.T) {
	d, a := decisionDaemon(t)
	d.dec.dryRun = true
	d.handovers = map[handoverKey]handover{}
	sub, err := d.dec.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	d.handovers[handoverKey{a.Token, a.Local.Addr()}] = d.newHandover(a, time.Now())
	d.wouldMove(a)
	got := <-sub.c
	if got.Kind != control.DecisionHandover || !got.DryRun || got.From != "wlan0" || got.To != "wwan0" || got.TookMS != 0 {
		t.Errorf("dry-run handover: %+v", got)
	}
	if s := got.String(); s != "would handover token 00000007 wlan0 -> wwan0: wlan0 link down" {
		t.Errorf("dry-run handover prints %q", s)
	}
	d.decided(engine.Action{Kind: engine.DestroySubflow, Token: 7, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:7000")}, false)
	if got := <-sub.c; got.Kind != control.DecisionClose || !got.DryRun {
		t.Errorf("dry-run close: %+v", got)
	}
}
