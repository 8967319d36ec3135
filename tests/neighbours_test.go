package tests

import (
	"strings"
	"testing"
	"time"
)

// TestIntegrationPMTypeRestored: the daemon started with --set-pm-type
// puts back the net.mptcp.pm_type it found when it stops (SIGTERM); after
// a crash (SIGKILL) the value stays, and the next daemon, told by the
// record under /run/mptcp-pm, puts back the first value at its stop. The
// same for endpoint mode.
func TestIntegrationPMTypeRestored(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	dir := writeConfig(t, dpConfig("single", ""), nil)

	d := startDaemon(t, ns, dir)
	if v := pmType(t, ns); v != "1" {
		t.Fatalf("pm_type %s with the daemon running, want 1", v)
	}
	d.stop()
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type %s after a clean stop, want 0 (the value found); log:\n%s", v, d.log.String())
	}
	if !strings.Contains(d.log.String(), "put back net.mptcp.pm_type") {
		t.Errorf("the stop does not log the value put back:\n%s", d.log.String())
	}

	d.restart()
	d.kill9()
	if v := pmType(t, ns); v != "1" {
		t.Fatalf("pm_type %s after SIGKILL, want 1 (a crash cannot put anything back)", v)
	}
	d.restart()
	if !d.waitLog("did not stop cleanly", 2*time.Second) {
		t.Errorf("the start after a crash does not say it found a record:\n%s", d.log.String())
	}
	d.stop()
	if v := pmType(t, ns); v != "0" {
		t.Errorf("pm_type %s after the crash and a clean stop of the next daemon, want 0", v)
	}

	// Endpoint mode, from pm_type=1.
	sysctl(t, ns, "net.mptcp.pm_type", "1")
	k := startKeeper(t, ns, writeConfig(t, "endpoints: {limits: {subflows: 1}}\n", nil), "--endpoints")
	if v := pmType(t, ns); v != "0" {
		t.Fatalf("pm_type %s with the keeper running, want 0", v)
	}
	k.stop()
	if v := pmType(t, ns); v != "1" {
		t.Errorf("pm_type %s after the keeper's clean stop, want 1 (the value found); log:\n%s", v, k.log.String())
	}
}
