package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// installation writes config.yaml with text and the policies (file name
// to text) into policies.d beside it, unless policies is nil, and returns
// the configuration's path.
func installation(t *testing.T, config string, policies map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if policies != nil {
		if err := os.Mkdir(filepath.Join(dir, "policies.d"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range policies {
		if err := os.WriteFile(filepath.Join(dir, "policies.d", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPolicyCheckInstalled: with no FILE, `policy check` checks the
// configuration and its policy directory as the daemon loads them.
func TestPolicyCheckInstalled(t *testing.T) {
	cfg := installation(t, "log_level: debug\n", map[string]string{
		"voice.yaml":  "name: voice\nmatch: {ports: [443]}\nmode: handover\n",
		"backup.yaml": "name: backup\nmatch: {ports: [873]}\nmode: aggregate\n",
		"README":      "not a policy: not read",
	})
	pd := filepath.Join(filepath.Dir(cfg), "policies.d")
	for _, flag := range []string{"-c", "--config", "--config="} {
		args := []string{"policy", "check", flag, cfg}
		if strings.HasSuffix(flag, "=") {
			args = []string{"policy", "check", flag + cfg}
		}
		want := cfg + " OK, 2 policies (backup, voice) in " + pd + "\n"
		if got := cli(t, args...); got != want {
			t.Errorf("%s:\n got %q\nwant %q", strings.Join(args, " "), got, want)
		}
	}
	// A mistake in a policy file fails the check, as it stops the daemon.
	bad := installation(t, "", map[string]string{"voice.yaml": "name: voice\nmatch: {ports: [443]}\nmode: fast\n"})
	e, _, _ := testEnv(&fakePM{}, nil)
	err := run(e, []string{"policy", "check", "-c", bad})
	want := filepath.Join(filepath.Dir(bad), "policies.d", "voice.yaml") + `:3:7: mode: unknown mode "fast" (want handover, interactive, aggregate, single)`
	if err == nil || message(err) != want {
		t.Errorf("policy check of a bad policy: %v, want %s", err, want)
	}
	// Endpoint mode reads no policies: none is needed.
	one := installation(t, "", map[string]string{"voice.yaml": "name: voice\nmatch: {ports: [443]}\nmode: handover\n"})
	oneDir := filepath.Join(filepath.Dir(one), "policies.d")
	if got, want := cli(t, "policy", "check", "-c", one), one+" OK, 1 policy (voice) in "+oneDir+"\n"; got != want {
		t.Errorf("policy check of one policy:\n got %q\nwant %q", got, want)
	}
	empty := installation(t, "", map[string]string{})
	emptyDir := filepath.Join(filepath.Dir(empty), "policies.d")
	if got, want := cli(t, "policy", "check", "-c", empty), empty+" OK, 0 policies in "+emptyDir+"\n"; got != want {
		t.Errorf("policy check of an empty policy directory:\n got %q\nwant %q", got, want)
	}
	// A FIFO in the policy directory is skipped with a word, as the daemon
	// skips it with a warning.
	fifo := filepath.Join(emptyDir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	want = "skipped: " + fifo + ": not a regular file (a FIFO): not read\n" + empty + " OK, 0 policies in " + emptyDir + "\n"
	if got := cli(t, "policy", "check", "-c", empty); got != want {
		t.Errorf("policy check with a FIFO in the policy directory:\n got %q\nwant %q", got, want)
	}
	kernel := installation(t, "pm: kernel\n", nil)
	if got, want := cli(t, "policy", "check", "-c", kernel), kernel+" OK (endpoint mode: no policies read)\n"; got != want {
		t.Errorf("policy check in endpoint mode:\n got %q\nwant %q", got, want)
	}
	noDir := installation(t, "", nil)
	if got, want := cli(t, "policy", "check", "-c", noDir, "--endpoints"), noDir+" OK (endpoint mode: no policies read)\n"; got != want {
		t.Errorf("policy check --endpoints:\n got %q\nwant %q", got, want)
	}
}

// TestPolicyCheckMissingPolicyDir: a missing policy directory fails the
// check and the daemon's start with the same message.
func TestPolicyCheckMissingPolicyDir(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone")
	set := installation(t, "log_level: info\npolicy_dir: "+gone+"\n", nil)
	dflt := installation(t, "log_level: info\n", nil)
	for _, tt := range []struct{ cfg, want string }{
		{set, set + ":2:13: policy_dir: policy directory " + gone + ": no such file or directory"},
		{dflt, dflt + ": policy_dir: policy directory " + filepath.Join(filepath.Dir(dflt), "policies.d") +
			": no such file or directory (policy_dir defaults to policies.d next to the configuration file)"},
	} {
		for _, args := range [][]string{{"policy", "check", "-c", tt.cfg}, {"daemon", "-c", tt.cfg}} {
			e, out, _ := testEnv(&fakePM{}, nil)
			err := run(e, args)
			if err == nil {
				t.Fatalf("%s: no error (output %q)", strings.Join(args, " "), out.String())
			}
			if got := message(err); got != tt.want {
				t.Errorf("%s:\n got %s\nwant %s", strings.Join(args, " "), got, tt.want)
			}
		}
	}
}
