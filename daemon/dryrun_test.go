package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// TestDryRunKeepsTheKernelsView: in a dry run a command is logged as
// "would …", counted nowhere, and given back to the engine as not done: a
// backup flag never sent is not taken for set.
func TestDryRunKeepsTheKernelsView(t *testing.T) {
	var logb bytes.Buffer
	ex := &executor{out: make(chan result, 16), do: func(int, engine.Action) error { return errNotSent }}
	for range workers {
		ex.in = append(ex.in, make(chan job, 16))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex.run(ctx)
	wifi, cell := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logb, nil)), exec: ex, ctx: ctx, inflight: map[inflightKey]bool{},
		handovers: map[handoverKey]time.Time{}, matched: map[uint32]matchInfo{}, timer: time.NewTimer(time.Hour),
		announceLog: newRateLog[uint32](announceLogBurst, announceLogInterval),
		state: engine.NewState(ifmon.Snapshot{Links: []ifmon.Link{
			{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: []netip.Addr{wifi}},
			{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: []netip.Addr{cell}},
		}})}
	p := &policy.Policy{Name: "voice", Mode: policy.ModeHandover, Paths: policy.DefaultPaths, Handover: policy.DefaultHandover}
	p.Handover.WarmStandby = true
	srv := netip.MustParseAddrPort("10.0.3.2:5201")
	wlan, wwan := netip.AddrPortFrom(wifi, 40000), netip.AddrPortFrom(cell, 41000)
	// Adopted with two active subflows: the warm standby on cellular
	// must become a backup.
	r := d.step(engine.ConnCreated{EventBase: engine.EventBase{At: time.Now()}, Token: 7, Local: wlan, Remote: srv, Established: true,
		Policy: p, Subflows: []engine.Subflow{{Local: wlan, Remote: srv}, {Local: wwan, Remote: srv, LocID: 1}}})
	if len(r.Actions) != 1 || r.Actions[0].Kind != engine.SetBackup {
		t.Fatalf("actions %v, want one set-backup", r.Actions)
	}
	select {
	case res := <-ex.out:
		d.handleResult(res)
	case <-time.After(5 * time.Second):
		t.Fatal("no result from the worker")
	}
	v, _ := d.state.Conn(7)
	for _, sf := range v.Subflows {
		if sf.Backup {
			t.Errorf("the engine took the flag never sent for set: %+v", v.Subflows)
		}
	}
	if !strings.Contains(logb.String(), `msg="would set-backup" action="set-backup token 00000007 10.0.2.2:41000 -> 10.0.3.2:5201 backup=true`) {
		t.Errorf("no would line in the log:\n%s", logb.String())
	}
	if d.commands != 0 || d.refused != 0 || len(d.inflight) != 0 {
		t.Errorf("commands %d refused %d in flight %d, want none", d.commands, d.refused, len(d.inflight))
	}
}
