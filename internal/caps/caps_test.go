package caps

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

// TestUnitFileCapabilities checks that dist/mptcp-pm.service and the
// template dist/mptcp-pm@.service run the daemon as its own user with the
// capabilities it needs at start as ambient ones (what it keeps on any
// configuration, plus CAP_CHOWN for the control group), bounded to the
// same, and with no capability it never uses.
func TestUnitFileCapabilities(t *testing.T) {
	want := []string{"cap_chown"}
	// The units run without -n, on any configuration: one that needs
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
	for _, unit := range []string{"../../dist/mptcp-pm.service", "../../dist/mptcp-pm@.service"} {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string][]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
				keys[k] = append(keys[k], strings.Fields(strings.ToLower(v))...)
			}
		}
		for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
			got := slices.Sorted(slices.Values(keys[k]))
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s %v, want %v", unit, k, got, want)
			}
		}
		if u := keys["User"]; len(u) != 1 || u[0] == "root" || u[0] == "0" {
			t.Errorf("%s: User=%v, want the daemon's own user", unit, u)
		}
		for _, k := range []string{"NoNewPrivileges=yes", "Type=notify"} {
			if !strings.Contains(string(b), "\n"+k+"\n") {
				t.Errorf("%s: no %s", unit, k)
			}
		}
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

// LookupUser takes a name or a number, and refuses root.
func TestLookupUser(t *testing.T) {
	for _, name := range []string{"nobody", "65534"} {
		id, err := LookupUser(name)
		if err != nil {
			t.Skipf("no user nobody (65534) here: %v", err)
		}
		if id.UID != 65534 || id.Name != "nobody" {
			t.Errorf("LookupUser(%q) = %+v, want nobody, uid 65534", name, id)
		}
	}
	for _, name := range []string{"root", "0"} {
		if _, err := LookupUser(name); err == nil || !strings.HasSuffix(err.Error(), "uid 0 is root: name an unprivileged user") {
			t.Errorf("LookupUser(%q): %v", name, err)
		}
	}
}
