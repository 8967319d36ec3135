package daemon

import (
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

// dropCapabilities drops every capability but what Capabilities lists,
// switching to Options.User first if set. Run calls it once the control
// socket is set up and before the loop starts.
func (d *Daemon) dropCapabilities() (caps.Dropped, error) {
	drop, err := caps.Drop(caps.List(d.Capabilities()), d.opts.User)
	if err == nil && drop.Capable {
		d.kept = &drop.Kept
	}
	return drop, err
}
