package policy

import (
	"bufio"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

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

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func classes(cs ...ifmon.Class) []ifmon.Class { return cs }

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

// flatten undoes errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// defaultConfig is what an empty configuration file parses to.
func defaultConfig(source string) *Config {
	return &Config{
		Source:    source,
		PolicyDir: "policies.d",
		Default: Policy{Name: "default", Source: source, Mode: ModeHandover,
			Paths:    Paths{Prefer: classes(ifmon.ClassWifi, ifmon.ClassWired), Backup: classes(ifmon.ClassCellular)},
			Handover: DefaultHandover},
		LogLevel:  "info",
		PM:        PMUserspace,
		Endpoints: DefaultEndpointConfig(),
	}
}

func TestParseConfigGood(t *testing.T) {
	edit := func(f func(c *Config)) *Config {
		c := defaultConfig("config.yaml")
		f(c)
		return c
	}
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{"empty", "", defaultConfig("config.yaml")},
		{"only comments", "# policy_dir: x\n", defaultConfig("config.yaml")},
		{"null document", "---\n", defaultConfig("config.yaml")},
		{"policy_dir", "policy_dir: /etc/x\n", edit(func(c *Config) { c.PolicyDir = "/etc/x" })},
		{"policy_dir: relative, kept as written", "policy_dir: ../p\n", edit(func(c *Config) { c.PolicyDir = "../p" })},
		{"set_pm_type", "set_pm_type: true\n", edit(func(c *Config) { c.SetPMType = true })},
		{"control_socket", "control_socket: /run/x.sock\n", edit(func(c *Config) { c.ControlSocket = "/run/x.sock" })},
		{"control_socket: 107 bytes", "control_socket: /" + strings.Repeat("s", 106) + "\n",
			edit(func(c *Config) { c.ControlSocket = "/" + strings.Repeat("s", 106) })},
		{"control_group", "control_group: netdev\n", edit(func(c *Config) { c.ControlGroup = "netdev" })},
		{"control_group: empty", "control_group: \"\"\n", defaultConfig("config.yaml")},
		{"control_group: numeric", "control_group: 1000\n", edit(func(c *Config) { c.ControlGroup = "1000" })},
		{"log_level: debug", "log_level: debug\n", edit(func(c *Config) { c.LogLevel = "debug" })},
		{"log_level: info", "log_level: info\n", defaultConfig("config.yaml")},
		{"log_level: warn", "log_level: warn\n", edit(func(c *Config) { c.LogLevel = "warn" })},
		{"log_level: error", "log_level: error\n", edit(func(c *Config) { c.LogLevel = "error" })},
		{"interfaces", "interfaces:\n  - {name: \"wlan*\", class: wifi}\n  - name: \"usb[0-9]\"\n    class: cellular\n  - {name: eth0, class: wired}\n  - {name: \"wg*\", class: virtual}\n  - {name: \"\\\\*\", class: wired}\n",
			edit(func(c *Config) {
				c.Interfaces = []InterfaceRule{{"wlan*", ifmon.ClassWifi}, {"usb[0-9]", ifmon.ClassCellular},
					{"eth0", ifmon.ClassWired}, {"wg*", ifmon.ClassVirtual}, {`\*`, ifmon.ClassWired}}
			})},
		{"interfaces: empty", "interfaces: []\n", defaultConfig("config.yaml")},
		{"default: mode only", "default: {mode: single}\n", edit(func(c *Config) { c.Default.Mode = ModeSingle })},
		{"default: empty keeps the defaults", "default: {}\n", defaultConfig("config.yaml")},
		{"default: every field",
			"default:\n  mode: aggregate\n  paths: {prefer: [wired], backup: []}\n  handover: {hold_down: 10s}\n  accept_announcements: true\n",
			edit(func(c *Config) {
				c.Default.Mode = ModeAggregate
				c.Default.Paths = Paths{Prefer: classes(ifmon.ClassWired)}
				c.Default.Handover.HoldDown = 10 * time.Second
				c.Default.AcceptAnnouncements = true
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tt := range configErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err == nil {
				t.Fatalf("ParseConfig = %+v, want error %q", c, tt.want)
			}
			if c != nil {
				t.Errorf("ParseConfig returned a config with the error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
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

func TestParseTooLarge(t *testing.T) {
	in := h + "# " + strings.Repeat("x", maxFileSize) + "\n"
	_, err := ParsePolicy(strings.NewReader(in), "big.yaml")
	if want := "big.yaml: file is larger than 1048576 bytes"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fs.ErrPermission }

func TestParseReadError(t *testing.T) {
	_, err := ParsePolicy(errReader{}, "voice.yaml")
	if !errors.Is(err, fs.ErrPermission) || err.Error() != "read voice.yaml: permission denied" {
		t.Fatalf("err = %v, want read voice.yaml: permission denied", err)
	}
	_, err = ParseConfig(errReader{}, "config.yaml")
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("err = %v, want fs.ErrPermission", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "voice.yaml", Line: 5, Column: 14, Field: "handover.hold_down", Msg: `invalid duration "5" (want e.g. 500ms, 5s)`},
			`voice.yaml:5:14: handover.hold_down: invalid duration "5" (want e.g. 500ms, 5s)`},
		{Error{File: "voice.yaml", Line: 7, Column: 3, Msg: `unknown field "hanover" (did you mean "handover"?)`},
			`voice.yaml:7:3: unknown field "hanover" (did you mean "handover"?)`},
		{Error{File: "voice.yaml", Line: 2, Msg: "m"}, "voice.yaml:2: m"},
		{Error{File: "voice.yaml", Column: 2, Msg: "m"}, "voice.yaml: m"},
		{Error{File: "voice.yaml", Msg: "empty file"}, "voice.yaml: empty file"},
		{Error{Field: "mode", Msg: "m"}, "mode: m"},
		{Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadExample(t *testing.T) {
	s, err := Load("testdata/example/config.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir := filepath.Join("testdata", "example", "policies.d")
	want := &Set{
		Config: &Config{
			Source:    "testdata/example/config.yaml",
			PolicyDir: dir,
			Default: Policy{Name: "default", Source: "testdata/example/config.yaml", Mode: ModeHandover,
				Paths:    Paths{Prefer: classes(ifmon.ClassWifi, ifmon.ClassWired), Backup: classes(ifmon.ClassCellular)},
				Handover: Handover{RTO: 1, LossPercent: 10, RTT: 400 * time.Millisecond, HoldDown: 10 * time.Second}},
			Interfaces: []InterfaceRule{{"wlan*", ifmon.ClassWifi}, {"wwan*", ifmon.ClassCellular}, {"en[op]*", ifmon.ClassWired}},
			SetPMType:  true, ControlSocket: "/run/mptcp-pm/control.sock", ControlGroup: "netdev", LogLevel: "debug",
			PM: PMUserspace, Endpoints: DefaultEndpointConfig(),
		},
		Policies: []*Policy{
			{
				Name: "browser", Source: filepath.Join(dir, "browser.yaml"),
				Match: Match{Ports: []PortRange{{80, 80}, {443, 443}}, UIDs: []uint32{1000}, Cgroup: "/user.slice/user-1000.slice"},
				Mode:  ModeInteractive,
				Paths: Paths{Prefer: classes(ifmon.ClassWifi, ifmon.ClassWired), Backup: classes(ifmon.ClassCellular)},
				// The defaults, not the configuration's default policy.
				Handover:            DefaultHandover,
				AcceptAnnouncements: true,
			},
			{
				Name: "voice", Source: filepath.Join(dir, "voice.yaml"),
				Match: Match{Ports: []PortRange{{5060, 5060}, {10000, 20000}},
					Prefixes: []netip.Prefix{pfx("192.0.2.0/24"), pfx("2001:db8::/32")}, Process: "voice-app"},
				Mode:     ModeHandover,
				Paths:    Paths{Prefer: classes(ifmon.ClassWifi, ifmon.ClassWired), Backup: classes(ifmon.ClassCellular)},
				Handover: Handover{RTO: 1, LossPercent: 5, RTT: 250 * time.Millisecond, HoldDown: 3 * time.Second, WarmStandby: true},
			},
		},
	}
	if diff := cmp.Diff(want, s, cmpOpts); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// writeTree makes files (path → content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func policyText(name string, port int) string {
	return "name: " + name + "\nmatch: {ports: [" + strconv.Itoa(port) + "]}\nmode: handover\n"
}

func TestLoad(t *testing.T) {
	t.Run("file name order, skipping what is not a policy", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"config.yaml":                   "",
			"policies.d/20-b.yml":           policyText("b", 2),
			"policies.d/10-a.yaml":          policyText("a", 1),
			"policies.d/30-c.yaml":          policyText("c", 3),
			"policies.d/README":             "not yaml",
			"policies.d/c.yaml.bak":         "not: [yaml",
			"policies.d/.hidden.yaml":       "not: [yaml",
			"policies.d/sub.yaml/":          "",
			"policies.d/sub.yaml/x.yaml":    "not: [yaml",
			"policies.d/20-b.yml.dpkg-dist": "x",
		})
		s, err := Load(filepath.Join(dir, "config.yaml"))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		var names []string
		for _, p := range s.Policies {
			names = append(names, p.Name)
		}
		if want := []string{"a", "b", "c"}; !slices.Equal(names, want) {
			t.Errorf("policies %v, want %v", names, want)
		}
		if want := filepath.Join(dir, "policies.d"); s.Config.PolicyDir != want {
			t.Errorf("PolicyDir = %q, want %q", s.Config.PolicyDir, want)
		}
	})
	t.Run("empty policy directory", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"config.yaml": "log_level: debug\n", "policies.d/": ""})
		s, err := Load(filepath.Join(dir, "config.yaml"))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if len(s.Policies) != 0 || s.Config.LogLevel != "debug" {
			t.Errorf("Load = %+v", s)
		}
	})
	t.Run("absolute and relative policy_dir", func(t *testing.T) {
		root := writeTree(t, map[string]string{
			"p/x.yaml":         policyText("x", 1),
			"etc/rel.yaml":     "policy_dir: ../p\n",
			"etc/sub/rel.yaml": "policy_dir: ../../p\n",
			"etc/dot.yaml":     "policy_dir: ./../p/\n",
		})
		abs := filepath.Join(root, "etc", "abs.yaml")
		if err := os.WriteFile(abs, []byte("policy_dir: "+filepath.Join(root, "p")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"etc/abs.yaml", "etc/rel.yaml", "etc/sub/rel.yaml", "etc/dot.yaml"} {
			s, err := Load(filepath.Join(root, f))
			if err != nil {
				t.Errorf("Load(%s): %v", f, err)
				continue
			}
			if len(s.Policies) != 1 || s.Policies[0].Name != "x" || s.Config.PolicyDir != filepath.Join(root, "p") {
				t.Errorf("Load(%s): PolicyDir %s, policies %+v", f, s.Config.PolicyDir, s.Policies)
			}
		}
	})
	t.Run("missing configuration file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "config.yaml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("missing policy directory", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"config.yaml": "log_level: info\npolicy_dir: nope\n"})
		cfg := filepath.Join(dir, "config.yaml")
		_, err := Load(cfg)
		want := cfg + ":2:13: policy_dir: policy directory " + filepath.Join(dir, "nope") + ": no such file or directory"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err is not fs.ErrNotExist")
		}
	})
	t.Run("missing default policy directory", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"config.yaml": ""})
		cfg := filepath.Join(dir, "config.yaml")
		_, err := Load(cfg)
		want := cfg + ": policy_dir: policy directory " + filepath.Join(dir, "policies.d") +
			": no such file or directory (policy_dir defaults to policies.d next to the configuration file)"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("policy directory is a file", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"config.yaml": "policy_dir: f\n", "f": ""})
		cfg := filepath.Join(dir, "config.yaml")
		_, err := Load(cfg)
		want := cfg + ":1:13: policy_dir: policy directory " + filepath.Join(dir, "f") + ": not a directory"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("one bad policy file", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"config.yaml":          "",
			"policies.d/a.yaml":    policyText("a", 1),
			"policies.d/bad.yaml":  "name: bad\nmatch: {ports: [443]}\nmode: handovr\n",
			"policies.d/c.yaml":    policyText("c", 3),
			"policies.d/empty.yml": "",
		})
		s, err := Load(filepath.Join(dir, "config.yaml"))
		if s != nil {
			t.Errorf("Load returned a Set with an error")
		}
		pd := filepath.Join(dir, "policies.d")
		want := filepath.Join(pd, "bad.yaml") + `:3:7: mode: unknown mode "handovr" (want handover, interactive, aggregate, single)` + "\n" +
			filepath.Join(pd, "empty.yml") + ": empty file (want a policy: name, match, mode, ...)"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("duplicate names across files", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"config.yaml":       "",
			"policies.d/a.yaml": policyText("voice", 1),
			"policies.d/b.yaml": "# the same name\n" + policyText("voice", 2),
			"policies.d/c.yaml": "mode: single\nmatch: {ports: [1]}\nname: voice\n",
		})
		_, err := Load(filepath.Join(dir, "config.yaml"))
		pd := filepath.Join(dir, "policies.d")
		a, b, c := filepath.Join(pd, "a.yaml"), filepath.Join(pd, "b.yaml"), filepath.Join(pd, "c.yaml")
		want := b + `:2:7: name: duplicate policy name "voice" (first in ` + a + ":1:7)\n" +
			c + `:3:7: name: duplicate policy name "voice" (first in ` + a + ":1:7)"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("every mistake of every file", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"config.yaml":       "log_level: verbose\n",
			"policies.d/a.yaml": "name: a\nmatch: {ports: [0]}\nmode: single\n",
			"policies.d/b.yaml": "name: a\nmatch: {ports: [1]}\nmode: single\nhandover: {hold_down: 5}\n",
			"policies.d/c.yaml": "name: c\nmatch: {ports: [1]\n",
		})
		_, err := Load(filepath.Join(dir, "config.yaml"))
		pd := filepath.Join(dir, "policies.d")
		want := []string{
			filepath.Join(dir, "config.yaml") + `:1:12: log_level: unknown log level "verbose" (want debug, info, warn, error)`,
			filepath.Join(pd, "a.yaml") + ":2:17: match.ports[0]: port 0 out of range (want 1..65535)",
			filepath.Join(pd, "b.yaml") + `:4:23: handover.hold_down: invalid duration "5" (want e.g. 500ms, 5s)`,
			filepath.Join(pd, "b.yaml") + `:1:7: name: duplicate policy name "a" (first in ` + filepath.Join(pd, "a.yaml") + ":1:7)",
			filepath.Join(pd, "c.yaml") + ":1: did not find expected ',' or '}'",
		}
		if err == nil || err.Error() != strings.Join(want, "\n") {
			t.Fatalf("err = %v\nwant %s", err, strings.Join(want, "\n"))
		}
		if n := len(flatten(err)); n != len(want) {
			t.Errorf("%d errors, want %d", n, len(want))
		}
	})
	t.Run("configuration not a mapping", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"config.yaml": "- a\n", "policies.d/a.yaml": "bad"})
		cfg := filepath.Join(dir, "config.yaml")
		_, err := Load(cfg)
		want := cfg + ":1:1: want a mapping of configuration fields (policy_dir, set_pm_type, control_socket, control_group, log_level, interfaces, default, pm, endpoints), got a list"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
}

func TestCheck(t *testing.T) {
	good, err := filepath.Glob("testdata/good-*.yaml")
	if err != nil || len(good) == 0 {
		t.Fatalf("no good testdata: %v", err)
	}
	good = append(good, "testdata/example/config.yaml", "testdata/example/policies.d/voice.yaml",
		"testdata/example/policies.d/browser.yaml", "defaults/config.yaml", "defaults/policies.d/example-voice.yaml")
	if err := Check(good...); err != nil {
		t.Errorf("Check(good files): %v", err)
	}
	if err := Check(); err != nil {
		t.Errorf("Check(): %v", err)
	}

	bad := []struct{ file, want string }{
		{"testdata/bad-unknown-field.yaml", `testdata/bad-unknown-field.yaml:4:3: match: unknown field "uid" (did you mean "uids"?)
testdata/bad-unknown-field.yaml:6:1: unknown field "hanover" (did you mean "handover"?)`},
		{"testdata/bad-values.yaml", `testdata/bad-values.yaml:1:7: name: invalid name "Voice" (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)
testdata/bad-values.yaml:3:16: match.ports[1]: invalid port range "5070-5060": start is after end (did you mean "5060-5070"?)
testdata/bad-values.yaml:4:14: match.prefixes[0]: 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)
testdata/bad-values.yaml:5:11: match.cgroup: "system.slice" is not an absolute path (want e.g. /system.slice/voice.service)
testdata/bad-values.yaml:6:12: match.process: "voice-application-x" is 19 bytes long; the kernel keeps only the first 15 of a process name (did you mean "voice-applicati"?)
testdata/bad-values.yaml:7:7: mode: unknown mode "handovr" (want handover, interactive, aggregate, single)
testdata/bad-values.yaml:9:12: paths.prefer[0]: unknown class "wlan" (want wifi, cellular, wired, virtual)
testdata/bad-values.yaml:10:22: paths.backup[1]: class cellular is listed twice
testdata/bad-values.yaml:12:8: handover.rto: 101 out of range (want 0..100)
testdata/bad-values.yaml:13:17: handover.loss_percent: want a number 0..100 without %, got "10%" (did you mean 10?)
testdata/bad-values.yaml:14:11: handover.rtt_ms: want a whole number 0..60000, got 1.5
testdata/bad-values.yaml:15:14: handover.hold_down: invalid duration "5" (want e.g. 500ms, 5s)
testdata/bad-values.yaml:16:17: handover.warm_standby: want true or false, got "yes"
testdata/bad-values.yaml:17:23: accept_announcements: want true or false, got 1`},
		{"testdata/bad-types.yaml", `testdata/bad-types.yaml:3:10: match.ports: want a list of ports, got a mapping
testdata/bad-types.yaml:4:13: match.prefixes: want an address or prefix like 10.0.0.0/8 or 2001:db8::/32, got 10
testdata/bad-types.yaml:5:10: match.uids[0]: want a whole number 0..4294967294, got a list
testdata/bad-types.yaml:6:11: match.cgroup: want a cgroup path like /system.slice/voice.service, got a list
testdata/bad-types.yaml:7:11: match.process: want a process name (comm) like "voice-app", got nothing
testdata/bad-types.yaml:8:7: mode: want one of handover, interactive, aggregate, single, got a list
testdata/bad-types.yaml:9:8: paths: want a mapping with prefer and backup, e.g. {prefer: [wifi], backup: [cellular]}, got a list
testdata/bad-types.yaml:10:11: handover: want a mapping of handover settings (rto, loss_percent, rtt_ms, hold_down, warm_standby), got "5s"`},
		{"testdata/bad-syntax.yaml", `testdata/bad-syntax.yaml:3: found character that cannot start any token (YAML indentation must use spaces, not tabs)`},
		{"testdata/bad-duplicate-key.yaml", `testdata/bad-duplicate-key.yaml:4:1: duplicate field "mode" (first at line 3)`},
		{"testdata/bad-not-mapping.yaml", `testdata/bad-not-mapping.yaml:1:1: want a mapping of fields (a policy has name, match, mode, ...; a configuration policy_dir, interfaces, default, ...), got a list`},
		{"testdata/bad-config.yaml", `testdata/bad-config.yaml:1:13: policy_dir: empty path (leave the field out for policies.d)
testdata/bad-config.yaml:2:17: control_socket: "run/mptcp-pm.sock" is not an absolute path (want e.g. /run/mptcp-pm/control.sock)
testdata/bad-config.yaml:3:12: log_level: unknown log level "verbose" (want debug, info, warn, error)
testdata/bad-config.yaml:5:13: interfaces[0].name: invalid pattern "wlan[" (want shell syntax: *, ?, [a-z], \ to quote)
testdata/bad-config.yaml:6:29: interfaces[1].class: unknown class "lte" (want wifi, cellular, wired, virtual)
testdata/bad-config.yaml:7:1: unknown field "mode" (it belongs under default:)
testdata/bad-config.yaml:9:3: default.name: not allowed in the default policy, which is named "default"
testdata/bad-config.yaml:11:10: default.paths: no class allowed (list at least one of wifi, cellular, wired, virtual in prefer or backup)`},
		{"testdata/missing.yaml", "open testdata/missing.yaml: no such file or directory"},
	}
	var all []string
	var wantAll []string
	for _, tt := range bad {
		err := Check(tt.file)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Check(%s):\n got %v\nwant %s", tt.file, err, tt.want)
		}
		all = append(all, tt.file)
		wantAll = append(wantAll, tt.want)
	}
	// Every bad file is under test.
	files, _ := filepath.Glob("testdata/bad-*.yaml")
	for _, f := range files {
		if !slices.Contains(all, f) {
			t.Errorf("%s has no test", f)
		}
	}
	// All at once: every error of every file, good files silent.
	if err := Check(append(all, good...)...); err == nil || err.Error() != strings.Join(wantAll, "\n") {
		t.Errorf("Check(all):\n got %v\nwant %s", err, strings.Join(wantAll, "\n"))
	}
	// A name used twice across the policy files given.
	dir := writeTree(t, map[string]string{"a.yaml": policyText("dup", 1), "b.yaml": policyText("dup", 2)})
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	want := b + `:1:7: name: duplicate policy name "dup" (first in ` + a + ":1:7)"
	if err := Check(a, b); err == nil || err.Error() != want {
		t.Errorf("Check(dup):\n got %v\nwant %s", err, want)
	}
}

// The shipped files are valid, and the configuration's values are the
// built-in defaults, as its comments say.
func TestShippedDefaults(t *testing.T) {
	s, err := Load("defaults/config.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := defaultConfig("defaults/config.yaml")
	want.PolicyDir = filepath.Join("defaults", "policies.d")
	// The file spells the default control socket out; it resolves as if
	// unset, in every namespace.
	want.ControlSocket = DefaultControlSocket("")
	if diff := cmp.Diff(want, s.Config, cmpOpts); diff != "" {
		t.Errorf("shipped config differs from the defaults (-want +got):\n%s", diff)
	}
	for _, ns := range []string{"", "blue"} {
		if got, def := s.Config.ControlPath(ns), DefaultControlSocket(ns); got != def {
			t.Errorf("shipped config: ControlPath(%q) = %q, want the default %q", ns, got, def)
		}
	}
	if len(s.Policies) != 1 || s.Policies[0].Name != "example-voice" {
		t.Fatalf("policies %+v, want example-voice", s.Policies)
	}
	// The example must change nothing until edited.
	conn := Conn{Remote: netip.MustParseAddrPort("192.0.2.1:5060"), UID: 1000, Cgroup: "/user.slice", Process: "voice"}
	if p := s.Lookup(conn); p != &s.Config.Default {
		t.Errorf("Lookup(%+v) = %s, want the default", conn, p.Name)
	}
	conn.Process = "example-voice"
	if p := s.Lookup(conn); p.Name != "example-voice" {
		t.Errorf("Lookup(%+v) = %s, want example-voice", conn, p.Name)
	}
}

// The examples in the package documentation are valid files.
func TestDocExamples(t *testing.T) {
	f, err := os.Open("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "//\t"); ok {
			cur.WriteString(l + "\n")
			continue
		}
		if cur.Len() > 0 {
			blocks = append(blocks, cur.String())
			cur.Reset()
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("found %d example blocks in doc.go, want the configuration and a policy", len(blocks))
	}
	if _, err := ParseConfig(strings.NewReader(blocks[0]), "doc.go config"); err != nil {
		t.Errorf("configuration example: %v", err)
	}
	if _, err := ParsePolicy(strings.NewReader(blocks[1]), "doc.go policy"); err != nil {
		t.Errorf("policy example: %v", err)
	}
}

func TestEditDistanceSuggestions(t *testing.T) {
	tests := []struct{ key, want string }{
		{"hanover", "handover"},
		{"handovr", "handover"},
		{"Handover", "handover"},
		{"hold-down", "hold_down"},
		{"holdDown", "hold_down"},
		{"hold", "hold_down"},
		{"loss", "loss_percent"},
		{"rtt", "rtt_ms"},
		{"uid", "uids"},
		{"x", ""},
		{"zz", ""},
		{"colour", ""},
	}
	known := append(append(slices.Clone(policyKeys), handoverKeys...), matchKeys...)
	for _, tt := range tests {
		if got := closest(tt.key, known); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	conn := func(remote string, uid uint32, cgroup, process string) Conn {
		return Conn{Remote: netip.MustParseAddrPort(remote), UID: uid, Cgroup: cgroup, Process: process}
	}
	c := conn("192.0.2.1:443", 1000, "/user.slice/app", "firefox")
	tests := []struct {
		name string
		m    Match
		c    Conn
		want bool
	}{
		{"empty match never matches", Match{}, c, false},
		{"port", Match{Ports: []PortRange{{443, 443}}}, c, true},
		{"other port", Match{Ports: []PortRange{{80, 80}}}, c, false},
		{"any of the ports", Match{Ports: []PortRange{{80, 80}, {443, 443}}}, c, true},
		{"range start", Match{Ports: []PortRange{{443, 500}}}, c, true},
		{"range end", Match{Ports: []PortRange{{400, 443}}}, c, true},
		{"below range", Match{Ports: []PortRange{{444, 500}}}, c, false},
		{"above range", Match{Ports: []PortRange{{1, 442}}}, c, false},
		{"prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.0/24")}}, c, true},
		{"other prefix", Match{Prefixes: []netip.Prefix{pfx("198.51.100.0/24")}}, c, false},
		{"host prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.1/32")}}, c, true},
		{"v4-mapped remote, v4 prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.0/24")}},
			conn("[::ffff:192.0.2.1]:443", 0, "", ""), true},
		{"v4 remote, v6 prefix", Match{Prefixes: []netip.Prefix{pfx("::/0")}}, c, false},
		{"v6 remote", Match{Prefixes: []netip.Prefix{pfx("2001:db8::/32")}}, conn("[2001:db8::1]:443", 0, "", ""), true},
		{"v6 remote, v4 prefix", Match{Prefixes: []netip.Prefix{pfx("0.0.0.0/0")}}, conn("[2001:db8::1]:443", 0, "", ""), false},
		{"uid", Match{UIDs: []uint32{1, 1000}}, c, true},
		{"other uid", Match{UIDs: []uint32{0}}, c, false},
		{"uid 0", Match{UIDs: []uint32{0}}, conn("192.0.2.1:1", 0, "", ""), true},
		{"cgroup itself", Match{Cgroup: "/user.slice/app"}, c, true},
		{"cgroup below", Match{Cgroup: "/user.slice"}, c, true},
		{"cgroup, not a name prefix", Match{Cgroup: "/user.slice/ap"}, c, false},
		{"cgroup above", Match{Cgroup: "/user.slice/app/tab"}, c, false},
		{"cgroup root", Match{Cgroup: "/"}, c, true},
		{"cgroup /a/b vs /a/b", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/b", ""), true},
		{"cgroup /a/b vs /a/b/c", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/b/c", ""), true},
		{"cgroup /a/b vs /a/bc", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/bc", ""), false},
		{"cgroup unknown", Match{Cgroup: "/a"}, conn("192.0.2.1:1", 0, "", ""), false},
		{"process", Match{Process: "firefox"}, c, true},
		{"other process", Match{Process: "firefox-bin"}, c, false},
		{"process unknown", Match{Process: "firefox"}, conn("192.0.2.1:1", 0, "", ""), false},
		{"all conditions hold", Match{Ports: []PortRange{{443, 443}}, Prefixes: []netip.Prefix{pfx("192.0.2.0/24")},
			UIDs: []uint32{1000}, Cgroup: "/user.slice", Process: "firefox"}, c, true},
		{"and: port fails", Match{Ports: []PortRange{{80, 80}}, UIDs: []uint32{1000}, Process: "firefox"}, c, false},
		{"and: prefix fails", Match{Ports: []PortRange{{443, 443}}, Prefixes: []netip.Prefix{pfx("10.0.0.0/8")}}, c, false},
		{"and: uid fails", Match{Ports: []PortRange{{443, 443}}, UIDs: []uint32{0}}, c, false},
		{"and: cgroup fails", Match{Ports: []PortRange{{443, 443}}, Cgroup: "/system.slice"}, c, false},
		{"and: process fails", Match{Ports: []PortRange{{443, 443}}, Process: "curl"}, c, false},
	}
	for _, tt := range tests {
		if got := tt.m.Matches(tt.c); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	parse := func(in string) *Policy {
		t.Helper()
		p, err := ParsePolicy(strings.NewReader(in), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := ParseConfig(strings.NewReader("default: {mode: single}\n"), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{Config: cfg, Policies: []*Policy{
		parse("name: https-user\nmatch: {ports: [443], uids: [1000]}\nmode: interactive\n"),
		parse("name: https\nmatch: {ports: [443]}\nmode: aggregate\n"),
		parse("name: voice\nmatch: {process: voice-app}\nmode: handover\n"),
		parse("name: voice-late\nmatch: {process: voice-app, ports: [5060]}\nmode: single\n"),
	}}
	tests := []struct {
		name string
		c    Conn
		want string
	}{
		{"first file wins", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443"), UID: 1000}, "https-user"},
		{"next when the first fails", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443"), UID: 0}, "https"},
		{"earlier wins over more specific", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:5060"), Process: "voice-app"}, "voice"},
		{"default when none", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:80"), UID: 1000}, "default"},
		{"default for the zero conn", Conn{}, "default"},
	}
	for _, tt := range tests {
		p := s.Lookup(tt.c)
		if p.Name != tt.want {
			t.Errorf("%s: Lookup = %s, want %s", tt.name, p.Name, tt.want)
		}
	}
	if p := s.Lookup(Conn{}); p != &s.Config.Default || p.Mode != ModeSingle {
		t.Errorf("Lookup did not return the configuration's default policy")
	}
	empty := &Set{Config: cfg}
	if p := empty.Lookup(Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443")}); p != &cfg.Default {
		t.Errorf("Lookup on a Set without policies = %s, want default", p.Name)
	}
}

// fuzzSeeds are the testdata, example and shipped files.
func fuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/example/policies.d/*.yaml")
	files = append(append(files, more...), "testdata/example/config.yaml", "defaults/config.yaml", "defaults/policies.d/example-voice.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range policyErrorTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range configErrorTests {
		f.Add([]byte(tt.in))
	}
}

// checkFuzzErr checks that every mistake is an *Error of the file.
func checkFuzzErr(t *testing.T, err error, file string) {
	for _, e := range flatten(err) {
		var pe *Error
		if !errors.As(e, &pe) || pe.File != file || pe.Msg == "" || !strings.HasPrefix(e.Error(), file+":") {
			t.Fatalf("error %q (%T) is not an *Error of %s", e, e, file)
		}
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

func FuzzParseConfig(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(strings.NewReader(string(data)), "fuzz.yaml")
		if err != nil {
			if c != nil {
				t.Fatalf("config and error")
			}
			checkFuzzErr(t, err, "fuzz.yaml")
			return
		}
		if c.Default.Name != "default" || !slices.Contains(Modes, c.Default.Mode) || !strings.HasPrefix(c.ControlPath(""), "/") || c.PolicyDir == "" {
			t.Fatalf("invalid config accepted: %+v", c)
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
		"voice.yaml:1: did not find expected ',' or '}'"},
	{"tab indentation", "name: voice\nmatch:\n\tports: [443]\nmode: handover\n",
		"voice.yaml:3: found character that cannot start any token (YAML indentation must use spaces, not tabs)"},
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

// configErrorTests do the same for the configuration file.
var configErrorTests = []struct{ name, in, want string }{
	{"config: not a mapping", "- policy_dir: x\n",
		"config.yaml:1:1: want a mapping of configuration fields (policy_dir, set_pm_type, control_socket, control_group, log_level, interfaces, default, pm, endpoints), got a list"},
	{"config: syntax error", "policy_dir: [x\n",
		"config.yaml:1: did not find expected ',' or ']'"},
	{"config: two documents", "log_level: info\n---\nlog_level: debug\n",
		"config.yaml:2:1: a second YAML document (---): a file holds only one"},
	{"config: policy file", "name: voice\nmatch: {ports: [443]}\n",
		"config.yaml:1:1: unknown field \"name\" (a file with name: is a policy file; policies go in policy_dir)\nconfig.yaml:2:1: unknown field \"match\" (a file with match: is a policy file; policies go in policy_dir)"},
	{"config: policy key", "mode: single\n",
		"config.yaml:1:1: unknown field \"mode\" (it belongs under default:)"},
	{"config: unknown key", "policy_directory: x\n",
		"config.yaml:1:1: unknown field \"policy_directory\" (want policy_dir, set_pm_type, control_socket, control_group, log_level, interfaces, default, pm, endpoints)"},
	{"config: duplicate key", "log_level: info\nlog_level: debug\n",
		"config.yaml:2:1: duplicate field \"log_level\" (first at line 1)"},
	{"policy_dir: empty", "policy_dir: \"\"\n",
		"config.yaml:1:13: policy_dir: empty path (leave the field out for policies.d)"},
	{"policy_dir: list", "policy_dir: [a]\n",
		"config.yaml:1:13: policy_dir: want a directory, got a list"},
	{"policy_dir: null", "policy_dir:\n",
		"config.yaml:1:12: policy_dir: want a directory, got nothing"},
	{"set_pm_type: yes", "set_pm_type: yes\n",
		"config.yaml:1:14: set_pm_type: want true or false, got \"yes\""},
	{"set_pm_type: number", "set_pm_type: 1\n",
		"config.yaml:1:14: set_pm_type: want true or false, got 1"},
	{"control_socket: relative", "control_socket: run/mptcp-pm.sock\n",
		"config.yaml:1:17: control_socket: \"run/mptcp-pm.sock\" is not an absolute path (want e.g. /run/mptcp-pm/control.sock)"},
	{"control_socket: abstract", "control_socket: \"@mptcp-pm\"\n",
		"config.yaml:1:17: control_socket: \"@mptcp-pm\" is not an absolute path (want e.g. /run/mptcp-pm/control.sock)"},
	{"control_socket: too long", "control_socket: /sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss\n",
		"config.yaml:1:17: control_socket: path is 108 bytes long; a unix socket path has at most 107"},
	{"control_socket: list", "control_socket: [/a]\n",
		"config.yaml:1:17: control_socket: want an absolute path, got a list"},
	{"control_group: space", "control_group: \"net dev\"\n",
		"config.yaml:1:16: control_group: invalid group name \"net dev\" (want at most 32 characters, without spaces, ':', ',' or '/')"},
	{"control_group: colon", "control_group: \"a:b\"\n",
		"config.yaml:1:16: control_group: invalid group name \"a:b\" (want at most 32 characters, without spaces, ':', ',' or '/')"},
	{"control_group: too long", "control_group: ggggggggggggggggggggggggggggggggg\n",
		"config.yaml:1:16: control_group: invalid group name \"ggggggggggggggggggggggggggggggggg\" (want at most 32 characters, without spaces, ':', ',' or '/')"},
	{"control_group: list", "control_group: [a]\n",
		"config.yaml:1:16: control_group: want a group name, got a list"},
	{"log_level: unknown", "log_level: verbose\n",
		"config.yaml:1:12: log_level: unknown log level \"verbose\" (want debug, info, warn, error)"},
	{"log_level: upper case", "log_level: INFO\n",
		"config.yaml:1:12: log_level: unknown log level \"INFO\" (want debug, info, warn, error)"},
	{"log_level: list", "log_level: [info]\n",
		"config.yaml:1:12: log_level: want one of debug, info, warn, error, got a list"},
	{"interfaces: mapping", "interfaces: {name: wlan0, class: wifi}\n",
		"config.yaml:1:13: interfaces: want a list of rules like {name: \"wlan*\", class: wifi}, got a mapping"},
	{"interfaces: scalar", "interfaces: wlan0\n",
		"config.yaml:1:13: interfaces: want a list of rules like {name: \"wlan*\", class: wifi}, got \"wlan0\""},
	{"interfaces: null", "interfaces:\n",
		"config.yaml:1:12: interfaces: want a list of rules like {name: \"wlan*\", class: wifi}, got nothing"},
	{"interfaces: rule not a mapping", "interfaces:\n  - wlan0\n",
		"config.yaml:2:5: interfaces[0]: want a rule like {name: \"wlan*\", class: wifi}, got \"wlan0\""},
	{"interfaces: missing name", "interfaces:\n  - {class: wifi}\n",
		"config.yaml:2:5: interfaces[0].name: required field is missing (want a pattern like \"wlan*\")"},
	{"interfaces: missing class", "interfaces:\n  - {name: wlan0}\n",
		"config.yaml:2:5: interfaces[0].class: required field is missing (want wifi, cellular, wired, virtual)"},
	{"interfaces: unknown key", "interfaces:\n  - {name: wlan0, clas: wifi}\n",
		"config.yaml:2:19: interfaces[0]: unknown field \"clas\" (did you mean \"class\"?)\nconfig.yaml:2:5: interfaces[0].class: required field is missing (want wifi, cellular, wired, virtual)"},
	{"interfaces: bad pattern", "interfaces:\n  - {name: \"wlan[\", class: wifi}\n",
		"config.yaml:2:12: interfaces[0].name: invalid pattern \"wlan[\" (want shell syntax: *, ?, [a-z], \\ to quote)"},
	{"interfaces: empty pattern", "interfaces:\n  - {name: \"\", class: wifi}\n",
		"config.yaml:2:12: interfaces[0].name: empty pattern (want e.g. \"wlan*\")"},
	{"interfaces: name too long", "interfaces:\n  - {name: averyverylongname0, class: wifi}\n",
		"config.yaml:2:12: interfaces[0].name: \"averyverylongname0\" is longer than 15 bytes, the longest interface name Linux allows"},
	{"interfaces: pattern twice", "interfaces:\n  - {name: \"wlan*\", class: wifi}\n  - {name: \"wlan*\", class: cellular}\n",
		"config.yaml:3:12: interfaces[1].name: pattern \"wlan*\" is already in interfaces[0] (the first match wins, so this rule is never used)"},
	{"interfaces: unknown class", "interfaces:\n  - {name: wwan0, class: lte}\n",
		"config.yaml:2:26: interfaces[0].class: unknown class \"lte\" (want wifi, cellular, wired, virtual)"},
	{"interfaces: loopback class", "interfaces:\n  - {name: lo, class: loopback}\n",
		"config.yaml:2:23: interfaces[0].class: class loopback is not allowed here (want wifi, cellular, wired, virtual)"},
	{"interfaces: name not a string", "interfaces:\n  - {name: [wlan0], class: wifi}\n",
		"config.yaml:2:12: interfaces[0].name: want an interface name pattern like \"wlan*\", got a list"},
	{"default: not a mapping", "default: handover\n",
		"config.yaml:1:10: default: want a mapping of policy fields (mode, paths, handover, accept_announcements, announcements_from, announce, mptcpify), got \"handover\""},
	{"default: name", "default:\n  name: fallback\n",
		"config.yaml:2:3: default.name: not allowed in the default policy, which is named \"default\""},
	{"default: match", "default:\n  match: {ports: [443]}\n",
		"config.yaml:2:3: default.match: not allowed in the default policy: it applies to the connections no application matches"},
	{"default: condition", "default:\n  ports: [443]\n",
		"config.yaml:2:3: default: unknown field \"ports\" (the default policy has no match: it applies to the connections no application matches)"},
	{"default: config key", "default:\n  log_level: debug\n",
		"config.yaml:2:3: default: unknown field \"log_level\" (it is a top-level key of the configuration file, not of default:)"},
	{"default: unknown key", "default:\n  mdoe: single\n",
		"config.yaml:2:3: default: unknown field \"mdoe\" (did you mean \"mode\"?)"},
	{"default: mode", "default:\n  mode: handovr\n",
		"config.yaml:2:9: default.mode: unknown mode \"handovr\" (want handover, interactive, aggregate, single)"},
	{"default: paths", "default:\n  mode: handover\n  paths: {backup: [cellular]}\n",
		"config.yaml:3:10: default.paths.prefer: handover mode needs at least one preferred class"},
	{"default: handover", "default:\n  handover: {hold_down: 5}\n",
		"config.yaml:2:25: default.handover.hold_down: invalid duration \"5\" (want e.g. 500ms, 5s)"},
	{"default: accept_announcements", "default:\n  accept_announcements: no\n",
		"config.yaml:2:25: default.accept_announcements: want true or false, got \"no\""},
	{"default: announcements_from", "default:\n  accept_announcements: true\n  announcements_from: [fe80::/10, 10.0.0.0/33]\n",
		"config.yaml:3:35: default.announcements_from[1]: invalid prefix length \"33\" in \"10.0.0.0/33\" (want 0..32)"},
}

func TestParseConfigPM(t *testing.T) {
	u := func(v uint32) *uint32 { return &v }
	def := func(f func(p *Config)) *Config {
		p := defaultConfig("config.yaml")
		if f != nil {
			f(p)
		}
		return p
	}
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{"empty file", "", def(nil)},
		{"pm: userspace", "pm: userspace\n", def(nil)},
		{"pm: kernel", "pm: kernel\n", def(func(p *Config) { p.PM = PMKernel })},
		{"endpoints: nothing keeps the defaults", "endpoints:\n", def(func(p *Config) { p.HasEndpoints = true })},
		{"endpoints: {}", "endpoints: {}\n", def(func(p *Config) { p.HasEndpoints = true })},
		{"the end-to-end test's configuration",
			"pm: kernel\nendpoints:\n  interfaces: [\"wlan*\", \"eth*\", \"wwan*\"]\n  flags: [subflow]\n  backup: [cellular]\n  limits: { subflows: 2, add_addr_accepted: 2 }\n",
			def(func(p *Config) {
				p.PM, p.HasEndpoints = PMKernel, true
				p.Endpoints = &EndpointConfig{Interfaces: []string{"wlan*", "eth*", "wwan*"}, Flags: genl.FlagSubflow,
					Backup: classes(ifmon.ClassCellular), Limits: genl.LimitsUpdate{Subflows: u(2), AddAddrAccepted: u(2)}}
			})},
		{"scalars for lists of one, every flag but signal",
			"endpoints: {interfaces: wlan0, flags: [subflow, backup, fullmesh], backup: wired, limits: {subflows: \"8\"}}\n",
			def(func(p *Config) {
				p.HasEndpoints = true
				p.Endpoints = &EndpointConfig{Interfaces: []string{"wlan0"}, Flags: genl.FlagSubflow | genl.FlagBackup | genl.FlagFullmesh,
					Backup: classes(ifmon.ClassWired), Limits: genl.LimitsUpdate{Subflows: u(8)}}
			})},
		{"signal, no backup class, zero limit", "endpoints: {flags: signal, backup: [], limits: {add_addr_accepted: 0}}\n",
			def(func(p *Config) {
				p.HasEndpoints = true
				p.Endpoints = &EndpointConfig{Flags: genl.FlagSignal, Limits: genl.LimitsUpdate{AddAddrAccepted: u(0)}}
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got == nil {
				t.Fatal("ParseConfig returned no Config")
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigPMErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"pm: unknown", "pm: kernal\n",
			`config.yaml:1:5: pm: unknown path manager "kernal" (want userspace or kernel)`},
		{"pm: list", "pm: [kernel]\n",
			`config.yaml:1:5: pm: want userspace or kernel, got a list`},
		{"endpoints: list", "endpoints: [wlan0]\n",
			`config.yaml:1:12: endpoints: want a mapping of endpoint settings (interfaces, flags, backup, limits), got a list`},
		{"endpoints: unknown key", "endpoints:\n  interface: [wlan0]\n",
			`config.yaml:2:3: endpoints: unknown field "interface" (did you mean "interfaces"?)`},
		{"flags at the top level", "flags: [subflow]\n",
			`config.yaml:1:1: unknown field "flags" (it belongs under endpoints:)`},
		{"subflows at the top level", "subflows: 2\n",
			`config.yaml:1:1: unknown field "subflows" (it belongs under endpoints.limits:)`},
		{"interfaces: empty list", "endpoints: {interfaces: []}\n",
			`config.yaml:1:25: endpoints.interfaces: empty list (leave the field out for every interface that is not loopback or virtual)`},
		{"interfaces: bad pattern", "endpoints:\n  interfaces: [\"wlan[\", \"\"]\n",
			"config.yaml:2:16: endpoints.interfaces[0]: invalid pattern \"wlan[\" (want shell syntax: *, ?, [a-z], \\ to quote)\n" +
				`config.yaml:2:25: endpoints.interfaces[1]: empty pattern (want e.g. "wlan*")`},
		{"interfaces: too long, twice, not a string", "endpoints:\n  interfaces: [abcdefghijklmnopq, \"wlan*\", \"wlan*\", {a: b}]\n",
			"config.yaml:2:16: endpoints.interfaces[0]: \"abcdefghijklmnopq\" is longer than 15 bytes, the longest interface name Linux allows\n" +
				"config.yaml:2:44: endpoints.interfaces[2]: pattern \"wlan*\" is already in endpoints.interfaces[1]\n" +
				`config.yaml:2:53: endpoints.interfaces[3]: want an interface name pattern like "wlan*", got a mapping`},
		{"flags: signal and fullmesh", "endpoints:\n  flags: [signal, fullmesh]\n",
			`config.yaml:2:10: endpoints.flags: signal and fullmesh together are refused by the kernel (a fullmesh endpoint opens subflows, a signal one is announced)`},
		{"flags: unknown, kernel's, twice", "endpoints:\n  flags: [subflow, subflows, implicit, subflow]\n",
			"config.yaml:2:20: endpoints.flags[1]: unknown flag \"subflows\" (want subflow, signal, backup, fullmesh)\n" +
				"config.yaml:2:30: endpoints.flags[2]: flag implicit is set by the kernel, not by configuration (want subflow, signal, backup, fullmesh)\n" +
				"config.yaml:2:40: endpoints.flags[3]: flag subflow is listed twice"},
		{"flags: empty", "endpoints: {flags: []}\n",
			`config.yaml:1:20: endpoints.flags: empty list (want at least one of subflow, signal, backup, fullmesh; leave the field out for subflow)`},
		{"backup: bad classes", "endpoints:\n  backup: [cellular, loopback, lte, cellular]\n",
			"config.yaml:2:22: endpoints.backup[1]: class loopback never has endpoints (want wifi, cellular, wired, virtual)\n" +
				"config.yaml:2:32: endpoints.backup[2]: unknown class \"lte\" (want wifi, cellular, wired, virtual)\n" +
				"config.yaml:2:37: endpoints.backup[3]: class cellular is listed twice"},
		{"limits: out of range, unknown, not a number", "endpoints:\n  limits: {subflows: 9, add_addr: 1}\n",
			"config.yaml:2:22: endpoints.limits.subflows: 9 out of range (want 0..8)\n" +
				`config.yaml:2:25: endpoints.limits: unknown field "add_addr" (did you mean "add_addr_accepted"?)`},
		{"limits: negative, text", "endpoints:\n  limits:\n    subflows: -1\n    add_addr_accepted: two\n",
			"config.yaml:3:15: endpoints.limits.subflows: -1 out of range (want 0..8)\n" +
				`config.yaml:4:24: endpoints.limits.add_addr_accepted: want a whole number 0..8, got "two"`},
		{"limits: a number", "endpoints: {limits: 2}\n",
			`config.yaml:1:21: endpoints.limits: want a mapping of limits (subflows, add_addr_accepted), e.g. {subflows: 2, add_addr_accepted: 2}, got 2`},
		{"pm in a policy file is refused there", "name: x\nmatch: {ports: 1}\nmode: single\npm: kernel\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				_, err := ParsePolicy(strings.NewReader(tt.in), "p.yaml")
				want := `p.yaml:4:1: unknown field "pm" (it is a key of the configuration file, not of a policy file)`
				if err == nil || err.Error() != want {
					t.Errorf("ParsePolicy error:\n got %v\nwant %s", err, want)
				}
				return
			}
			cfg, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err == nil {
				t.Fatalf("ParseConfig = %+v, want error %q", cfg, tt.want)
			}
			if cfg != nil {
				t.Errorf("ParseConfig returned a result with the error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestControlPath(t *testing.T) {
	tests := []struct {
		name, in, netns, want string
	}{
		{"unset", "", "", "/run/mptcp-pm/control.sock"},
		{"unset, named namespace", "", "blue", "/run/mptcp-pm/netns-blue.sock"},
		{"unset, namespace given as a path", "", "/run/netns/blue", "/run/mptcp-pm/netns-blue.sock"},
		{"set", "control_socket: /run/x.sock\n", "", "/run/x.sock"},
		{"set, named namespace", "control_socket: /run/x.sock\n", "blue", "/run/x.sock"},
		{"the default spelled out", "control_socket: /run/mptcp-pm/control.sock\n", "", "/run/mptcp-pm/control.sock"},
		{"the default spelled out, named namespace", "control_socket: /run/mptcp-pm/control.sock\n", "blue", "/run/mptcp-pm/netns-blue.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ControlPath(tt.netns); got != tt.want {
				t.Errorf("ControlPath(%q) = %q, want %q", tt.netns, got, tt.want)
			}
		})
	}
	if got, want := DefaultControlSocket(""), "/run/mptcp-pm/control.sock"; got != want {
		t.Errorf("DefaultControlSocket(\"\") = %q, want %q", got, want)
	}
}

func TestLoadConfig(t *testing.T) {
	// No policy directory is needed.
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte("pm: kernel\nendpoints: {interfaces: \"wlan*\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Source != file || cfg.PM != PMKernel || !cfg.HasEndpoints || !slices.Equal(cfg.Endpoints.Interfaces, []string{"wlan*"}) {
		t.Errorf("LoadConfig = %+v", cfg)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig(missing) = %v, want fs.ErrNotExist", err)
	}
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

func TestMatchServiceSide(t *testing.T) {
	m := Match{Ports: []PortRange{{5201, 5201}}}
	client := Conn{Remote: netip.MustParseAddrPort("10.0.3.2:5201"), Local: netip.MustParseAddrPort("10.0.1.2:40000")}
	server := Conn{ServerSide: true, Local: netip.MustParseAddrPort("10.0.3.2:5201"), Remote: netip.MustParseAddrPort("10.0.1.2:40000")}
	serverOther := Conn{ServerSide: true, Local: netip.MustParseAddrPort("10.0.3.2:40000"), Remote: netip.MustParseAddrPort("10.0.1.2:5201")}
	if !m.Matches(client) || !m.Matches(server) || m.Matches(serverOther) {
		t.Errorf("service port: client %v, server %v, server on another port %v; want true, true, false",
			m.Matches(client), m.Matches(server), m.Matches(serverOther))
	}
}
