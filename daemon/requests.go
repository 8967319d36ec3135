package daemon

import (
	"context"
	"fmt"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Reload and Status are how other goroutines (the control socket, SIGHUP)
// reach the loop: each hands it a request on a channel and waits for the
// answer, so that the loop alone touches its state.

// Reload reads the configuration and policies again. A bad file changes
// nothing: the error is returned and the running policies stay. Safe to
// call from any goroutine while Run runs. The files are read on the
// caller's goroutine: file I/O never holds up the loop.
func (d *Daemon) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	set, err := policy.Load(d.path)
	if err != nil {
		d.log.Error("reload refused: the running policies stay", "err", err)
		return err
	}
	reply := make(chan error, 1)
	select {
	case d.reloadc <- reloadReq{set: set, reply: reply}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status asks the loop for its current view. Safe to call from any
// goroutine while Run runs; the loop builds the view between two events.
func (d *Daemon) Status(ctx context.Context) (*Status, error) { return d.status(ctx, false) }

// reloadReq hands the loop a set to apply.
type reloadReq struct {
	set   *policy.Set
	reply chan error
}

// warnSkipped logs the files of the policy directory that Load skipped.
func (d *Daemon) warnSkipped(set *policy.Set) {
	for _, w := range set.Warnings {
		d.log.Warn("policy file skipped", "err", w)
	}
}

// statusReq asks the loop for its view.
type statusReq struct {
	brief bool
	reply chan *Status
}

func (d *Daemon) status(ctx context.Context, brief bool) (*Status, error) {
	reply := make(chan *Status, 1)
	select {
	case d.statusc <- statusReq{brief: brief, reply: reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case st := <-reply:
		// Read here, not on the loop: a file read, if a cheap one.
		st.PMType = readPMType(d.pmTypeFile)
		if w := pmTypeWarning(st.PMType, d.opts.DryRun); w != "" {
			st.Warnings = append(st.Warnings, w)
		}
		st.Warnings = append(st.Warnings, d.neighbourWarnings()...)
		return st, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// reload applies set, the configuration read again, if the daemon can
// run it, and matches every connection again.
func (d *Daemon) reload(set *policy.Set) error {
	d.warnSkipped(set)
	if miss := d.missingCaps(set); miss != "" {
		err := fmt.Errorf("%s: %s", set.Config.Source, miss)
		d.log.Error("reload refused: the running policies stay", "err", err)
		return err
	}
	if err := d.syncHost(set); err != nil {
		d.log.Error("reload refused: the running policies stay", "err", err)
		return err
	}
	d.set = set
	d.owners.setPolicies(set)
	d.step(engine.PoliciesChanged{EventBase: now(), Match: reloadMatcher{d}})
	d.log.Info("policies reloaded", "config", set.Config.Source, "policies", len(set.Policies))
	return nil
}
