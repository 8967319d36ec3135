package tests

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestIntegrationPolicyCheckInstalled: `mptcp-pm policy check` with no
// FILE passes on a valid installation and, when policy_dir is missing,
// fails with the message the daemon refuses to start with.
func TestIntegrationPolicyCheckInstalled(t *testing.T) {
	t.Parallel()
	ns := dpNetns(t)

	t.Run("valid installation", func(t *testing.T) {
		dir := writeConfig(t, dpConfig("single", ""), map[string]string{
			"voice.yaml": dpPolicy("voice", "{ports: [443]}", "handover", ""),
			"bulk.yaml":  dpPolicy("bulk", "{ports: [873]}", "aggregate", ""),
		})
		cfg := filepath.Join(dir, "config.yaml")
		r, _ := dpRun(t, "policy", "check", "-c", cfg)
		want := cfg + " OK, 2 policies (bulk, voice) in " + filepath.Join(dir, "policies.d") + "\n"
		if r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("policy check -c %s: exit %d, stdout %q, stderr %q; want exit 0 and %q", cfg, r.code, r.stdout, r.stderr, want)
		}
	})

	t.Run("missing policy_dir", func(t *testing.T) {
		dir := writeConfig(t, dpConfig("single", "policy_dir: rules.d\n"), nil)
		cfg := filepath.Join(dir, "config.yaml")
		want := "mptcp-pm: " + cfg + ":7:13: policy_dir: policy directory " + filepath.Join(dir, "rules.d") + ": no such file or directory\n"
		check, _ := dpRun(t, "policy", "check", "-c", cfg)
		if check.code != 1 || check.stderr != want || check.stdout != "" {
			t.Errorf("policy check -c %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", cfg, check.code, check.stdout, check.stderr, want)
		}
		control := filepath.Join(dir, "control.sock")
		d, _ := dpRun(t, "-n", ns, "daemon", "-c", cfg, "--set-pm-type", "--control", control)
		if d.code != 1 || d.stderr != want {
			t.Errorf("daemon -c %s: exit %d, stderr %q; want exit 1 and %q", cfg, d.code, d.stderr, want)
		}
		if _, err := os.Stat(control); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("control socket %s after a refused start: %v", control, err)
		}
		if v := dpSysctl(t, ns, "net.mptcp.pm_type"); v != "0" {
			t.Errorf("net.mptcp.pm_type is %s after a refused start, want 0 (untouched)", v)
		}
	})
}
