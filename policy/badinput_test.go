package policy

import (
	"regexp"
	"strings"
	"testing"
)

// pmConfigErrorTests complete configErrorTests for the path manager's
// fields (pm, endpoints) and for fields with no case there;
// want is the exact error.
var pmConfigErrorTests = []struct{ name, in, want string }{
	{"pm: list", "pm: [kernel]\n",
		`config.yaml:1:5: pm: want userspace or kernel, got a list`},
	{"endpoints: scalar", "endpoints: 3\n",
		`config.yaml:1:12: endpoints: want a mapping of endpoint settings (interfaces, flags, backup, limits), got 3`},
	{"endpoints.interfaces: mapping", "endpoints:\n  interfaces: {wlan0: yes}\n",
		`config.yaml:2:15: endpoints.interfaces: want a list of interface name patterns like "wlan*", got a mapping`},
	{"endpoints.interfaces: empty pattern", "endpoints:\n  interfaces: [\"\"]\n",
		`config.yaml:2:16: endpoints.interfaces[0]: empty pattern (want e.g. "wlan*")`},
	{"endpoints.flags: unknown flag", "endpoints:\n  flags: [signal, bogus]\n",
		`config.yaml:2:19: endpoints.flags[1]: unknown flag "bogus" (want subflow, signal, backup, fullmesh, laminar)`},
	{"endpoints.backup: a pattern, not a class", "endpoints:\n  backup: [\"wlan[\"]\n",
		`config.yaml:2:12: endpoints.backup[0]: unknown class "wlan[" (want wifi, cellular, wired, virtual)`},
	{"endpoints.limits: scalar", "endpoints:\n  limits: 8\n",
		`config.yaml:2:11: endpoints.limits: want a mapping of limits (subflows, add_addr_accepted), e.g. {subflows: 2, add_addr_accepted: 2}, got 8`},
	{"endpoints.limits.subflows: too many", "endpoints:\n  limits: {subflows: 9}\n",
		`config.yaml:2:22: endpoints.limits.subflows: 9 out of range (want 0..8)`},
	{"endpoints.limits.add_addr_accepted: negative", "endpoints:\n  limits: {add_addr_accepted: -1}\n",
		`config.yaml:2:31: endpoints.limits.add_addr_accepted: -1 out of range (want 0..8)`},
	{"default.handover.rto: out of range", "default:\n  handover: {rto: 101}\n",
		`config.yaml:2:19: default.handover.rto: 101 out of range (want 0..100)`},
	{"default.announce: port 0 and not an address", "default:\n  announce: [\"10.0.0.1:0\", \"nope\"]\n",
		"config.yaml:2:14: default.announce[0]: port 0 in \"10.0.0.1:0\" (leave the port out to announce the connection's own port)\n" +
			"config.yaml:2:28: default.announce[1]: invalid address \"nope\" (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)"},
	{"default.mptcpify: not a boolean", "default:\n  mptcpify: yes please\n",
		`config.yaml:2:13: default.mptcpify: want true or false, got "yes please"`},
	{"default.addresses: unknown kind", "default:\n  addresses: [private]\n",
		`config.yaml:2:15: default.addresses[0]: unknown address kind "private" (want temporary, deprecated, ula)`},
	{"default.paths.backup: unknown class", "default:\n  paths: {backup: [lte]}\n",
		`config.yaml:2:20: default.paths.backup[0]: unknown class "lte" (want wifi, cellular, wired, virtual)`},
}

// morePolicyErrorTests complete policyErrorTests for fields with no case
// there.
var morePolicyErrorTests = []struct{ name, in, want string }{
	{"paths.backup: unknown class", h + "paths: {backup: [lte]}\n",
		`voice.yaml:4:18: paths.backup[0]: unknown class "lte" (want wifi, cellular, wired, virtual)`},
	{"addresses: twice and a mapping", h + "addresses: [ula, temporary, ula, {x: 1}]\n",
		"voice.yaml:4:29: addresses[2]: address kind ula is listed twice\n" +
			"voice.yaml:4:34: addresses[3]: want an address kind (temporary, deprecated, ula), got a mapping"},
	{"paths.backup: also preferred", h + "paths: {prefer: [wifi], backup: [wifi]}\n",
		`voice.yaml:4:34: paths.backup[0]: class wifi is also in prefer (a class is either preferred or backup)`},
}

func TestBadInputPMConfig(t *testing.T) {
	for _, tt := range pmConfigErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err == nil {
				t.Fatalf("ParseConfig = %+v, want error %q", cfg, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	for _, tt := range morePolicyErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(strings.NewReader(tt.in), "voice.yaml")
			if err == nil {
				t.Fatalf("ParsePolicy = %+v, want error %q", p, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestBadInputCoverage makes sure every field the parser knows (its
// known-keys tables) has at least one bad-value case with its exact
// error, FILE:LINE:COL: FIELD: MESSAGE: a new field needs one.
func TestBadInputCoverage(t *testing.T) {
	fieldRE := regexp.MustCompile(`(?m)^[a-z]+\.yaml:\d+:\d+: ([a-z_0-9.\[\]]+): `)
	fields := func(wants ...string) map[string]bool {
		seen := map[string]bool{}
		for _, w := range wants {
			for _, m := range fieldRE.FindAllStringSubmatch(w, -1) {
				seen[regexp.MustCompile(`\[\d+\]`).ReplaceAllString(m[1], "[]")] = true
			}
		}
		return seen
	}
	var pw, cw []string
	for _, tt := range append(policyErrorTests, morePolicyErrorTests...) {
		pw = append(pw, tt.want)
	}
	for _, tt := range append(configErrorTests, pmConfigErrorTests...) {
		cw = append(cw, tt.want)
	}
	check := func(what string, seen map[string]bool, prefix string, keys []string) {
		for _, k := range keys {
			f := prefix + k
			covered := false
			for s := range seen {
				covered = covered || s == f || strings.HasPrefix(s, f+".") || strings.HasPrefix(s, f+"[]")
			}
			if !covered {
				t.Errorf("%s field %s has no bad-input case with its exact error", what, f)
			}
		}
	}
	ps, cs := fields(pw...), fields(cw...)
	check("policy", ps, "", policyKeys)
	check("policy", ps, "match.", matchKeys)
	check("policy", ps, "paths.", pathsKeys)
	check("policy", ps, "handover.", handoverKeys)
	check("config", cs, "", configKeys)
	check("config", cs, "interfaces[].", ruleKeys)
	check("config", cs, "endpoints.", endpointKeys)
	check("config", cs, "endpoints.limits.", limitsKeys)
	// The default policy of the configuration takes the policy fields
	// but name and match.
	check("config", cs, "default.", []string{"mode", "paths", "handover", "accept_announcements", "announcements_from", "announce", "mptcpify", "addresses"})
}
