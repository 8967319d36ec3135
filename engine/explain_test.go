package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// explained is a PathUse in one line, for comparisons.
func explained(us []PathUse) []string {
	var out []string
	for _, u := range us {
		switch {
		case u.Used:
			out = append(out, u.Interface+" used "+u.Local.String()+" -> "+u.Remote.String()+" backup="+map[bool]string{true: "yes", false: "no"}[u.Backup]+": "+u.Why)
		default:
			out = append(out, u.Interface+": "+u.Why)
		}
	}
	return out
}

func TestExplainNew(t *testing.T) {
	lo := "lo: no address" // ifmon leaves loopback addresses out
	for _, tc := range []struct {
		name   string
		snap   ifmon.Snapshot
		p      *policy.Policy
		remote netip.AddrPort
		want   []string
	}{
		{"handover, both up", ifaces(true, true), pol(policy.ModeHandover), srv, []string{lo,
			"wlan0 used 10.0.1.2 -> 10.0.3.2:5201 backup=no: handover: preferred path wlan0",
			"wwan0: backup path: used only while no preferred path is usable"}},
		{"handover, Wi-Fi down", ifaces(false, true), pol(policy.ModeHandover), srv, []string{lo,
			"wlan0: down",
			"wwan0 used 10.0.2.2 -> 10.0.3.2:5201 backup=no: handover: no preferred path, backup wwan0"}},
		{"handover, Wi-Fi without address", ifaces(true, true, "wifi-noaddr"), pol(policy.ModeHandover), srv, []string{lo,
			"wlan0: no address",
			"wwan0 used 10.0.2.2 -> 10.0.3.2:5201 backup=no: handover: no preferred path, backup wwan0"}},
		{"handover over IPv6, wired has IPv4 only", ifaces(true, true, "wired"), pol(policy.ModeHandover), srv6, []string{lo,
			"wlan0 used fd00:1::2 -> [fd00:3::2]:5201 backup=no: handover: preferred path wlan0",
			"wwan0: backup path: used only while no preferred path is usable",
			"eth0: no IPv6 address (the connection is IPv6)"}},
		{"wired preferred first", ifaces(true, true, "wired"), pol(policy.ModeHandover, func(p *policy.Policy) {
			p.Paths.Prefer = []ifmon.Class{ifmon.ClassWired, ifmon.ClassWifi}
		}), srv, []string{lo,
			"wlan0: handover mode uses one path, and eth0 comes first",
			"wwan0: backup path: used only while no preferred path is usable",
			"eth0 used 192.168.7.2 -> 10.0.3.2:5201 backup=no: handover: preferred path eth0"}},
		{"aggregate, Wi-Fi only", ifaces(true, true), pol(policy.ModeAggregate, func(p *policy.Policy) {
			p.Paths = policy.Paths{Prefer: []ifmon.Class{ifmon.ClassWifi}}
		}), srv, []string{lo,
			"wlan0 used 10.0.1.2 -> 10.0.3.2:5201 backup=no: aggregate: every allowed path (wlan0)",
			"wwan0: class cellular is not among the paths of policy aggregate (prefer wifi)"}},
		{"single", ifaces(true, true), pol(policy.ModeSingle), srv, []string{
			lo,
			"wlan0: single mode: no subflow besides the first",
			"wwan0: single mode: no subflow besides the first"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(tc.snap)
			got := explained(s.ExplainNew(tc.p, netip.AddrPort{}, tc.remote, t0))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if s.Len() != 0 {
				t.Errorf("ExplainNew added a connection to the model")
			}
		})
	}
}

// TestExplainLeavesTheConnection checks that explaining a connection with
// a bad path says why and changes nothing: the same events then give the
// same actions as in a model nobody asked.
func TestExplainLeavesTheConnection(t *testing.T) {
	p := pol(policy.ModeHandover, func(p *policy.Policy) { p.Handover.HoldDown = time.Second })
	cellSub := netip.AddrPortFrom(cell4, 41000)
	ms := time.Millisecond
	events := append(established(p, 0),
		quality(100*ms, initial, 50*time.Microsecond, 0, 10, 0),
		quality(400*ms, initial, 50*time.Microsecond, 1, 12, 1),
		sfUp(401*ms, cellSub, srv, 1, false),
		SubflowDown{EventBase: at(402 * ms), Token: tok, Subflow: Subflow{Local: initial, Remote: srv}})
	asked, quiet := NewState(ifaces(true, true)), NewState(ifaces(true, true))
	for _, ev := range events {
		asked.Step(ev)
		quiet.Step(ev)
	}
	// Before the probe is due, and when it is (the decision marks a probe
	// started: on the copy only).
	for _, d := range []time.Duration{500 * ms, 1400 * ms} {
		got, ok := asked.Explain(tok, t0.Add(d))
		if !ok {
			t.Fatal("Explain: connection not found")
		}
		lines := strings.Join(explained(got), "\n")
		if !strings.Contains(lines, "wwan0 used 10.0.2.2 -> 10.0.3.2:5201 backup=no: handover: no preferred path, backup wwan0") {
			t.Errorf("at +%v: cellular not the path in use:\n%s", d, lines)
		}
		want := "wlan0: measured bad (rto); probed again in 900ms"
		if d == 1400*ms {
			want = "wlan0 used 10.0.1.2 -> 10.0.3.2:5201 backup=yes: handover: probing wlan0 (bad: rto)"
		}
		if !strings.Contains(lines, want) {
			t.Errorf("at +%v: no %q in:\n%s", d, want, lines)
		}
	}
	if _, ok := asked.Explain(0x1234, t0); ok {
		t.Error("Explain of an unknown token: found")
	}
	for _, ev := range []Event{Tick{EventBase: at(1400 * ms)}, sfUp(1401*ms, netip.AddrPortFrom(wifi4, 42000), srv, 0, false),
		quality(1402*ms, netip.AddrPortFrom(wifi4, 42000), 60*time.Microsecond, 0, 0, 0), Tick{EventBase: at(2402 * ms)}} {
		a, b := fmtActions(asked.Step(ev).Actions), fmtActions(quiet.Step(ev).Actions)
		if diff := cmp.Diff(b, a); diff != "" {
			t.Errorf("%T at %v: the explained model acts differently (-quiet +asked):\n%s", ev, ev.at().Sub(t0), diff)
		}
	}
}
