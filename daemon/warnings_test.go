package daemon

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

func TestConfigWarnings(t *testing.T) {
	addr := []netip.Addr{netip.MustParseAddr("10.0.1.2")}
	wifi := ifmon.Link{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi, Up: true, Addrs: addr}
	cell := ifmon.Link{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular, Up: true, Addrs: addr}
	cellDown := ifmon.Link{Index: 4, Name: "wwan0", Class: ifmon.ClassCellular}
	wired := ifmon.Link{Index: 5, Name: "eth0", Class: ifmon.ClassWired, Up: true, Addrs: addr}
	pol := func(name string, mode policy.Mode) *policy.Policy {
		return &policy.Policy{Name: name, Mode: mode, Paths: policy.DefaultPaths}
	}
	set := func(ps ...*policy.Policy) *policy.Set {
		return &policy.Set{Config: &policy.Config{Default: *pol("default", policy.ModeSingle)}, Policies: ps}
	}
	for _, tc := range []struct {
		name  string
		set   *policy.Set
		links []ifmon.Link
		want  []string
	}{
		{"handover, every class there", set(pol("voice", policy.ModeHandover)), []ifmon.Link{wifi, cell}, nil},
		{"handover without cellular", set(pol("voice", policy.ModeHandover)), []ifmon.Link{wifi, wired},
			[]string{"handover policy voice has no interface of class cellular: no backup path"}},
		{"handover, cellular down", set(pol("voice", policy.ModeHandover)), []ifmon.Link{wifi, cellDown},
			[]string{"handover policy voice: wwan0 down or without an address: no backup path now"}},
		{"handover on cellular only", set(pol("voice", policy.ModeHandover)), []ifmon.Link{cell},
			[]string{"handover policy voice has no interface of class wifi or wired: it always runs on a backup path"}},
		{"nothing usable", set(pol("bulk", policy.ModeAggregate)), []ifmon.Link{cellDown},
			[]string{"aggregate policy bulk has no usable interface of class wifi, wired or cellular: its connections get no subflow from mptcp-pm"}},
		{"one path", set(pol("bulk", policy.ModeAggregate)), []ifmon.Link{wifi, cellDown},
			[]string{"aggregate policy bulk can use wlan0 only: one path"}},
		{"handover: nothing usable, and a class missing", set(&policy.Policy{Name: "video", Mode: policy.ModeHandover,
			Paths: policy.Paths{Prefer: []ifmon.Class{ifmon.ClassWifi}, Backup: []ifmon.Class{ifmon.ClassWired}}}),
			[]ifmon.Link{{Index: 3, Name: "wlan0", Class: ifmon.ClassWifi}, cell},
			[]string{"handover policy video has no usable interface of class wifi or wired: its connections get no subflow from mptcp-pm",
				"handover policy video has no interface of class wired: no backup path"}},
		{"the default too; single mode never", &policy.Set{Config: &policy.Config{Default: *pol("default", policy.ModeHandover)},
			Policies: []*policy.Policy{pol("ssh", policy.ModeSingle)}}, []ifmon.Link{wifi},
			[]string{"handover policy default has no interface of class cellular: no backup path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := configWarnings(tc.set, ifmon.Snapshot{Links: tc.links})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if w := pmTypeWarning("0", false); w == "" {
		t.Error("pm_type 0: no warning")
	}
	for _, c := range []struct {
		v  string
		dr bool
	}{{"1", false}, {"", false}, {"0", true}} {
		if w := pmTypeWarning(c.v, c.dr); w != "" {
			t.Errorf("pm_type %q dry run %v: warning %q", c.v, c.dr, w)
		}
	}
}
