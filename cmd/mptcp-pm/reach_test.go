package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlPath: --control, then $MPTCP_PM_CONTROL, then control_socket
// in the configuration ($MPTCP_PM_CONFIG here), then the namespace's
// default; a configuration with a mistake is an error naming it.
func TestControlPath(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("control_socket: /run/x/pm.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("control_socket: relative.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{netns: "blue"}
	for _, c := range []struct {
		name, flag, control, config, want, err string
	}{
		{name: "flag", flag: "/f.sock", control: "/env.sock", config: good, want: "/f.sock"},
		{name: "environment", control: "/env.sock", config: good, want: "/env.sock"},
		{name: "configuration", config: good, want: "/run/x/pm.sock"},
		{name: "no configuration", config: filepath.Join(dir, "missing.yaml"), want: "/run/mptcp-pm/netns-blue.sock"},
		{name: "bad configuration", config: bad, err: bad + ":1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MPTCP_PM_CONTROL", c.control)
			t.Setenv("MPTCP_PM_CONFIG", c.config)
			got, err := controlPath(e, c.flag)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("controlPath = %q, %v; want an error containing %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("controlPath = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
