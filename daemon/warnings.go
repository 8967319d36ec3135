package daemon

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// configWarnings are what status tells a person about the policies and
// the interfaces: a policy whose paths have no interface, or none usable
// now. They come from the configuration and the interfaces only (no
// connection needed), so a mistake shows before the first connection
// suffers from it.
func configWarnings(set *policy.Set, snap ifmon.Snapshot) []string {
	var out []string
	for _, p := range append(slices.Clone(set.Policies), &set.Config.Default) {
		out = append(out, policyWarnings(p, snap)...)
	}
	return out
}

// policyWarnings are the warnings about one policy.
func policyWarnings(p *policy.Policy, snap ifmon.Snapshot) []string {
	if p.Mode == policy.ModeSingle {
		return nil // it opens no subflow: no path of its own to lack
	}
	usable := func(classes []ifmon.Class) (present, up []string) {
		for _, l := range snap.Links {
			if slices.Contains(classes, l.Class) {
				present = append(present, l.Name)
				if l.Up && len(l.Addrs) > 0 {
					up = append(up, l.Name)
				}
			}
		}
		return present, up
	}
	allowed := append(slices.Clone(p.Paths.Prefer), p.Paths.Backup...)
	_, upAll := usable(allowed)
	var out []string
	if len(upAll) == 0 {
		out = append(out, fmt.Sprintf("%s policy %s has no usable interface of class %s: its connections get no subflow from mptcp-pm",
			p.Mode, p.Name, classList(allowed)))
	}
	switch p.Mode {
	case policy.ModeHandover:
		present, up := usable(p.Paths.Backup)
		switch {
		case len(p.Paths.Backup) == 0:
			out = append(out, fmt.Sprintf("handover policy %s has no backup class: no backup path", p.Name))
		case len(present) == 0:
			out = append(out, fmt.Sprintf("handover policy %s has no interface of class %s: no backup path", p.Name, classList(p.Paths.Backup)))
		case len(up) == 0 && len(upAll) > 0:
			out = append(out, fmt.Sprintf("handover policy %s: %s down or without an address: no backup path now",
				p.Name, strings.Join(present, ", ")))
		}
		if present, _ := usable(p.Paths.Prefer); len(present) == 0 {
			out = append(out, fmt.Sprintf("handover policy %s has no interface of class %s: it always runs on a backup path",
				p.Name, classList(p.Paths.Prefer)))
		}
	case policy.ModeInteractive, policy.ModeAggregate:
		if len(upAll) == 1 {
			out = append(out, fmt.Sprintf("%s policy %s can use %s only: one path", p.Mode, p.Name, upAll[0]))
		}
	}
	return out
}

// classList writes classes as "cellular" or "wifi or wired".
func classList(cs []ifmon.Class) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// pmTypeWarning is the warning for net.mptcp.pm_type v ("" if unknown).
func pmTypeWarning(v string, dryRun bool) string {
	if v == "1" || v == "" || dryRun {
		return ""
	}
	return fmt.Sprintf("net.mptcp.pm_type is %s: the kernel's own path manager is in charge of new connections, "+
		"which mptcp-pm cannot manage (set it to 1, or start the daemon with --set-pm-type)", v)
}

// openPMType opens net.mptcp.pm_type of namespace nsfd (0: the daemon's
// own). The file stays bound to that namespace: status reads it without
// entering the namespace again (which needs a capability the daemon has
// dropped by then).
func openPMType(nsfd int) (*os.File, error) {
	var f *os.File
	err := netns.Do(nsfd, func() (err error) {
		f, err = os.Open("/proc/sys/net/mptcp/pm_type")
		return err
	})
	return f, err
}

// readPMType reads the file openPMType opened; "" if it cannot.
func readPMType(f *os.File) string {
	if f == nil {
		return ""
	}
	var b [16]byte
	n, _ := f.ReadAt(b[:], 0)
	return strings.TrimSpace(string(b[:n]))
}
