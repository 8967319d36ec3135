package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// openDecisions subscribes to the daemon's decisions; the stream is closed
// at cleanup.
func openDecisions(t *testing.T, d *daemonProc) *control.DecisionStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := control.OpenDecisions(ctx, d.control, 0)
	if err != nil {
		cancel()
		t.Fatalf("decisions: %v", err)
	}
	t.Cleanup(func() { cancel(); s.Close() })
	return s
}

// nextDecision reads decisions until one meets pred, failing the test
// after 10 s; it returns that one and those before.
func nextDecision(t *testing.T, s *control.DecisionStream, pred func(control.Decision) bool) (control.Decision, []control.Decision) {
	t.Helper()
	type res struct {
		d   control.Decision
		err error
	}
	var seen []control.Decision
	deadline := time.After(10 * time.Second)
	for {
		c := make(chan res, 1)
		go func() { d, err := s.Next(); c <- res{d, err} }()
		select {
		case r := <-c:
			if r.err != nil {
				t.Fatalf("decisions: %v (after %+v)", r.err, seen)
			}
			if pred(r.d) {
				return r.d, seen
			}
			seen = append(seen, r.d)
		case <-deadline:
			s.Close()
			t.Fatalf("no such decision within 10 s; seen: %+v", seen)
		}
	}
}

// denyOthers checks that the daemon itself refuses the decisions to a
// user who is neither root nor in the control group (the socket is made
// world-writable for the test, so that its mode does not refuse first).
func denyOthers(t *testing.T, d *daemonProc) {
	t.Helper()
	for dir := filepath.Dir(d.control); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(d.control, 0o666); err != nil {
		t.Fatal(err)
	}
	// Let in, the monitor would read until killed: the watchdog kills it
	// (exit -1) instead of letting the test hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "monitor", "decisions", "--control", d.control)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65533, Gid: 65533, Groups: []uint32{}}}
	want := "mptcp-pm: daemon: permission denied: decisions needs root or the control group\n"
	if r := runCmd(t, cmd, "monitor decisions as 65533"); r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("decisions as another user: exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
	}
}

// The decision stream shows a connection's policy, then, when its Wi-Fi
// link goes down, the handover from wlan0 to wwan0 with its reason and
// the time it took.
func TestIntegrationDecisionsHandoverLinkDown(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	denyOthers(t, d)
	s := openDecisions(t, d)
	st := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	local := st.conn.LocalAddr().String()
	pol, _ := nextDecision(t, s, func(dec control.Decision) bool { return dec.Kind == control.DecisionPolicy })
	if pol.Local != local || pol.Policy != "default" || pol.Mode != "handover" || pol.Token == "" {
		t.Fatalf("policy decision %+v, want the stream's connection from %s, policy default, mode handover", pol, local)
	}
	d.conn(st.conn.LocalAddr(), activeOn("wlan0"))

	tb.Impair(t, testbed.PathWifi, "cut")
	ho, _ := nextDecision(t, s, func(dec control.Decision) bool { return dec.Kind == control.DecisionHandover })
	if ho.Token != pol.Token || ho.From != "wlan0" || ho.To != "wwan0" || ho.Reason != "wlan0 link down" {
		t.Errorf("handover decision %+v, want token %s from wlan0 to wwan0 because wlan0 link down", ho, pol.Token)
	}
	if ho.TookMS <= 0 || ho.Time.IsZero() {
		t.Errorf("handover decision %+v: no time taken or no time", ho)
	}
	// The subflow left on the dead path is closed.
	cl, _ := nextDecision(t, s, func(dec control.Decision) bool {
		return dec.Kind == control.DecisionClose && dec.Token == pol.Token
	})
	t.Logf("handover: %s; then: %s", ho, cl)
	st.wait(t)
}

// A reader that does not read does not hold the daemon up: the daemon
// takes in every connection and answers status meanwhile, and the reader
// is told, once it reads, how many decisions it lost.
func TestIntegrationDecisionsSlowReader(t *testing.T) {
	t.Parallel()
	const conns = 400
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tb, d, ms := newDaemonBedWith(t, "default: { mode: single }\n", nil, "--metrics", addr)
	// The server's monitor sees every connection: its buffer of 1,024
	// events must not fill, or it cannot stop.
	go func() {
		for range ms.events {
		}
	}()
	// A raw subscription, never read until the connections are in.
	c, err := net.Dial("unix", d.control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := json.NewEncoder(c).Encode(control.Request{Query: control.QueryDecisions}); err != nil {
		t.Fatal(err)
	}
	// Its answer comes once subscribed.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 3)
	if _, err := io.ReadFull(c, ack); err != nil || string(ack) != "{}\n" {
		t.Fatalf("subscription answer %q, %v", ack, err)
	}
	// Each connection is one decision (its policy).
	for range conns {
		dialMPTCP(t, tb.Client, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	}
	var st *control.Status
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st = d.status(); st.ConnectionCount >= conns {
			break
		}
	}
	if st.ConnectionCount < conns {
		t.Fatalf("the daemon has %d connections of %d: the stuck reader held it up", st.ConnectionCount, conns)
	}
	// Now read: the stream says how many were dropped.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(c)
	got := 0
	for {
		var x control.Decision
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("after %d decisions: %v", got, err)
		}
		if x.Kind == control.DecisionDropped {
			if x.Dropped == 0 || x.DroppedTotal < x.Dropped || got+int(x.DroppedTotal) > conns {
				t.Errorf("dropped line %+v after %d decisions, of %d made", x, got, conns)
			}
			t.Logf("read %d decisions, then: %s", got, x)
			if m := scrapeMetrics(t, addr).value("mptcp_pm_decisions_dropped_total"); m < float64(x.DroppedTotal) {
				t.Errorf("mptcp_pm_decisions_dropped_total = %v, want at least %d", m, x.DroppedTotal)
			}
			return
		}
		if x.Kind == control.DecisionPolicy {
			got++
		}
		if got == conns {
			t.Fatal("every decision was delivered: the reader was not slow enough to prove anything")
		}
	}
}

// A dry run streams the handover it would make, marked as not sent.
func TestIntegrationDecisionsDryRun(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBedWith(t, handoverConfig, nil, "--dry-run")
	s := openDecisions(t, d)
	st := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	c := d.conn(st.conn.LocalAddr(), activeOn("wlan0"))
	tb.Impair(t, testbed.PathWifi, "cut")
	ho, seen := nextDecision(t, s, func(dec control.Decision) bool { return dec.Kind == control.DecisionHandover })
	if ho.Token != c.Token || !ho.DryRun || ho.From != "wlan0" || ho.To != "wwan0" || ho.Reason != "wlan0 link down" || ho.TookMS != 0 {
		t.Errorf("dry-run handover %+v, want token %s from wlan0 to wwan0 because wlan0 link down, not sent", ho, c.Token)
	}
	for _, dec := range append(seen, ho) {
		if !dec.DryRun {
			t.Errorf("a decision of a dry run not marked so: %+v", dec)
		}
	}
	t.Logf("dry run: %s", ho)
}
