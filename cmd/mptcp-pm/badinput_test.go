package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badInputs is at least one bad command line for every object, verb and
// keyword of the grammar, with the exact message it prints (after
// "mptcp-pm: "). usage is whether it is a usage error (exit status 2).
// TestBadInputCoverage fails when a command or keyword has none.
var badInputs = []struct {
	args  string
	usage bool
	want  string
}{
	{"--bogus limits", true, `unknown option "--bogus" (try "mptcp-pm help")`},
	{"-j", true, "no object given"},
	{"-n", true, "option -n needs a namespace name"},
	{"-n ns1 --json", true, "no object given"},
	{"frobnicate", true, `unknown object "frobnicate" (expected endpoint, limits, monitor, announce, remove, subflow, connection, daemon, status, policy, reload, run, doc, version, help)`},
	{"endpoint zap", true, `endpoint: unknown command "zap" (expected add, delete, change, show, flush)`},
	{"endpoint add signal", true, "endpoint add: missing ADDR"},
	{"endpoint add 10.0.0.1 port x", true, `endpoint add: invalid port "x": want a number from 1 to 65535`},
	{"endpoint add 10.0.0.1 dev", true, `endpoint add: missing value after "dev"`},
	{"endpoint add 10.0.0.1 id x", true, `endpoint add: invalid id "x": want a number from 0 to 255`},
	{"endpoint add 10.0.0.1 subflow id 256", true, `endpoint add: invalid id "256": want a number from 0 to 255`},
	{"endpoint add 10.0.0.1 backup dev eth9", true, `endpoint add: device "eth9" does not exist`},
	{"endpoint add 10.0.0.1 fullmesh 10.0.0.2", true, `endpoint add: unknown argument "10.0.0.2" (expected ADDR once, port, dev, id, signal, subflow, backup, fullmesh, laminar)`},
	{"endpoint delete id x", true, `endpoint delete: invalid id "x": want a number from 0 to 255`},
	{"endpoint delete id 1 10.0.0.x", true, `endpoint delete: invalid endpoint address "10.0.0.x"`},
	{"endpoint change id 300 backup", true, `endpoint change: invalid id "300": want a number from 0 to 255`},
	{"endpoint change nobackup", true, "endpoint change: missing id ID or ADDR"},
	{"endpoint change id 1 backup nobackup", true, "endpoint change: backup and nobackup contradict each other"},
	{"endpoint change id 1 fullmesh nofullmesh", true, "endpoint change: fullmesh and nofullmesh contradict each other"},
	{"subflow set token 1 local 10.0.2.2 port 1 remote 10.0.3.2 port 2 backup nobackup", true, "subflow set: backup and nobackup contradict each other"},
	{"endpoint change fullmesh id", true, `endpoint change: missing value after "id"`},
	{"endpoint change nofullmesh signal id 1", true, `endpoint change: unknown argument "signal" (expected ADDR, id, port, backup, nobackup, fullmesh, nofullmesh)`},
	{"endpoint show id x", true, `endpoint show: invalid id "x": want a number from 0 to 255`},
	{"endpoint show id", true, `endpoint show: missing value after "id"`},
	{"endpoint flush now", true, `endpoint flush: unknown argument "now" (expected nothing)`},
	{"limits zap", true, `limits: unknown command "zap" (expected set, show)`},
	{"limits set subflows", true, `limits set: missing value after "subflows"`},
	{"limits set add_addr_accepted x", true, `limits set: invalid add_addr_accepted "x": want a number from 0 to 4294967295`},
	{"limits show now", true, `limits show: unknown argument "now" (expected nothing)`},
	{"monitor quality quality", true, `monitor: unknown argument "quality" (expected quality, --json-legacy)`},
	{"monitor --json-legacy now", true, `monitor: unknown argument "now" (expected quality, --json-legacy)`},
	{"endpoint add 10.0.0.1 laminar 10.0.0.2", true, `endpoint add: unknown argument "10.0.0.2" (expected ADDR once, port, dev, id, signal, subflow, backup, fullmesh, laminar)`},
	{"endpoint show token", true, `endpoint show: missing value after "token"`},
	{"endpoint change 10.0.0.1 port 0 backup", true, `endpoint change: invalid port "0": want a number from 1 to 65535`},
	{"monitor now", true, `monitor: unknown argument "now" (expected quality, --json-legacy)`},
	{"monitor decisions now", true, `monitor decisions: unexpected argument "now"`},
	{"monitor decisions --control", true, "monitor decisions: option --control needs a value"},
	{"announce 10.0.0.1 id 1 token 1 port 0", true, `announce: invalid port "0": want a number from 1 to 65535`},
	{"announce 10.0.0.1 id 1 token 1 dev eth9", true, `announce: device "eth9" does not exist`},
	{"announce 10.0.0.1 id x token 1", true, `announce: invalid id "x": want a number from 0 to 255`},
	{"announce 10.0.0.1 id 1 token 0x", true, "announce: invalid token \"0x\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"remove id 1 token xyz", true, "remove: invalid token \"xyz\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"remove id 300 token 1", true, `remove: invalid id "300": want a number from 0 to 255`},
	{"remove id 1 token 1 extra", true, `remove: unknown argument "extra" (expected id, token)`},
	{"subflow", true, "subflow: missing command (expected add, delete, set)"},
	{"subflow zap", true, `subflow: unknown command "zap" (expected add, delete, set)`},
	{"subflow add local 10.0.0.1 remote 10.0.0.2 port 1", true, "subflow add: missing token TOKEN"},
	{"subflow add token 1 remote 10.0.0.2 port 1", true, "subflow add: missing local ADDR"},
	{"subflow add token 1 local 10.0.0.1 port 1", true, "subflow add: missing remote ADDR"},
	{"subflow add token 1 local 10.0.0.1 id 300 remote 10.0.0.2 port 1", true, `subflow add: invalid id "300": want a number from 0 to 255`},
	{"subflow add token 1 local 10.0.0.1 remote 10.0.0.2 port 70000", true, `subflow add: invalid port "70000": want a number from 1 to 65535`},
	{"subflow add token 1 local 10.0.0.1 dev eth9 remote 10.0.0.2 port 1", true, `subflow add: device "eth9" does not exist`},
	{"subflow add token 1 local 10.0.0.1 remote 10.0.0.2 backup", true, "subflow add: no MPTCP connection with token 00000001 in this namespace (\"connection show\" lists them)"},
	{"subflow delete local 10.0.0.1 port 2 remote 10.0.0.2 port 1", true, "subflow delete: missing token TOKEN"},
	{"subflow delete token 1 port 2 remote 10.0.0.2 port 1", true, `subflow delete: "port" must follow "local ADDR" or "remote ADDR"`},
	{"subflow delete token 1 local 10.0.0.1 port 2 port 1", true, "subflow delete: a second port for local"},
	{"subflow delete token 1 local 10.0.0.1 port 2 remote 10.0.0.x port 1", true, `subflow delete: invalid remote address "10.0.0.x" (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)`},
	{"subflow set local 10.0.0.1 port 2 remote 10.0.0.2 port 1 backup", true, "subflow set: missing token TOKEN"},
	{"subflow set token 1 local 10.0.0.1 port 2 remote 10.0.0.2 nobackup", true, "subflow set: no MPTCP connection with token 00000001 in this namespace (\"connection show\" lists them)"},
	{"subflow set token 1 port 2 remote 10.0.0.2 port 1 backup", true, `subflow set: "port" must follow "local ADDR" or "remote ADDR"`},
	{"subflow set token 1 local 10.0.0.1 port 2 remote 10.0.0.2 port 1", true, "subflow set: missing backup or nobackup"},
	{"connection zap", true, `connection: unknown command "zap" (expected show, trace, watch)`},
	{"connection watch token 1x", true, "connection watch: invalid token \"1x\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"connection watch --interval 10ms", true, `connection watch: --interval "10ms": want a duration of at least 100ms, such as 1s`},
	{"connection watch --control", true, "connection watch: option --control needs a value"},
	{"-j connection watch", true, "connection watch: no JSON: it redraws a screen (connection trace -j records one connection)"},
	{"connection trace --svg x.svg", true, "connection trace: which connection? give token TOKEN (or --from FILE)"},
	{"connection trace token xyz --svg x.svg", true, "connection trace: invalid token \"xyz\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"connection trace token 1 --for 0s --svg x.svg", true, `connection trace: --for "0s": want a positive duration such as 10s`},
	{"connection trace token 1 --svg", true, "connection trace: option --svg needs a value"},
	{"connection trace token 1 --html", true, "connection trace: option --html needs a value"},
	{"connection trace token 1 --control", true, "connection trace: option --control needs a value"},
	{"connection trace token 1", true, "connection trace: nothing to write: give --svg FILE or --html FILE (or -j for the recording)"},
	{"connection trace --from rec.json --for 1s --svg x.svg", true, "connection trace: --for is for a live trace, not --from rec.json"},
	{"connection trace --from /nonexistent/rec.json --svg x.svg", false, "open /nonexistent/rec.json: no such file or directory"},
	{"connection show token xyz", true, "connection show: invalid token \"xyz\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"connection show now", true, `connection show: unknown argument "now" (expected token)`},
	{"daemon now", true, `daemon: unexpected argument "now"`},
	{"daemon --bogus", true, `daemon: unknown option "--bogus"`},
	{"daemon -c", true, "daemon: option -c needs a value"},
	{"daemon --control", true, "daemon: option --control needs a value"},
	{"daemon --set-pm-type=yes", true, `daemon: unknown option "--set-pm-type=yes"`},
	{"daemon --endpoints=yes", true, `daemon: unknown option "--endpoints=yes"`},
	{"daemon --force=yes", true, `daemon: unknown option "--force=yes"`},
	{"daemon --dry-run=yes", true, `daemon: unknown option "--dry-run=yes"`},
	{"daemon --dry-run --endpoints -c ../../policy/testdata/example/config.yaml", true,
		"daemon: --dry-run applies to the userspace path manager, not to endpoint mode (pm: kernel in ../../policy/testdata/example/config.yaml, or --endpoints)"},
	{"daemon --log-level loud -c ../../policy/testdata/example/config.yaml", true, `daemon: invalid log level "loud" (want debug, info, warn or error)`},
	{"daemon --log-level", true, "daemon: option --log-level needs a value"},
	{"daemon --quality", true, "daemon: option --quality needs a value"},
	{"daemon --quality fast", true, `daemon: invalid --quality "fast" (want auto, bpf, sockdiag or off)`},
	{"daemon --metrics", true, "daemon: option --metrics needs a value"},
	{"daemon --metrics 9464", true, `daemon: invalid --metrics "9464" (want HOST:PORT, e.g. 127.0.0.1:9464)`},
	{"daemon --event-buffer 12", true, `daemon: invalid --event-buffer "12" (want a number of bytes from 4096 to 1073741824)`},
	{"daemon --event-buffer x", true, `daemon: invalid --event-buffer "x" (want a number of bytes from 4096 to 1073741824)`},
	{"daemon --audit-interval 1ms", true, `daemon: invalid --audit-interval "1ms" (want a duration from 100ms to 1h, e.g. 30s)`},
	{"daemon --audit-interval x", true, `daemon: invalid --audit-interval "x" (want a duration from 100ms to 1h, e.g. 30s)`},
	{"daemon -c /nonexistent/config.yaml", false, "open /nonexistent/config.yaml: no such file or directory"},
	{"daemon --user", true, "daemon: option --user needs a value"},
	{"daemon --user no-such-user-mptcp -c ../../policy/testdata/example/config.yaml", false, `daemon: --user: user "no-such-user-mptcp": user: unknown user no-such-user-mptcp`},
	{"daemon --user root -c ../../policy/testdata/example/config.yaml", false, `daemon: --user: user "root": uid 0 is root: name an unprivileged user`},
	{"status now", true, `status: unexpected argument "now"`},
	{"status --bogus", true, `status: unknown option "--bogus"`},
	{"status --brief=1", true, `status: unknown option "--brief=1"`},
	{"status --control", true, "status: option --control needs a value"},
	{"reload now", true, `reload: unexpected argument "now"`},
	{"reload --control", true, "reload: option --control needs a value"},
	{"connection show --control", true, "connection show: option --control needs a value"},
	{"policy", true, "policy: missing command (expected check, explain)"},
	{"policy zap", true, `policy: unknown command "zap" (expected check, explain)`},
	{"policy check -c", true, "policy check: option -c needs a value"},
	{"policy check --endpoints a.yaml", true, "policy check: FILE... and -c or --endpoints exclude each other (give FILEs to check them alone, or none to check the configuration as the daemon loads it)"},
	{"policy check --bogus", true, `policy check: unknown option "--bogus"`},
	{"policy explain token xyz", true, "policy explain: invalid token \"xyz\": want up to 8 hexadecimal digits, as `mptcp-pm monitor` prints it"},
	{"policy explain token 1 port 443", true, "policy explain: token names a connection: give no port, dest, uid, cgroup or process with it"},
	{"policy explain port 70000", true, `policy explain: invalid port "70000": want a number from 1 to 65535`},
	{"policy explain dest 10.0.0", true, `policy explain: invalid dest address "10.0.0"`},
	{"policy explain uid nobody-such-user", true, `policy explain: invalid uid "nobody-such-user": not a number, and no user of that name`},
	{"policy explain cgroup app.slice", true, `policy explain: invalid cgroup "app.slice": want a cgroup v2 path from the root, e.g. /system.slice/app.service`},
	{"policy explain process", true, `policy explain: missing value after "process"`},
	{"policy explain --control", true, "policy explain: option --control needs a value"},
	{"policy explain port 443 where", true, `policy explain: unknown argument "where" (expected token, port, dest, destination, uid, cgroup, process)`},
	{"version now", true, `version: unexpected argument "now"`},
	{"run", true, "run: missing COMMAND"},
	{"run --method", true, `run: missing value after "--method"`},
	{"run --method zap true", true, `run: unknown method "zap" (expected auto, bpf, godebug, preload)`},
	{"run --policy", true, `run: missing value after "--policy"`},
	{"run -c", true, `run: missing value after "-c"`},
	{"run --quiet=1 true", true, `run: unknown option "--quiet=1" (expected --method, --policy, --config, --quiet or --)`},
	{"run --bogus true", true, `run: unknown option "--bogus" (expected --method, --policy, --config, --quiet or --)`},
	{"doc zap", true, `doc: unknown command "zap" (expected man, completion)`},
	{"doc completion", true, "doc completion: want one shell (bash, zsh, fish)"},
	{"doc completion tcsh", true, `doc completion: unknown argument "tcsh" (expected bash, zsh, fish)`},
	{"doc completion bash zsh", true, "doc completion: want one shell (bash, zsh, fish)"},
	{"doc completion fish fish", true, "doc completion: want one shell (bash, zsh, fish)"},
	{"doc man now", true, `doc man: unknown argument "now" (expected nothing)`},
}

func TestBadInputMessages(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: voice\nmatch: {ports: [443]}\nmode: fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := append(badInputs[:len(badInputs):len(badInputs)],
		struct {
			args  string
			usage bool
			want  string
		}{"policy check " + bad, false, bad + ":3:7: mode: unknown mode \"fast\" (want handover, interactive, aggregate, single)"})
	for _, tt := range cases {
		t.Run(tt.args, func(t *testing.T) {
			pm := &fakePM{}
			e, out, _ := testEnv(pm, nil)
			err := run(e, strings.Fields(tt.args))
			if err == nil {
				t.Fatalf("run: no error (output %q)", out.String())
			}
			var ue *usageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("usage error: %v, want %v (%v)", !tt.usage, tt.usage, err)
			}
			if got := message(err); got != tt.want {
				t.Errorf("message:\n got %s\nwant %s", got, tt.want)
			}
			if len(pm.calls) != 0 {
				t.Errorf("bad input reached the kernel: %v", pm.calls)
			}
		})
	}
}

// TestBadInputCoverage makes sure that every object of the command table,
// every "OBJECT VERB" and every keyword docs.go lists for it has a case in
// badInputs: a new command or keyword needs one.
func TestBadInputCoverage(t *testing.T) {
	has := func(pred func(words []string) bool) bool {
		for _, tt := range badInputs {
			words := strings.Fields(tt.args)
			for len(words) > 0 && strings.HasPrefix(words[0], "-") && words[0] != "--" {
				if words[0] == "-n" && len(words) > 1 {
					words = words[1:]
				}
				words = words[1:]
			}
			if pred(words) {
				return true
			}
		}
		return false
	}
	for _, o := range objects {
		if o.name == "help" {
			continue
		}
		if !has(func(w []string) bool { return len(w) > 0 && w[0] == o.name }) {
			t.Errorf("object %q has no bad-input case", o.name)
		}
	}
	for key, keywords := range commandKeywords {
		cmd := strings.Fields(key)
		prefixed := func(w []string) bool {
			return len(w) >= len(cmd) && strings.Join(w[:len(cmd)], " ") == key
		}
		if !has(prefixed) {
			t.Errorf("command %q has no bad-input case", key)
		}
		for _, kw := range keywords {
			if !has(func(w []string) bool {
				if !prefixed(w) {
					return false
				}
				for _, a := range w[len(cmd):] {
					if a == kw || strings.HasPrefix(a, kw+"=") {
						return true
					}
				}
				return false
			}) {
				t.Errorf("keyword %q of %q has no bad-input case", kw, key)
			}
		}
	}
	// Global options.
	for _, opt := range []string{"-n", "-j", "--bogus"} {
		found := false
		for _, tt := range badInputs {
			found = found || strings.HasPrefix(tt.args, opt)
		}
		if !found {
			t.Errorf("global option %s has no bad-input case", opt)
		}
	}
}
