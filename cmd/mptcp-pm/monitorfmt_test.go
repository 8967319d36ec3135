package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

// monitorEvents are events as the 6.18 kernel sends them, and
// monitorGolden the lines iproute2 7.1 prints for each (ip/ipmptcp.c
// mptcp_monitor_msg, worked out from its source: the installed ip is
// older), text and -j.
var (
	monitorEvents = []genl.Event{
		(genl.Event{Type: genl.EventCreated, Token: 0x1f933907, Family: 2, Flags: genl.EventFlagServerSide,
			Local: netip.MustParseAddrPort("10.9.1.1:50010"), Remote: netip.MustParseAddrPort("10.9.1.2:36192")}).
			With(genl.AttrToken, genl.AttrFamily, genl.AttrLocID, genl.AttrRemID, genl.AttrSaddr4, genl.AttrDaddr4,
				genl.AttrSport, genl.AttrDport, genl.AttrFlags, genl.AttrServerSide),
		(genl.Event{Type: genl.EventEstablished, Token: 0xabcd, Family: 10, Flags: 7,
			Local: netip.MustParseAddrPort("[::ffff:10.9.1.2]:36192"), Remote: netip.MustParseAddrPort("[fd00::1]:5201")}).
			With(genl.AttrToken, genl.AttrFamily, genl.AttrLocID, genl.AttrRemID, genl.AttrSaddr6, genl.AttrDaddr6,
				genl.AttrSport, genl.AttrDport, genl.AttrFlags),
		(genl.Event{Type: genl.EventSubClosed, Token: 0x1f933907, Error: 111, Timeout: 5, IfIndex: 4, ResetReason: 1, ResetFlags: 1, Backup: true, LocID: 5, RemID: 2}).
			With(genl.AttrToken, genl.AttrLocID, genl.AttrRemID, genl.AttrBackup, genl.AttrError, genl.AttrTimeout,
				genl.AttrIfIdx, genl.AttrResetReason, genl.AttrResetFlags),
		(genl.Event{Type: genl.EventSubPriority, Token: 1, IfIndex: 99, Flags: genl.EventFlagDenyJoinID0}).
			With(genl.AttrToken, genl.AttrIfIdx, genl.AttrResetFlags, genl.AttrFlags),
		(genl.Event{Type: genl.EventListenerCreated, Family: 2, Local: netip.MustParseAddrPort("0.0.0.0:5201")}).
			With(genl.AttrFamily, genl.AttrSaddr4, genl.AttrSport),
		(genl.Event{Type: 20, Token: 1}).With(genl.AttrToken),
	}
	monitorGolden = []string{
		"[         CREATED] token=1f933907 remid=0 locid=0 saddr4=10.9.1.1 daddr4=10.9.1.2 sport=50010 dport=36192 server_side",
		"[     ESTABLISHED] token=0000abcd remid=0 locid=0 saddr6=::ffff:10.9.1.2 daddr6=fd00::1 sport=36192 dport=5201 server_side deny_join_id0 flags=0x4",
		"[       SF_CLOSED] token=1f933907 remid=2 locid=5 backup=1 error=111 timeout=5 ifindex=4 dev=wwan0 reset_reason=1 reset_flags=0x1",
		"[         SF_PRIO] token=00000001 ifindex=99 reset_flags=0 deny_join_id0",
		"[LISTENER_CREATED] saddr4=0.0.0.0 sport=5201",
		"[UNKNOWN 20]",
	}
	monitorGoldenJSON = []string{
		`{"event":"CREATED","token":"0x1f933907","remid":0,"locid":0,"saddr4":"10.9.1.1","daddr4":"10.9.1.2","sport":50010,"dport":36192,"server_side":true}`,
		`{"event":"ESTABLISHED","token":"0xabcd","remid":0,"locid":0,"saddr6":"::ffff:10.9.1.2","daddr6":"fd00::1","sport":36192,"dport":5201,"server_side":true,"deny_join_id0":true,"flags":"0x4"}`,
		`{"event":"SF_CLOSED","token":"0x1f933907","remid":2,"locid":5,"backup":1,"error":111,"timeout":5,"ifindex":4,"dev":"wwan0","reset_reason":1,"reset_flags":"0x1"}`,
		`{"event":"SF_PRIO","token":"0x1","ifindex":99,"reset_flags":"0","deny_join_id0":true}`,
		`{"event":"LISTENER_CREATED","saddr4":"0.0.0.0","sport":5201}`,
		`{"event":"UNKNOWN 20"}`,
	}
)

// monitorOutput runs `mptcp-pm args…` on a fake event source that
// delivers evs, with the clock at now, and returns what it printed.
func monitorOutput(t *testing.T, now time.Time, evs []genl.Event, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, _, _ := testEnv(&fakePM{}, nil)
	out := &syncBuffer{}
	e.ctx, e.stdout, e.now = ctx, out, func() time.Time { return now }
	src := &fakeEvents{evs: make(chan []genl.Event), deadline: make(chan struct{})}
	e.dialEvents = func(*env) (eventSource, error) { return src, nil }
	done := make(chan error, 1)
	go func() { done <- run(e, args) }()
	src.evs <- evs
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "\n") < len(evs) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("mptcp-pm %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestMonitorMatchesIproute2(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 123456789, time.UTC)
	lines := func(prefix, suffix string, ls []string) string {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(prefix + l + suffix + "\n")
		}
		return b.String()
	}
	withTime := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = `{"time":"2026-12-06T10:00:00.123456Z",` + l[1:]
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"monitor"}, lines("", "", monitorGolden)},
		{[]string{"-t", "monitor"}, lines("[2026-12-06T10:00:00.123456] ", "", monitorGolden)},
		{[]string{"-j", "monitor"}, lines("", "", withTime(monitorGoldenJSON))},
		{[]string{"-j", "-t", "monitor"}, lines("", "", withTime(monitorGoldenJSON))},
	} {
		got := monitorOutput(t, now, monitorEvents, tc.args...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("mptcp-pm %s (-want +got):\n%s", strings.Join(tc.args, " "), diff)
		}
	}
}

// TestMonitorJSONLegacy: --json-legacy keeps the JSON of genl.Event, with
// the time first.
func TestMonitorJSONLegacy(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.FixedZone("", 3600))
	ev := monitorEvents[0]
	want := `{"time":"2026-12-06T10:00:00.000000+01:00","type":"CREATED","token":"1f933907","family":2,"remid":0,"locid":0,` +
		`"saddr4":"10.9.1.1","daddr4":"10.9.1.2","sport":50010,"dport":36192,"flags":2,"server_side":true}` + "\n"
	if got := monitorOutput(t, now, []genl.Event{ev}, "-j", "monitor", "--json-legacy"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, args := range [][]string{{"monitor", "--json"}, {"monitor", "quality", "quality"}} {
		e, _, _ := testEnv(&fakePM{}, nil)
		if err := run(e, args); err == nil || !strings.Contains(err.Error(), "(expected quality, --json-legacy)") {
			t.Errorf("mptcp-pm %s: err %v, want an unknown argument", strings.Join(args, " "), err)
		}
	}
}

// BenchmarkMonitorFormat: the cost of one line of each output form.
func BenchmarkMonitorFormat(b *testing.B) {
	ev := monitorEvents[2] // SF_CLOSED, with dev=
	dev := func(int32) string { return "wwan0" }
	now := time.Now()
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			_ = eventText(&ev, dev)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			_ = eventJSON(&ev, dev, now)
		}
	})
	b.Run("json-legacy", func(b *testing.B) {
		for b.Loop() {
			j, _ := ev.MarshalJSON()
			_ = withTime(j, now)
		}
	})
}
