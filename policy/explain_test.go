package policy

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExplain checks, for each kind of condition, the policy Explain finds
// (Lookup's), and for each policy tried before it the condition that did
// not hold, in words.
func TestExplain(t *testing.T) {
	set := &Set{Config: &Config{Default: Policy{Name: "default"}}, Policies: []*Policy{
		{Name: "voice", Match: Match{Ports: []PortRange{{5060, 5061}}}},
		{Name: "office", Match: Match{Prefixes: []netip.Prefix{pfx("10.9.0.0/16"), pfx("fd00:9::/32")}}},
		{Name: "backup", Match: Match{UIDs: []uint32{34, 1000, 1001}}},
		{Name: "app", Match: Match{Cgroup: "/system.slice/app.service"}},
		{Name: "browser", Match: Match{Process: "firefox"}},
		{Name: "empty"},
	}}
	c := func(remote string, uid uint32, cgroup, process string) Conn {
		return Conn{Remote: netip.MustParseAddrPort(remote), UID: uid, Cgroup: cgroup, Process: process}
	}
	no := map[string]Mismatch{
		"voice":   {FieldPort, "port 443 is not 5060-5061"},
		"office":  {FieldDest, "destination 192.0.2.1 is not in 10.9.0.0/16 or fd00:9::/32"},
		"backup":  {FieldUID, "uid 7 is not one of 34, 1000, 1001"},
		"app":     {FieldCgroup, `cgroup "/user.slice" is not /system.slice/app.service or below it`},
		"browser": {FieldProcess, `process "curl" is not "firefox"`},
		"empty":   {FieldNone, "matches nothing (no condition)"},
	}
	for _, tc := range []struct {
		kind string
		conn Conn
		want string // the policy found
	}{
		{"port", c("192.0.2.1:5061", 7, "/user.slice", "curl"), "voice"},
		{"destination", c("10.9.3.4:443", 7, "/user.slice", "curl"), "office"},
		{"uid", c("192.0.2.1:443", 1000, "/user.slice", "curl"), "backup"},
		{"cgroup", c("192.0.2.1:443", 7, "/system.slice/app.service/sub", "curl"), "app"},
		{"process", c("192.0.2.1:443", 7, "/user.slice", "firefox"), "browser"},
		{"default", c("192.0.2.1:443", 7, "/user.slice", "curl"), "default"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			p, tried := set.Explain(tc.conn)
			if p.Name != tc.want || p != set.Lookup(tc.conn) {
				t.Fatalf("Explain found %s, Lookup %s; want %s", p.Name, set.Lookup(tc.conn).Name, tc.want)
			}
			var got, want []string
			for _, tr := range tried {
				if tr.Mismatch == nil {
					got = append(got, tr.Policy.Name+": matches")
				} else {
					got = append(got, tr.Policy.Name+": "+string(tr.Mismatch.Field)+": "+tr.Mismatch.Why)
				}
			}
			for _, q := range set.Policies {
				if q.Name == tc.want {
					want = append(want, q.Name+": matches")
					break
				}
				want = append(want, q.Name+": "+string(no[q.Name].Field)+": "+no[q.Name].Why)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tried (-want +got):\n%s", diff)
			}
		})
	}
}
