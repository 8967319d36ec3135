package policy

import (
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

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

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
			filepath.Join(pd, "c.yaml") + ":2:8: { never closed (did not find expected ',' or '}' before the end of the file)",
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
		{"testdata/bad-syntax.yaml", `testdata/bad-syntax.yaml:3:1: found character that cannot start any token (YAML indentation must use spaces, not tabs)`},
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

// LoadFor reads the policy directory only when asked to.
func TestLoadFor(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte("pm: kernel\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kernel := func(c *Config) bool { return c.PM != PMKernel }
	set, err := LoadFor(file, kernel)
	if err != nil || set.Config.PM != PMKernel || set.Policies != nil || set.Config.PolicyDir != defaultPolicyDir {
		t.Errorf("LoadFor(pm: kernel, no policy directory) = %+v, %v", set, err)
	}
	// A configuration that wants policies needs its directory, as Load.
	if _, err := LoadFor(file, func(*Config) bool { return true }); err == nil || !strings.Contains(err.Error(), "policy directory") {
		t.Errorf("LoadFor(policies, no policy directory) = %v, want the missing directory named", err)
	}
	if err := os.WriteFile(file, []byte("pm: bogus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFor(file, kernel); err == nil {
		t.Errorf("LoadFor(bad configuration) = nil error")
	}
}
