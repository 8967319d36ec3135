package policy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// basePolicy is what h parses to; edit returns a copy changed by f.
func basePolicy(f func(p *Policy)) *Policy {
	p := &Policy{
		Name:     "voice",
		Source:   "voice.yaml",
		Match:    Match{Ports: []PortRange{{443, 443}}},
		Mode:     ModeHandover,
		Paths:    Paths{Prefer: []ifmon.Class{ifmon.ClassWifi, ifmon.ClassWired}, Backup: []ifmon.Class{ifmon.ClassCellular}},
		Handover: DefaultHandover,
	}
	if f != nil {
		f(p)
	}
	return p
}

func TestParsePolicyGood(t *testing.T) {
	const (
		wifi     = ifmon.ClassWifi
		cellular = ifmon.ClassCellular
		wired    = ifmon.ClassWired
		virtual  = ifmon.ClassVirtual
	)
	tests := []struct {
		name string
		in   string
		want *Policy
	}{
		{"minimal", h, basePolicy(nil)},
		{"comments, markers and any key order",
			"# voice\n---\nmode: handover # m\nmatch:\n  # c\n  ports: [443]\nname: voice\n...\n", basePolicy(nil)},
		{"name: every allowed character", "name: a0_.-z\nmatch: {ports: [443]}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Name = "a0_.-z" })},
		{"name: digits, quoted", "name: \"9\"\nmatch: {ports: [443]}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Name = "9" })},
		{"name: 64 bytes", "name: " + strings.Repeat("n", 64) + "\nmatch: {ports: [443]}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Name = strings.Repeat("n", 64) })},
		{"ports: one, not a list", "name: voice\nmatch: {ports: 443}\nmode: handover\n", basePolicy(nil)},
		{"ports: quoted", "name: voice\nmatch: {ports: [\"443\"]}\nmode: handover\n", basePolicy(nil)},
		{"ports: ranges and bounds",
			"name: voice\nmatch: {ports: [1, 65535, \"5060-5070\", 8000-8001, \"1-65535\", \"7 - 9\", \"22-22\"]}\nmode: handover\n",
			basePolicy(func(p *Policy) {
				p.Match.Ports = []PortRange{{1, 1}, {65535, 65535}, {5060, 5070}, {8000, 8001}, {1, 65535}, {7, 9}, {22, 22}}
			})},
		{"ports: one range, not a list", "name: voice\nmatch: {ports: 5060-5070}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports = []PortRange{{5060, 5070}} })},
		{"prefixes",
			"name: voice\nmatch:\n  prefixes: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7, \"2001:db8::1\", 0.0.0.0/0, \"::/0\", 192.0.2.0/24]\nmode: handover\n",
			basePolicy(func(p *Policy) {
				p.Match.Ports = nil
				p.Match.Prefixes = []netip.Prefix{pfx("10.0.0.0/8"), pfx("2001:db8::/32"), pfx("192.0.2.7/32"),
					pfx("2001:db8::1/128"), pfx("0.0.0.0/0"), pfx("::/0"), pfx("192.0.2.0/24")}
			})},
		{"prefixes: one, not a list", "name: voice\nmatch: {prefixes: 10.1.0.0/16}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.Prefixes = nil, []netip.Prefix{pfx("10.1.0.0/16")} })},
		{"uids", "name: voice\nmatch: {uids: [0, 1000, \"1001\", 4294967294]}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.UIDs = nil, []uint32{0, 1000, 1001, 4294967294} })},
		{"uids: one, not a list", "name: voice\nmatch: {uids: 1000}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.UIDs = nil, []uint32{1000} })},
		{"cgroup: cleaned", "name: voice\nmatch: {cgroup: /system.slice//voice.service/./}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.Cgroup = nil, "/system.slice/voice.service" })},
		{"cgroup: root", "name: voice\nmatch: {cgroup: /}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.Cgroup = nil, "/" })},
		{"process: 15 bytes with a space", "name: voice\nmatch: {process: Web Content 123}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.Process = nil, "Web Content 123" })},
		{"process: number", "name: voice\nmatch: {process: 1234}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.Ports, p.Match.Process = nil, "1234" })},
		{"every condition",
			"name: voice\nmatch:\n  ports: [443]\n  prefixes: [10.0.0.0/8]\n  uids: [1000]\n  cgroup: /a\n  process: voice-app\nmode: handover\n",
			basePolicy(func(p *Policy) {
				p.Match = Match{Ports: []PortRange{{443, 443}}, Prefixes: []netip.Prefix{pfx("10.0.0.0/8")}, UIDs: []uint32{1000}, Cgroup: "/a", Process: "voice-app"}
			})},
		{"mode: interactive", "name: voice\nmatch: {ports: [443]}\nmode: interactive\n",
			basePolicy(func(p *Policy) { p.Mode = ModeInteractive })},
		{"mode: aggregate", "name: voice\nmatch: {ports: [443]}\nmode: aggregate\n",
			basePolicy(func(p *Policy) { p.Mode = ModeAggregate })},
		{"mode: single", "name: voice\nmatch: {ports: [443]}\nmode: single\n",
			basePolicy(func(p *Policy) { p.Mode = ModeSingle })},
		{"paths: replace the default", h + "paths: {prefer: [wired], backup: [wifi, cellular, virtual]}\n",
			basePolicy(func(p *Policy) { p.Paths = Paths{Prefer: classes(wired), Backup: classes(wifi, cellular, virtual)} })},
		{"paths: prefer only", h + "paths: {prefer: [cellular]}\n",
			basePolicy(func(p *Policy) { p.Paths = Paths{Prefer: classes(cellular)} })},
		{"paths: one class, not a list", h + "paths: {prefer: wifi, backup: cellular}\n",
			basePolicy(func(p *Policy) { p.Paths = Paths{Prefer: classes(wifi), Backup: classes(cellular)} })},
		{"paths: interactive with backups only", "name: voice\nmatch: {ports: [443]}\nmode: interactive\npaths: {prefer: [], backup: [cellular]}\n",
			basePolicy(func(p *Policy) { p.Mode, p.Paths = ModeInteractive, Paths{Backup: classes(cellular)} })},
		{"paths: block style", h + "paths:\n  prefer:\n    - wifi\n  backup:\n    - wired\n",
			basePolicy(func(p *Policy) { p.Paths = Paths{Prefer: classes(wifi), Backup: classes(wired)} })},
		{"handover: every field", h + "handover: {rto: 3, loss_percent: 2.5, rtt_ms: 1500, hold_down: 1m30s, warm_standby: true}\n",
			basePolicy(func(p *Policy) {
				p.Handover = Handover{RTO: 3, LossPercent: 2.5, RTT: 1500 * time.Millisecond, HoldDown: 90 * time.Second, WarmStandby: true}
			})},
		{"handover: empty keeps the defaults", h + "handover: {}\n", basePolicy(nil)},
		{"handover: zeros turn checks off", h + "handover: {rto: 0, loss_percent: 0, rtt_ms: 0, hold_down: 0s}\n",
			basePolicy(func(p *Policy) { p.Handover = Handover{} })},
		{"handover: bounds", h + "handover: {rto: 100, loss_percent: 100, rtt_ms: 60000, hold_down: 1h}\n",
			basePolicy(func(p *Policy) {
				p.Handover = Handover{RTO: 100, LossPercent: 100, RTT: time.Minute, HoldDown: time.Hour}
			})},
		{"handover: rto only", h + "handover: {rto: 2}\n", basePolicy(func(p *Policy) { p.Handover.RTO = 2 })},
		{"handover: loss_percent quoted", h + "handover: {loss_percent: \"5\"}\n", basePolicy(func(p *Policy) { p.Handover.LossPercent = 5 })},
		{"handover: rtt_ms quoted", h + "handover: {rtt_ms: \"0\"}\n", basePolicy(func(p *Policy) { p.Handover.RTT = 0 })},
		{"handover: hold_down 500ms", h + "handover: {hold_down: 500ms}\n", basePolicy(func(p *Policy) { p.Handover.HoldDown = 500 * time.Millisecond })},
		{"handover: hold_down 0", h + "handover: {hold_down: 0}\n", basePolicy(func(p *Policy) { p.Handover.HoldDown = 0 })},
		{"handover: warm_standby True", h + "handover: {warm_standby: True}\n", basePolicy(func(p *Policy) { p.Handover.WarmStandby = true })},
		{"handover: warm_standby false", h + "handover: {warm_standby: false}\n", basePolicy(nil)},
		{"accept_announcements: true", h + "accept_announcements: true\n", basePolicy(func(p *Policy) { p.AcceptAnnouncements = true })},
		{"accept_announcements: false", h + "accept_announcements: false\n", basePolicy(nil)},
		{"announcements_from", h + "accept_announcements: true\nannouncements_from: [10.0.4.0/24, \"2001:db8::/32\", 192.0.2.7]\n",
			basePolicy(func(p *Policy) {
				p.AcceptAnnouncements = true
				p.AnnouncementsFrom = []netip.Prefix{pfx("10.0.4.0/24"), pfx("2001:db8::/32"), pfx("192.0.2.7/32")}
			})},
		{"anchors and aliases", "name: voice\nmatch: {ports: &p [443], uids: [&u 7, *u]}\nmode: handover\n",
			basePolicy(func(p *Policy) { p.Match.UIDs = []uint32{7, 7} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicy(strings.NewReader(tt.in), "voice.yaml")
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParsePolicy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tt := range policyErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(strings.NewReader(tt.in), "voice.yaml")
			if err == nil {
				t.Fatalf("ParsePolicy = %+v, want error %q", p, tt.want)
			}
			if p != nil {
				t.Errorf("ParsePolicy returned a policy with the error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			for _, e := range flatten(err) {
				var pe *Error
				if !errors.As(e, &pe) || pe.File != "voice.yaml" {
					t.Errorf("error %q is not an *Error of voice.yaml", e)
				}
			}
		})
	}
}

// The defaults must not be shared: a caller that edits one policy's paths
// must not change another's, nor DefaultPaths.
func TestDefaultsNotShared(t *testing.T) {
	a, err := ParsePolicy(strings.NewReader(h), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a.Paths.Prefer[0] = ifmon.ClassVirtual
	if DefaultPaths.Prefer[0] != ifmon.ClassWifi {
		t.Fatalf("DefaultPaths changed through a parsed policy")
	}
}

func FuzzParsePolicy(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(strings.NewReader(string(data)), "fuzz.yaml")
		if err != nil {
			if p != nil {
				t.Fatalf("policy and error")
			}
			checkFuzzErr(t, err, "fuzz.yaml")
			return
		}
		if !nameRE.MatchString(p.Name) || p.Name == "default" || !slices.Contains(Modes, p.Mode) || p.Match.Empty() {
			t.Fatalf("invalid policy accepted: %+v", p)
		}
		if len(p.Paths.Prefer)+len(p.Paths.Backup) == 0 || p.Mode == ModeHandover && len(p.Paths.Prefer) == 0 {
			t.Fatalf("invalid paths accepted: %+v", p.Paths)
		}
		for _, c := range p.Paths.Backup {
			if p.Paths.Preferred(c) || !slices.Contains(pathClasses, c) {
				t.Fatalf("invalid class accepted: %+v", p.Paths)
			}
		}
		for _, r := range p.Match.Ports {
			if r.From == 0 || r.From > r.To {
				t.Fatalf("invalid port range accepted: %+v", r)
			}
		}
		for _, x := range p.Match.Prefixes {
			if !x.IsValid() || x != x.Masked() || x.Addr().Is4In6() {
				t.Fatalf("invalid prefix accepted: %v", x)
			}
		}
		hd := p.Handover
		if hd.RTO < 0 || hd.RTO > 100 || !(hd.LossPercent >= 0 && hd.LossPercent <= 100) || hd.RTT < 0 || hd.RTT > time.Minute || hd.HoldDown < 0 || hd.HoldDown > time.Hour {
			t.Fatalf("invalid handover accepted: %+v", hd)
		}
	})
}

// The error tables: each message was read for precision and helpfulness;
// a change in wording must show up here.

// h is the head of a valid policy file: lines 1 to 3.
const h = "name: voice\nmatch: {ports: [443]}\nmode: handover\n"

// policyErrorTests cover every field of a policy file with each kind of
// bad value; want is the exact error, mistakes joined by newlines.
var policyErrorTests = []struct{ name, in, want string }{
	{"empty file", "",
		"voice.yaml: empty file (want a policy: name, match, mode, ...)"},
	{"only comments", "# nothing\n\n",
		"voice.yaml: empty file (want a policy: name, match, mode, ...)"},
	{"null document", "---\n",
		"voice.yaml: empty file (want a policy: name, match, mode, ...)"},
	{"not a mapping: list", "- name: voice\n",
		"voice.yaml:1:1: want a mapping of policy fields (name, match, mode, paths, handover, accept_announcements, announcements_from, announce, mptcpify), got a list"},
	{"not a mapping: scalar", "voice\n",
		"voice.yaml:1:1: want a mapping of policy fields (name, match, mode, paths, handover, accept_announcements, announcements_from, announce, mptcpify), got \"voice\""},
	{"syntax error", "name: voice\nmatch: {ports: [443]\nmode: handover\n",
		"voice.yaml:3:1: did not find expected ',' or '}' (the { at line 2 column 8 is not closed, or a comma is missing)"},
	{"tab indentation", "name: voice\nmatch:\n\tports: [443]\nmode: handover\n",
		"voice.yaml:3:1: found character that cannot start any token (YAML indentation must use spaces, not tabs)"},
	{"two documents", h + "---\n---\nname: x\n",
		"voice.yaml:4:1: a second YAML document (---): a file holds only one"},
	{"duplicate field", h + "mode: single\n",
		"voice.yaml:4:1: duplicate field \"mode\" (first at line 3)"},
	{"duplicate nested field", "name: voice\nmatch:\n  ports: [443]\n  ports: [80]\nmode: handover\n",
		"voice.yaml:4:3: match: duplicate field \"ports\" (first at line 3)"},
	{"unknown field, misspelt", h + "hanover: {}\n",
		"voice.yaml:4:1: unknown field \"hanover\" (did you mean \"handover\"?)"},
	{"unknown field, other case", h + "Mode: single\n",
		"voice.yaml:4:1: unknown field \"Mode\" (did you mean \"mode\"?)"},
	{"unknown field, abbreviated", h + "accept: true\n",
		"voice.yaml:4:1: unknown field \"accept\" (did you mean \"accept_announcements\"?)"},
	{"unknown field, belongs under match", h + "ports: [443]\n",
		"voice.yaml:4:1: unknown field \"ports\" (it belongs under match:)"},
	{"unknown field, belongs under handover", h + "hold_down: 5s\n",
		"voice.yaml:4:1: unknown field \"hold_down\" (it belongs under handover:)"},
	{"unknown field, belongs under paths", h + "prefer: [wifi]\n",
		"voice.yaml:4:1: unknown field \"prefer\" (it belongs under paths:)"},
	{"unknown field, config key", h + "log_level: debug\n",
		"voice.yaml:4:1: unknown field \"log_level\" (it is a key of the configuration file, not of a policy file)"},
	{"mptcpify without a cgroup", h + "mptcpify: true\n",
		"voice.yaml:4:11: mptcpify: needs match.cgroup: the sockets made MPTCP are those of a cgroup"},
	{"announce: bad address", h + "announce: [10.0.4.300]\n",
		"voice.yaml:4:12: announce[0]: invalid address \"10.0.4.300\" (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)"},
	{"announce: port 0", h + "announce: [\"10.0.4.2:0\"]\n",
		"voice.yaml:4:12: announce[0]: port 0 in \"10.0.4.2:0\" (leave the port out to announce the connection's own port)"},
	{"announce: unspecified", h + "announce: 0.0.0.0\n",
		"voice.yaml:4:11: announce: \"0.0.0.0\" cannot be announced to a peer (unspecified, loopback or multicast)"},
	{"announce: mapped", h + "announce: [\"::ffff:10.0.4.2\"]\n",
		"voice.yaml:4:12: announce[0]: \"::ffff:10.0.4.2\" is IPv4-mapped IPv6 (write it as 10.0.4.2)"},
	{"announce: twice", h + "announce: [10.0.4.2, 10.0.4.2]\n",
		"voice.yaml:4:22: announce[1]: \"10.0.4.2\" is listed twice"},
	{"unknown field, no suggestion", h + "color: blue\n",
		"voice.yaml:4:1: unknown field \"color\" (want name, match, mode, paths, handover, accept_announcements, announcements_from, announce, mptcpify)"},
	{"merge key", h + "<<: {mode: single}\n",
		"voice.yaml:4:1: merge keys (<<) are not supported"},
	{"custom tag", h + "accept_announcements: !flag true\n",
		"voice.yaml:4:23: accept_announcements: unsupported YAML tag !flag"},
	{"non-scalar key", h + "[a]: 1\n",
		"voice.yaml:4:1: field names must be plain words, got a list"},
	{"missing required fields", "accept_announcements: false\n",
		"voice.yaml:1:1: name: required field is missing (want a name like \"voice\")\nvoice.yaml:1:1: match: required field is missing (an application needs at least one of ports, prefixes, uids, cgroup, process)\nvoice.yaml:1:1: mode: required field is missing (want handover, interactive, aggregate, single)"},
	{"name: list", "name: [voice]\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: want a name like \"voice\", got a list"},
	{"name: null", "name:\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:6: name: want a name like \"voice\", got nothing"},
	{"name: upper case", "name: Voice\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: invalid name \"Voice\" (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)"},
	{"name: leading dash", "name: -voice\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: invalid name \"-voice\" (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)"},
	{"name: space", "name: my voice\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: invalid name \"my voice\" (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)"},
	{"name: too long", "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: 65 bytes long (want at most 64)"},
	{"name: reserved", "name: default\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: name: \"default\" is the name of the configuration's default policy"},
	{"match: list", "name: voice\nmatch: [443]\nmode: handover\n",
		"voice.yaml:2:8: match: want a mapping of conditions (ports, prefixes, uids, cgroup, process), got a list"},
	{"match: scalar", "name: voice\nmatch: port 443\nmode: handover\n",
		"voice.yaml:2:8: match: want a mapping of conditions (ports, prefixes, uids, cgroup, process), got \"port 443\""},
	{"match: null", "name: voice\nmatch:\nmode: handover\n",
		"voice.yaml:2:7: match: want a mapping of conditions (ports, prefixes, uids, cgroup, process), got nothing"},
	{"match: empty", "name: voice\nmatch: {}\nmode: handover\n",
		"voice.yaml:2:8: match: no condition (want at least one of ports, prefixes, uids, cgroup, process)"},
	{"match: unknown condition", "name: voice\nmatch: {uid: 1000}\nmode: handover\n",
		"voice.yaml:2:9: match: unknown field \"uid\" (did you mean \"uids\"?)"},
	{"match: unknown condition, no suggestion", "name: voice\nmatch: {interface: wlan0}\nmode: handover\n",
		"voice.yaml:2:9: match: unknown field \"interface\" (want ports, prefixes, uids, cgroup, process)"},
	{"ports: mapping", "name: voice\nmatch: {ports: {https: 443}}\nmode: handover\n",
		"voice.yaml:2:16: match.ports: want a list of ports, got a mapping"},
	{"ports: null", "name: voice\nmatch: {ports: }\nmode: handover\n",
		"voice.yaml:2:16: match.ports: want a list of ports, got nothing"},
	{"ports: empty list", "name: voice\nmatch: {ports: []}\nmode: handover\n",
		"voice.yaml:2:16: match.ports: empty list (leave the field out to match any port)"},
	{"ports: zero", "name: voice\nmatch: {ports: [0]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: port 0 out of range (want 1..65535)"},
	{"ports: too big", "name: voice\nmatch: {ports: [65536]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: port 65536 out of range (want 1..65535)"},
	{"ports: negative", "name: voice\nmatch: {ports: [-1]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: port -1 out of range (want 1..65535)"},
	{"ports: overflow", "name: voice\nmatch: {ports: [99999999999999999999]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: want a port 1..65535 or a range \"A-B\", got 99999999999999999999"},
	{"ports: name", "name: voice\nmatch: {ports: [https]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port \"https\" (want a number 1..65535 or a range \"A-B\")"},
	{"ports: float", "name: voice\nmatch: {ports: [443.0]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: want a port 1..65535 or a range \"A-B\", got 443.0"},
	{"ports: hex", "name: voice\nmatch: {ports: [0x1bb]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port \"0x1bb\" (want a number 1..65535 or a range \"A-B\")"},
	{"ports: bool", "name: voice\nmatch: {ports: [true]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: want a port 1..65535 or a range \"A-B\", got true"},
	{"ports: nested list", "name: voice\nmatch: {ports: [[443]]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: want a port 1..65535 or a range \"A-B\", got a list"},
	{"ports: null element", "name: voice\nmatch: {ports: [~]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: want a port 1..65535 or a range \"A-B\", got ~"},
	{"ports: range reversed", "name: voice\nmatch: {ports: [\"5070-5060\"]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port range \"5070-5060\": start is after end (did you mean \"5060-5070\"?)"},
	{"ports: range from zero", "name: voice\nmatch: {ports: [\"0-10\"]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port range \"0-10\": port 0 out of range (want 1..65535)"},
	{"ports: range too big", "name: voice\nmatch: {ports: [\"1-65536\"]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port range \"1-65536\": port 65536 out of range (want 1..65535)"},
	{"ports: range garbage", "name: voice\nmatch: {ports: [\"1-x\"]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port range \"1-x\" (want \"A-B\" with ports 1..65535)"},
	{"ports: range open", "name: voice\nmatch: {ports: [\"1000-\"]}\nmode: handover\n",
		"voice.yaml:2:17: match.ports[0]: invalid port range \"1000-\" (want \"A-B\" with ports 1..65535)"},
	{"ports: several mistakes", "name: voice\nmatch:\n  ports:\n    - 0\n    - 443\n    - https\nmode: handover\n",
		"voice.yaml:4:7: match.ports[0]: port 0 out of range (want 1..65535)\nvoice.yaml:6:7: match.ports[2]: invalid port \"https\" (want a number 1..65535 or a range \"A-B\")"},
	{"prefixes: mapping", "name: voice\nmatch: {prefixes: {a: 10.0.0.0/8}}\nmode: handover\n",
		"voice.yaml:2:19: match.prefixes: want a list of prefixes, got a mapping"},
	{"prefixes: empty list", "name: voice\nmatch: {prefixes: []}\nmode: handover\n",
		"voice.yaml:2:19: match.prefixes: empty list (leave the field out to match any address)"},
	{"prefixes: number", "name: voice\nmatch: {prefixes: [10]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: want an address or prefix like 10.0.0.0/8 or 2001:db8::/32, got 10"},
	{"prefixes: host bits v4", "name: voice\nmatch: {prefixes: [10.0.0.1/8]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"},
	{"prefixes: host bits v6", "name: voice\nmatch: {prefixes: [\"2001:db8::1/32\"]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: 2001:db8::1/32 has host bits set (did you mean 2001:db8::/32?)"},
	{"prefixes: v4-mapped prefix", "name: voice\nmatch: {prefixes: [\"::ffff:10.0.0.0/104\"]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: ::ffff:10.0.0.0/104 is IPv4-mapped IPv6 (write it as 10.0.0.0/8: connections are matched on their IPv4 form)"},
	{"prefixes: v4-mapped address", "name: voice\nmatch: {prefixes: [\"::ffff:192.0.2.1\"]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: ::ffff:192.0.2.1 is IPv4-mapped IPv6 (write it as 192.0.2.1: connections are matched on their IPv4 form)"},
	{"prefixes: length too long v4", "name: voice\nmatch: {prefixes: [10.0.0.0/33]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid prefix length \"33\" in \"10.0.0.0/33\" (want 0..32)"},
	{"prefixes: length too long v6", "name: voice\nmatch: {prefixes: [\"2001:db8::/129\"]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid prefix length \"129\" in \"2001:db8::/129\" (want 0..128)"},
	{"prefixes: length signed", "name: voice\nmatch: {prefixes: [10.0.0.0/+8]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid prefix length \"+8\" in \"10.0.0.0/+8\" (want 0..32)"},
	{"prefixes: length missing", "name: voice\nmatch: {prefixes: [10.0.0.0/]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid prefix length \"\" in \"10.0.0.0/\" (want 0..32)"},
	{"prefixes: zone", "name: voice\nmatch: {prefixes: [\"fe80::1%eth0\"]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: \"fe80::1%eth0\": an address zone (%eth0) is not allowed in a prefix"},
	{"prefixes: bad address", "name: voice\nmatch: {prefixes: [10.0.0.300/8]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid address \"10.0.0.300\" (want an address or prefix like 10.0.0.0/8 or 2001:db8::/32)"},
	{"prefixes: host name", "name: voice\nmatch: {prefixes: [example.com]}\nmode: handover\n",
		"voice.yaml:2:20: match.prefixes[0]: invalid address \"example.com\" (want an address or prefix like 10.0.0.0/8 or 2001:db8::/32)"},
	{"uids: user name", "name: voice\nmatch: {uids: [alice]}\nmode: handover\n",
		"voice.yaml:2:16: match.uids[0]: invalid uid \"alice\" (want a number 0..4294967294; user names are not looked up)"},
	{"uids: negative", "name: voice\nmatch: {uids: [-1]}\nmode: handover\n",
		"voice.yaml:2:16: match.uids[0]: -1 out of range (want 0..4294967294)"},
	{"uids: too big", "name: voice\nmatch: {uids: 4294967295}\nmode: handover\n",
		"voice.yaml:2:15: match.uids: 4294967295 out of range (want 0..4294967294)"},
	{"uids: overflow", "name: voice\nmatch: {uids: [99999999999999999999]}\nmode: handover\n",
		"voice.yaml:2:16: match.uids[0]: want a whole number 0..4294967294, got 99999999999999999999"},
	{"uids: float", "name: voice\nmatch: {uids: [1000.5]}\nmode: handover\n",
		"voice.yaml:2:16: match.uids[0]: want a whole number 0..4294967294, got 1000.5"},
	{"uids: mapping", "name: voice\nmatch: {uids: {alice: 1000}}\nmode: handover\n",
		"voice.yaml:2:15: match.uids: want a list of uids, got a mapping"},
	{"uids: empty list", "name: voice\nmatch: {uids: []}\nmode: handover\n",
		"voice.yaml:2:15: match.uids: empty list (leave the field out to match any user)"},
	{"uids: nested list", "name: voice\nmatch: {uids: [[1000]]}\nmode: handover\n",
		"voice.yaml:2:16: match.uids[0]: want a whole number 0..4294967294, got a list"},
	{"cgroup: relative", "name: voice\nmatch: {cgroup: system.slice/voice.service}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: \"system.slice/voice.service\" is not an absolute path (want e.g. /system.slice/voice.service)"},
	{"cgroup: empty", "name: voice\nmatch: {cgroup: \"\"}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: \"\" is not an absolute path (want e.g. /system.slice/voice.service)"},
	{"cgroup: dot dot", "name: voice\nmatch: {cgroup: /system.slice/../user.slice}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: \"/system.slice/../user.slice\": \"..\" is not allowed in a cgroup path"},
	{"cgroup: mount point", "name: voice\nmatch: {cgroup: /sys/fs/cgroup/system.slice/voice.service}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: \"/sys/fs/cgroup/system.slice/voice.service\": write the path below the cgroup2 mount (did you mean \"/system.slice/voice.service\"?)"},
	{"cgroup: control character", "name: voice\nmatch: {cgroup: \"/a\\tb\"}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: \"/a\\tb\" contains a control character"},
	{"cgroup: list", "name: voice\nmatch: {cgroup: [/a, /b]}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: want a cgroup path like /system.slice/voice.service, got a list"},
	{"cgroup: null", "name: voice\nmatch: {cgroup: null}\nmode: handover\n",
		"voice.yaml:2:17: match.cgroup: want a cgroup path like /system.slice/voice.service, got null"},
	{"process: path", "name: voice\nmatch: {process: /usr/bin/voice-app}\nmode: handover\n",
		"voice.yaml:2:18: match.process: \"/usr/bin/voice-app\" is a path (want the process name (comm), e.g. \"voice-app\")"},
	{"process: too long", "name: voice\nmatch: {process: voice-application}\nmode: handover\n",
		"voice.yaml:2:18: match.process: \"voice-application\" is 17 bytes long; the kernel keeps only the first 15 of a process name (did you mean \"voice-applicati\"?)"},
	{"process: empty", "name: voice\nmatch: {process: \"\"}\nmode: handover\n",
		"voice.yaml:2:18: match.process: empty name (leave the field out to match any process)"},
	{"process: control character", "name: voice\nmatch: {process: \"a\\u0007\"}\nmode: handover\n",
		"voice.yaml:2:18: match.process: \"a\\a\" contains a control character"},
	{"process: list", "name: voice\nmatch: {process: [a, b]}\nmode: handover\n",
		"voice.yaml:2:18: match.process: want a process name (comm) like \"voice-app\", got a list"},
	{"mode: unknown", "name: voice\nmatch: {ports: [443]}\nmode: handovr\n",
		"voice.yaml:3:7: mode: unknown mode \"handovr\" (want handover, interactive, aggregate, single)"},
	{"mode: upper case", "name: voice\nmatch: {ports: [443]}\nmode: Handover\n",
		"voice.yaml:3:7: mode: unknown mode \"Handover\" (want handover, interactive, aggregate, single)"},
	{"mode: null", "name: voice\nmatch: {ports: [443]}\nmode:\n",
		"voice.yaml:3:6: mode: want one of handover, interactive, aggregate, single, got nothing"},
	{"mode: list", "name: voice\nmatch: {ports: [443]}\nmode: [handover]\n",
		"voice.yaml:3:7: mode: want one of handover, interactive, aggregate, single, got a list"},
	{"paths: list", h + "paths: [wifi]\n",
		"voice.yaml:4:8: paths: want a mapping with prefer and backup, e.g. {prefer: [wifi], backup: [cellular]}, got a list"},
	{"paths: scalar", h + "paths: wifi\n",
		"voice.yaml:4:8: paths: want a mapping with prefer and backup, e.g. {prefer: [wifi], backup: [cellular]}, got \"wifi\""},
	{"paths: null", h + "paths:\n",
		"voice.yaml:4:7: paths: want a mapping with prefer and backup, e.g. {prefer: [wifi], backup: [cellular]}, got nothing"},
	{"paths: empty mapping", h + "paths: {}\n",
		"voice.yaml:4:8: paths: no class allowed (list at least one of wifi, cellular, wired, virtual in prefer or backup)"},
	{"paths: unknown key", h + "paths: {prefered: [wifi]}\n",
		"voice.yaml:4:9: paths: unknown field \"prefered\" (did you mean \"prefer\"?)"},
	{"paths: unknown class", h + "paths: {prefer: [wlan]}\n",
		"voice.yaml:4:18: paths.prefer[0]: unknown class \"wlan\" (want wifi, cellular, wired, virtual)"},
	{"paths: loopback", h + "paths: {prefer: [wifi], backup: [loopback]}\n",
		"voice.yaml:4:34: paths.backup[0]: class loopback never carries subflows (want wifi, cellular, wired, virtual)"},
	{"paths: class twice", h + "paths: {prefer: [wifi, wifi]}\n",
		"voice.yaml:4:24: paths.prefer[1]: class wifi is listed twice"},
	{"paths: class in both", h + "paths: {prefer: [wifi, cellular], backup: [cellular]}\n",
		"voice.yaml:4:44: paths.backup[0]: class cellular is also in prefer (a class is either preferred or backup)"},
	{"paths: class in both, backup first", h + "paths: {backup: [wifi], prefer: [wifi]}\n",
		"voice.yaml:4:34: paths.prefer[0]: class wifi is also in backup (a class is either preferred or backup)"},
	{"paths: prefer mapping", h + "paths: {prefer: {wifi: 1}}\n",
		"voice.yaml:4:17: paths.prefer: want a list of classes (wifi, cellular, wired, virtual), got a mapping"},
	{"paths: prefer null", h + "paths: {prefer: , backup: [wifi]}\n",
		"voice.yaml:4:17: paths.prefer: want a list of classes (wifi, cellular, wired, virtual), got nothing"},
	{"paths: class not a string", h + "paths: {prefer: [[wifi]]}\n",
		"voice.yaml:4:18: paths.prefer[0]: want a class (wifi, cellular, wired, virtual), got a list"},
	{"paths: handover without prefer", h + "paths: {backup: [cellular]}\n",
		"voice.yaml:4:8: paths.prefer: handover mode needs at least one preferred class"},
	{"paths: handover with empty prefer", h + "paths: {prefer: [], backup: [cellular]}\n",
		"voice.yaml:4:17: paths.prefer: handover mode needs at least one preferred class"},
	{"paths: no class", h + "paths: {prefer: [], backup: []}\n",
		"voice.yaml:4:8: paths: no class allowed (list at least one of wifi, cellular, wired, virtual in prefer or backup)"},
	{"handover: list", h + "handover: [5s]\n",
		"voice.yaml:4:11: handover: want a mapping of handover settings (rto, loss_percent, rtt_ms, hold_down, warm_standby), got a list"},
	{"handover: scalar", h + "handover: 5s\n",
		"voice.yaml:4:11: handover: want a mapping of handover settings (rto, loss_percent, rtt_ms, hold_down, warm_standby), got \"5s\""},
	{"handover: unknown key", h + "handover: {hold: 5s}\n",
		"voice.yaml:4:12: handover: unknown field \"hold\" (did you mean \"hold_down\"?)"},
	{"handover: unknown key, belongs elsewhere", h + "handover: {ports: [443]}\n",
		"voice.yaml:4:12: handover: unknown field \"ports\" (want rto, loss_percent, rtt_ms, hold_down, warm_standby)"},
	{"rto: too big", h + "handover: {rto: 101}\n",
		"voice.yaml:4:17: handover.rto: 101 out of range (want 0..100)"},
	{"rto: negative", h + "handover: {rto: -1}\n",
		"voice.yaml:4:17: handover.rto: -1 out of range (want 0..100)"},
	{"rto: word", h + "handover: {rto: one}\n",
		"voice.yaml:4:17: handover.rto: want a whole number 0..100, got \"one\""},
	{"rto: float", h + "handover: {rto: 1.5}\n",
		"voice.yaml:4:17: handover.rto: want a whole number 0..100, got 1.5"},
	{"rto: null", h + "handover: {rto: }\n",
		"voice.yaml:4:17: handover.rto: want a whole number 0..100, got nothing"},
	{"loss_percent: too big", h + "handover: {loss_percent: 101}\n",
		"voice.yaml:4:26: handover.loss_percent: 101 out of range (want 0..100)"},
	{"loss_percent: negative", h + "handover: {loss_percent: -0.5}\n",
		"voice.yaml:4:26: handover.loss_percent: -0.5 out of range (want 0..100)"},
	{"loss_percent: percent sign", h + "handover: {loss_percent: 10%}\n",
		"voice.yaml:4:26: handover.loss_percent: want a number 0..100 without %, got \"10%\" (did you mean 10?)"},
	{"loss_percent: nan", h + "handover: {loss_percent: .nan}\n",
		"voice.yaml:4:26: handover.loss_percent: want a number 0..100, got .nan"},
	{"loss_percent: inf", h + "handover: {loss_percent: .inf}\n",
		"voice.yaml:4:26: handover.loss_percent: want a number 0..100, got .inf"},
	{"loss_percent: word", h + "handover: {loss_percent: ten}\n",
		"voice.yaml:4:26: handover.loss_percent: want a number 0..100, got \"ten\""},
	{"loss_percent: list", h + "handover: {loss_percent: [10]}\n",
		"voice.yaml:4:26: handover.loss_percent: want a number 0..100, got a list"},
	{"rtt_ms: too big", h + "handover: {rtt_ms: 60001}\n",
		"voice.yaml:4:20: handover.rtt_ms: 60001 out of range (want 0..60000)"},
	{"rtt_ms: duration", h + "handover: {rtt_ms: 400ms}\n",
		"voice.yaml:4:20: handover.rtt_ms: want a whole number of milliseconds 0..60000, got \"400ms\" (did you mean 400?)"},
	{"rtt_ms: float", h + "handover: {rtt_ms: 0.5}\n",
		"voice.yaml:4:20: handover.rtt_ms: want a whole number 0..60000, got 0.5"},
	{"hold_down: bare number", h + "handover: {hold_down: 5}\n",
		"voice.yaml:4:23: handover.hold_down: invalid duration \"5\" (want e.g. 500ms, 5s)"},
	{"hold_down: quoted bare number", h + "handover: {hold_down: \"5\"}\n",
		"voice.yaml:4:23: handover.hold_down: invalid duration \"5\" (want e.g. 500ms, 5s)"},
	{"hold_down: space", h + "handover: {hold_down: 5 s}\n",
		"voice.yaml:4:23: handover.hold_down: invalid duration \"5 s\" (want e.g. 500ms, 5s)"},
	{"hold_down: unknown unit", h + "handover: {hold_down: 5sec}\n",
		"voice.yaml:4:23: handover.hold_down: invalid duration \"5sec\" (want e.g. 500ms, 5s)"},
	{"hold_down: too long", h + "handover: {hold_down: 2h}\n",
		"voice.yaml:4:23: handover.hold_down: 2h out of range (want 0s..1h)"},
	{"hold_down: negative", h + "handover: {hold_down: -1s}\n",
		"voice.yaml:4:23: handover.hold_down: -1s out of range (want 0s..1h)"},
	{"hold_down: bool", h + "handover: {hold_down: false}\n",
		"voice.yaml:4:23: handover.hold_down: want a duration like 500ms or 5s, got false"},
	{"hold_down: list", h + "handover: {hold_down: [5s]}\n",
		"voice.yaml:4:23: handover.hold_down: want a duration like 500ms or 5s, got a list"},
	{"warm_standby: yes", h + "handover: {warm_standby: yes}\n",
		"voice.yaml:4:26: handover.warm_standby: want true or false, got \"yes\""},
	{"warm_standby: number", h + "handover: {warm_standby: 1}\n",
		"voice.yaml:4:26: handover.warm_standby: want true or false, got 1"},
	{"warm_standby: quoted", h + "handover: {warm_standby: \"true\"}\n",
		"voice.yaml:4:26: handover.warm_standby: want true or false, got \"true\""},
	{"warm_standby: null", h + "handover: {warm_standby: }\n",
		"voice.yaml:4:26: handover.warm_standby: want true or false, got nothing"},
	{"accept_announcements: on", h + "accept_announcements: on\n",
		"voice.yaml:4:23: accept_announcements: want true or false, got \"on\""},
	{"accept_announcements: list", h + "accept_announcements: [true]\n",
		"voice.yaml:4:23: accept_announcements: want true or false, got a list"},
	{"announcements_from: not a prefix", h + "accept_announcements: true\nannouncements_from: [10.0.0.0/8, example.com]\n",
		"voice.yaml:5:34: announcements_from[1]: invalid address \"example.com\" (want an address or prefix like 10.0.0.0/8 or 2001:db8::/32)"},
	{"announcements_from: host bits", h + "accept_announcements: true\nannouncements_from: 10.0.0.1/8\n",
		"voice.yaml:5:21: announcements_from: 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"},
	{"announcements_from: twice", h + "accept_announcements: true\nannouncements_from: [10.0.0.0/8, 10.0.0.0/8]\n",
		"voice.yaml:5:34: announcements_from[1]: 10.0.0.0/8 is listed twice"},
	{"announcements_from: empty", h + "accept_announcements: true\nannouncements_from: []\n",
		"voice.yaml:5:21: announcements_from: empty list (leave the field out to accept announcements of any address)"},
	{"announcements_from without accept_announcements", h + "announcements_from: [10.0.0.0/8]\n",
		"voice.yaml:4:1: announcements_from: has no effect without accept_announcements: true (announcements are ignored)"},
	{"every mistake reported", "name: Voice\nmatch:\n  ports: [0]\n  process: /bin/voice\nmode: handovr\nhandover:\n  hold_down: 5\n",
		"voice.yaml:1:7: name: invalid name \"Voice\" (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)\nvoice.yaml:3:11: match.ports[0]: port 0 out of range (want 1..65535)\nvoice.yaml:4:12: match.process: \"/bin/voice\" is a path (want the process name (comm), e.g. \"voice\")\nvoice.yaml:5:7: mode: unknown mode \"handovr\" (want handover, interactive, aggregate, single)\nvoice.yaml:7:14: handover.hold_down: invalid duration \"5\" (want e.g. 500ms, 5s)"},
}

func TestParseAnnounce(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader("name: srv\nmatch: {ports: [5201]}\nmode: single\nannounce: [10.0.4.2, \"10.0.4.2:5301\", \"[fd00:4::2]:5301\"]\n"), "srv.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("10.0.4.2:0"), netip.MustParseAddrPort("10.0.4.2:5301"), netip.MustParseAddrPort("[fd00:4::2]:5301")}
	if diff := cmp.Diff(want, p.Announce, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("Announce (-want +got):\n%s", diff)
	}
}
