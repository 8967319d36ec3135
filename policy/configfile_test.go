package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

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

// configErrorTests do the same for the configuration file.
var configErrorTests = []struct{ name, in, want string }{
	{"config: not a mapping", "- policy_dir: x\n",
		"config.yaml:1:1: want a mapping of configuration fields (policy_dir, set_pm_type, control_socket, control_group, log_level, interfaces, default, pm, endpoints), got a list"},
	{"config: syntax error", "policy_dir: [x\n",
		"config.yaml:1:13: [ never closed (did not find expected ',' or ']' before the end of the file)"},
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
