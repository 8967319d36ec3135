package daemon

import (
	"errors"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// A dry run (Options.DryRun) runs the whole loop, the engine's decisions
// included, and sends the kernel nothing: the workers log "would …" for
// each command and answer errNotSent. The engine must not take a command
// never sent for done: it would wait for the SF_ESTABLISHED of a subflow
// that will never be, count a backup flag the kernel never got, or keep
// a destroyed subflow in its closing list. So a command not sent goes
// back to the engine as refused (ActionFailed): its model stays the
// kernel's, and the path backs off as after a refusal, so the same
// "would" comes again after the back-off (half a second, doubling up to 30 s)
// while the situation lasts, not at every event. Nor does a dry run touch
// anything else of the host: net.mptcp.pm_type, the listeners of
// announced ports and the eBPF programs that make sockets MPTCP are left
// as they are, with a "would" in the log.

// errNotSent is the result of a command in a dry run.
var errNotSent = errors.New("dry run: not sent")

// notSent takes in the result of a command a dry run did not send.
func (d *Daemon) notSent(r result) {
	a := r.a
	delete(d.handovers, handoverKey{a.Token, a.Local.Addr().Unmap()})
	d.log.Info("would "+a.Kind.String(), "action", a.String())
	for _, tok := range d.step(engine.ActionFailed{EventBase: engine.EventBase{At: r.done}, Action: a, Err: r.err}).Forgotten {
		d.forgetConn(tok)
	}
}

// syncHost opens the listeners of set's announced ports and makes the
// sockets of its mptcpify policies MPTCP; a dry run only says it would.
func (d *Daemon) syncHost(set *policy.Set) error {
	if d.opts.DryRun {
		for _, ap := range announcedPorts(set) {
			d.log.Info("would listen", "addr", ap.String())
		}
		for _, p := range set.Policies {
			if p.Mptcpify {
				d.log.Info("would make the sockets of a cgroup MPTCP", "policy", p.Name, "cgroup", p.Match.Cgroup)
			}
		}
		return nil
	}
	if err := d.listeners.sync(announcedPorts(set), d.opts.NetNS, d.log); err != nil {
		return err
	}
	d.mptcpify.sync(set, d.log)
	return nil
}
