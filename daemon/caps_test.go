package daemon

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestUnitFileCapabilities checks that dist/mptcp-pm.service lets the
// daemon start (what it keeps, plus CAP_CHOWN for the control group and
// CAP_SETPCAP to shrink its bounding set) and has no capability it never
// uses.
func TestUnitFileCapabilities(t *testing.T) {
	b, err := os.ReadFile("../dist/mptcp-pm.service")
	if err != nil {
		t.Fatal(err)
	}
	var bounding []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			bounding = append(bounding, strings.Fields(strings.ToLower(v))...)
		}
		if strings.HasPrefix(line, "AmbientCapabilities=") {
			t.Errorf("dist/mptcp-pm.service: %s: the daemon runs as root, ambient capabilities add nothing", line)
		}
	}
	want := []string{"cap_chown", "cap_setpcap", "cap_sys_resource"}
	for _, n := range (&Daemon{}).Capabilities() {
		want = append(want, n.Cap.String())
	}
	for _, n := range EndpointCapabilities(EndpointOptions{}) {
		want = append(want, n.Cap.String())
	}
	slices.Sort(want)
	want = slices.Compact(want)
	slices.Sort(bounding)
	if !slices.Equal(bounding, want) {
		t.Errorf("dist/mptcp-pm.service: CapabilityBoundingSet %v, want %v", bounding, want)
	}
	if !strings.Contains(string(b), "\nNoNewPrivileges=yes\n") {
		t.Errorf("dist/mptcp-pm.service: no NoNewPrivileges=yes")
	}
}

func TestCapabilityNames(t *testing.T) {
	for c, want := range map[Capability]string{CapNetAdmin: "cap_net_admin", CapBPF: "cap_bpf", CapPerfmon: "cap_perfmon",
		CapSysAdmin: "cap_sys_admin", CapDACOverride: "cap_dac_override", Capability(63): "cap_63"} {
		if got := c.String(); got != want {
			t.Errorf("Capability(%d) = %q, want %q", int(c), got, want)
		}
	}
	if got := capString(nil); got != "none" {
		t.Errorf("capString(nil) = %q", got)
	}
}
