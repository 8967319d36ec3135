package caps

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// TestUnitFileCapabilities checks that dist/mptcp-pm.service lets the
// daemon start (what it keeps, plus CAP_CHOWN for the control group and
// CAP_SETPCAP to shrink its bounding set) and has no capability it never
// uses.
func TestUnitFileCapabilities(t *testing.T) {
	b, err := os.ReadFile("../../dist/mptcp-pm.service")
	if err != nil {
		t.Fatal(err)
	}
	var bounding []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			bounding = append(bounding, strings.Fields(strings.ToLower(v))...)
		}
		if strings.HasPrefix(line, "AmbientCapabilities=") {
			t.Errorf("dist/mptcp-pm.service: %s: the daemon runs as root, ambient capabilities add nothing", line)
		}
	}
	want := []string{"cap_chown", "cap_setpcap", "cap_sys_resource"}
	// The unit runs without -n, on any configuration: one that needs
	// everything.
	all := &policy.Set{Config: &policy.Config{Default: policy.Policy{Announce: []netip.AddrPort{netip.MustParseAddrPort("10.0.2.2:443")}}},
		Policies: []*policy.Policy{{Mptcpify: true, Match: policy.Match{Process: "app"}}}}
	for _, n := range For(Config{Set: all}) {
		want = append(want, n.Cap.String())
	}
	for _, n := range ForEndpoints(false) {
		want = append(want, n.Cap.String())
	}
	slices.Sort(want)
	want = slices.Compact(want)
	slices.Sort(bounding)
	if !slices.Equal(bounding, want) {
		t.Errorf("dist/mptcp-pm.service: CapabilityBoundingSet %v, want %v", bounding, want)
	}
	if !strings.Contains(string(b), "\nNoNewPrivileges=yes\n") {
		t.Errorf("dist/mptcp-pm.service: no NoNewPrivileges=yes")
	}
}

func TestCapabilityNames(t *testing.T) {
	for c, want := range map[Capability]string{CapNetAdmin: "cap_net_admin", CapBPF: "cap_bpf", CapPerfmon: "cap_perfmon",
		CapSysAdmin: "cap_sys_admin", CapDACOverride: "cap_dac_override", Capability(63): "cap_63"} {
		if got := c.String(); got != want {
			t.Errorf("Capability(%d) = %q, want %q", int(c), got, want)
		}
	}
	if got := Join(nil); got != "none" {
		t.Errorf("Join(nil) = %q", got)
	}
}

// What the daemon keeps follows its configuration.
func TestCapabilitiesFollowConfig(t *testing.T) {
	caps := func(c Config, set *policy.Set) string { c.Set = set; return Join(List(For(c))) }
	plain := &policy.Set{Config: &policy.Config{}}
	for _, tt := range []struct {
		name string
		c    Config
		set  *policy.Set
		want string
	}{
		{"plain", Config{}, plain, "cap_net_admin"},
		{"-n", Config{NetNS: true}, plain, "cap_net_admin,cap_sys_admin"},
		{"metrics below 1024", Config{MetricsListen: "127.0.0.1:99"}, plain, "cap_net_admin,cap_net_bind_service"},
		{"metrics above", Config{MetricsListen: "127.0.0.1:9464"}, plain, "cap_net_admin"},
		{"announce 443", Config{}, &policy.Set{Config: &policy.Config{},
			Policies: []*policy.Policy{{Announce: []netip.AddrPort{netip.MustParseAddrPort("10.0.2.2:443")}}}}, "cap_net_admin,cap_net_bind_service"},
		{"announce 8443", Config{}, &policy.Set{Config: &policy.Config{},
			Policies: []*policy.Policy{{Announce: []netip.AddrPort{netip.MustParseAddrPort("10.0.2.2:8443")}}}}, "cap_net_admin"},
		{"mptcpify", Config{}, &policy.Set{Config: &policy.Config{}, Policies: []*policy.Policy{{Mptcpify: true}}},
			"cap_net_admin,cap_bpf,cap_perfmon,cap_dac_override"},
		{"process", Config{}, &policy.Set{Config: &policy.Config{}, Policies: []*policy.Policy{{Match: policy.Match{Process: "curl"}}}},
			"cap_net_admin,cap_sys_ptrace,cap_dac_override"},
	} {
		if got := caps(tt.c, tt.set); got != tt.want {
			t.Errorf("%s: keeps %s, want %s", tt.name, got, tt.want)
		}
	}
	// A reload that needs more than was kept says what and why.
	kept := &[]Capability{CapNetAdmin}
	missing := func(kept *[]Capability, set *policy.Set) string { return Missing(kept, For(Config{Set: set})) }
	if got := missing(kept, plain); got != "" {
		t.Errorf("plain configuration after a plain start: %q", got)
	}
	got := missing(kept, &policy.Set{Config: &policy.Config{}, Policies: []*policy.Policy{{Mptcpify: true}}})
	if !strings.HasPrefix(got, "it needs cap_bpf (mptcpify: ") || !strings.HasSuffix(got, "which the daemon dropped at start: restart it to run this configuration") {
		t.Errorf("mptcpify after a plain start: %q", got)
	}
	if got := missing(nil, plain); got != "" {
		t.Errorf("nothing dropped: %q", got)
	}
}
