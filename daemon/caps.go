package daemon

import (
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/mptcp-pm/mptcp-pm/internal/caps"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Capabilities lists what the daemon still needs once New has opened its
// sockets, loaded its eBPF probes and written its sysctls, and its control
// socket is set up: caps.For its configuration at start. A reload to a
// configuration that needs more is refused (see reload), naming what is
// missing: restarting the daemon gives it.
func (d *Daemon) Capabilities() []caps.Need { return d.capsFor(d.set) }

// capsFor lists what running set needs after start.
func (d *Daemon) capsFor(set *policy.Set) []caps.Need {
	return caps.For(caps.Config{Set: set, MetricsListen: d.opts.MetricsListen, NetNS: d.opts.NetNS != 0})
}

// missingCaps describes what set needs that the daemon dropped ("" when
// nothing, or when it dropped nothing).
func (d *Daemon) missingCaps(set *policy.Set) string {
	return caps.Missing(d.kept, d.capsFor(set))
}

// DropCapabilities drops every capability but what Capabilities lists. Call
// it after New, once ControlReady, and before Run.
func (d *Daemon) DropCapabilities() (caps.Dropped, error) {
	drop, err := caps.Drop(caps.List(d.Capabilities()))
	if err == nil && drop.Bounding {
		d.kept = &drop.Kept
	}
	return drop, err
}

// ControlReady reports whether ServeControl has set its socket up: it
// accepts connections and has its final mode and group. Until then
// ServeControl may need CAP_CHOWN (the control group), so capabilities are
// dropped after it.
func (d *Daemon) ControlReady() bool {
	path := d.controlPath()
	fi, err := os.Lstat(path) // the socket itself, never what a link points to
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return false
	}
	mode, gid := os.FileMode(0o600), -1
	if g := d.set.Config.ControlGroup; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			return false
		}
		gid, _ = strconv.Atoi(grp.Gid)
		mode = 0o660
	}
	if fi.Mode().Perm() != mode {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); gid >= 0 && (!ok || int(st.Gid) != gid) {
		return false
	}
	// A socket left by a daemon that died has the right mode too: only a
	// listening one accepts.
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
