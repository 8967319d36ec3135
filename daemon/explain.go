package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// Explain answers `mptcp-pm policy explain`: why a managed connection
// (req.Token) has its policy and paths, or which a connection this host
// would open would get. The answer is the decision's own: the policies
// are tried by policy.Set.Explain, which Lookup runs, and the paths come
// from the engine (State.Explain, ExplainNew). Safe to call from any
// goroutine while Run runs: the loop answers between two events.
func (d *Daemon) Explain(ctx context.Context, req control.ExplainRequest) (*control.Explanation, error) {
	var ex *control.Explanation
	var err error
	if lerr := d.onLoop(ctx, func() { ex, err = d.explain(req, time.Now()) }); lerr != nil {
		return nil, lerr
	}
	return ex, err
}

// onLoop runs f on the loop, between two events, and waits for it.
func (d *Daemon) onLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.loopc <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// explain is Explain on the loop.
func (d *Daemon) explain(req control.ExplainRequest, now time.Time) (*control.Explanation, error) {
	if d.state == nil {
		return nil, fmt.Errorf("the daemon is starting")
	}
	if req.Token != "" {
		tok, err := strconv.ParseUint(req.Token, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid token %q", req.Token)
		}
		mi, known := d.matched[uint32(tok)]
		return explainConn(d.set, d.state, uint32(tok), mi, known, now)
	}
	return explainNew(d.set, d.state, req, now)
}

// explainConn explains managed connection tok; mi is what it was matched
// on when its owner was looked up (known).
func explainConn(set *policy.Set, st *engine.State, tok uint32, mi matchInfo, known bool, now time.Time) (*control.Explanation, error) {
	v, ok := st.Conn(tok)
	if !ok {
		return nil, fmt.Errorf("no connection with token %08x (see mptcp-pm status)", tok)
	}
	c := mi.conn
	if !known {
		c = policy.Conn{ServerSide: v.ServerSide, Local: v.Local, Remote: v.Remote}
	}
	ex := &control.Explanation{Token: tokenString(tok), Local: v.Local.String(), Remote: v.Remote.String()}
	given := fields{port: true, dest: true, uid: known, cgroup: known, process: known && mi.process}
	p, tried := set.Explain(c)
	explainRules(ex, set, c, given, p, tried)
	if !known && needsOwner(set) {
		ex.Notes = append(ex.Notes, "the owner of the connection (uid, cgroup, process) was not found when it was matched")
	}
	if v.Policy != nil && v.Policy != p {
		ex.Notes = append(ex.Notes, fmt.Sprintf("the connection has policy %s, matched before the policies or its owner changed", v.Policy.Name))
		p = v.Policy
	}
	ex.Policy, ex.Mode, ex.Source = p.Name, string(p.Mode), p.Source
	paths, _ := st.Explain(tok, now)
	ex.Paths = pathExplanations(paths)
	switch {
	case v.ServerSide:
		ex.Notes = append(ex.Notes, "this host accepted the connection: the peer opens its subflows")
	case !v.Established:
		ex.Notes = append(ex.Notes, "the connection is not fully established yet: the kernel takes no subflow before")
	}
	return ex, nil
}

// explainNew explains a connection this host would open, from what req
// gives; what it does not give is matched as unknown.
func explainNew(set *policy.Set, st *engine.State, req control.ExplainRequest, now time.Time) (*control.Explanation, error) {
	remote := netip.AddrPortFrom(netip.IPv4Unspecified(), req.Port)
	given := fields{port: req.Port != 0, dest: req.Dest != "", uid: req.UID != nil, cgroup: req.Cgroup != "", process: req.Process != ""}
	if given.dest {
		a, err := netip.ParseAddr(req.Dest)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("invalid destination address %q", req.Dest)
		}
		remote = netip.AddrPortFrom(a.Unmap(), req.Port)
	}
	c := policy.Conn{Remote: remote, UID: policy.NoUID, Cgroup: req.Cgroup, Process: req.Process}
	if given.uid {
		c.UID = *req.UID
	}
	ex := &control.Explanation{Remote: given.remote(remote)}
	if !given.dest {
		ex.Notes = append(ex.Notes, "no destination given: the paths are those of an IPv4 connection")
	}
	p, tried := set.Explain(c)
	explainRules(ex, set, c, given, p, tried)
	ex.Policy, ex.Mode, ex.Source = p.Name, string(p.Mode), p.Source
	ex.Paths = pathExplanations(st.ExplainNew(p, netip.AddrPort{}, remote, now))
	for i := range ex.Paths {
		if ex.Paths[i].Used {
			ex.Paths[i].Remote = ex.Remote
		}
	}
	return ex, nil
}

// remote writes the remote end of a hypothetical connection with what is
// known of it: "192.0.2.1:443", "192.0.2.1" (no port), "*:443" (no
// destination) or "*".
func (f fields) remote(r netip.AddrPort) string {
	a, p := "*", ""
	if f.dest {
		a = r.Addr().String()
	}
	if f.port {
		p = ":" + strconv.Itoa(int(r.Port()))
		if f.dest {
			return r.String() // [v6]:port
		}
	}
	return a + p
}

// fields says which of a connection's match fields are known.
type fields struct{ port, dest, uid, cgroup, process bool }

func (f fields) has(m policy.MatchField) bool {
	switch m {
	case policy.FieldPort:
		return f.port
	case policy.FieldDest:
		return f.dest
	case policy.FieldUID:
		return f.uid
	case policy.FieldCgroup:
		return f.cgroup
	case policy.FieldProcess:
		return f.process
	}
	return true
}

// explainRules fills in what c was matched on and the policies tried.
func explainRules(ex *control.Explanation, set *policy.Set, c policy.Conn, given fields, p *policy.Policy, tried []policy.Tried) {
	ex.Matched = []string{}
	port := c.Remote.Port()
	if c.ServerSide {
		port = c.Local.Port()
	}
	add := func(ok bool, s string) {
		if ok {
			ex.Matched = append(ex.Matched, s)
		}
	}
	add(given.port, "port "+strconv.Itoa(int(port)))
	add(given.dest, "destination "+c.Remote.Addr().String())
	add(given.uid, "uid "+strconv.FormatUint(uint64(c.UID), 10))
	add(given.cgroup && c.Cgroup != "", "cgroup "+c.Cgroup)
	add(given.process && c.Process != "", "process "+c.Process)
	ex.Rules = []control.RuleExplanation{}
	for _, t := range tried {
		r := control.RuleExplanation{Policy: t.Policy.Name, Source: t.Policy.Source, Matched: t.Mismatch == nil}
		if t.Mismatch == nil {
			r.Why = "every condition holds"
		} else {
			r.Field, r.Why = string(t.Mismatch.Field), t.Mismatch.Why
			if !given.has(t.Mismatch.Field) {
				r.Why = fmt.Sprintf("matches on %s, which is not known", t.Mismatch.Field)
			}
		}
		ex.Rules = append(ex.Rules, r)
	}
	if p == &set.Config.Default {
		ex.Rules = append(ex.Rules, control.RuleExplanation{Policy: p.Name, Source: p.Source, Matched: true,
			Why: "no policy matched: the default applies"})
	}
}

func pathExplanations(paths []engine.PathUse) []control.PathExplanation {
	out := []control.PathExplanation{}
	for _, u := range paths {
		pe := control.PathExplanation{Interface: u.Interface, Class: string(u.Class), Used: u.Used, Backup: u.Backup, Why: u.Why}
		if u.Local.IsValid() {
			pe.Local = u.Local.String()
		}
		if u.Used {
			pe.Remote = u.Remote.String()
		}
		out = append(out, pe)
	}
	return out
}

// serveExplain answers an explain request on the control socket; allowed
// is whether the peer may read (root or the control group).
func (d *Daemon) serveExplain(ctx context.Context, req control.Request, allowed bool, reply func(control.Reply)) {
	switch {
	case !allowed:
		reply(control.Reply{Error: "permission denied: explain needs root or the control group"})
		return
	case req.Explain == nil:
		reply(control.Reply{Error: `bad request: explain needs "explain": {...}`})
		return
	}
	ex, err := d.Explain(ctx, *req.Explain)
	if err != nil {
		reply(control.Reply{Error: err.Error()})
		return
	}
	reply(control.Reply{Explanation: ex})
}
