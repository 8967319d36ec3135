package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// QueryDecisions asks for the stream of the daemon's decisions: the daemon
// answers with an empty Reply (or one with Error), then one Decision per
// line as it decides, until the client closes the connection. Read-only:
// root and the control group.
const QueryDecisions = "decisions"

// Decision kinds.
const (
	DecisionPolicy   = "policy"   // a new connection got its policy
	DecisionHandover = "handover" // a connection moved to another path (reported once the new subflow is up)
	DecisionDemote   = "demote"   // a subflow was set backup
	DecisionPromote  = "promote"  // a subflow was set non-backup
	DecisionProbe    = "probe"    // a subflow was opened to probe a path found bad
	DecisionOpen     = "open"     // a subflow was opened (neither a handover nor a probe)
	DecisionClose    = "close"    // a subflow was closed, or an address removed
	DecisionAnnounce = "announce" // an address was announced to the peer
	DecisionRefused  = "refused"  // the kernel refused a command
	// DecisionDropped is not a decision: it tells the reader that Dropped
	// decisions were dropped since the last line because it read too
	// slowly.
	DecisionDropped = "dropped"
)

// Decision is one decision of the daemon, as the decision stream sends it.
// Fields a kind does not use are empty.
type Decision struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"decision"`
	Token string    `json:"token,omitempty"`
	// Policy and Mode: the connection's policy (kind policy).
	Policy string `json:"policy,omitempty"`
	Mode   string `json:"mode,omitempty"`
	// From and To are interfaces: for a handover the one left ("" if none
	// carried the connection) and the one taken; for a subflow opened,
	// closed or set backup, To or From is its interface.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Local and Remote are the subflow's (or, for kind policy, the
	// connection's) addresses.
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	Reason string `json:"reason,omitempty"`
	// TookMS is how long a handover took, from what asked for it to the
	// new subflow being up, in milliseconds.
	TookMS float64 `json:"took_ms,omitempty"`
	// Action, Error and ExtAck describe a refused command: the command,
	// the error, and the kernel's extended-ack message in it.
	Action string `json:"action,omitempty"`
	Error  string `json:"error,omitempty"`
	ExtAck string `json:"ext_ack,omitempty"`
	// Dropped is, for kind dropped, how many decisions this reader lost
	// since the line before, and the total so far in DroppedTotal.
	Dropped      uint64 `json:"dropped,omitempty"`
	DroppedTotal uint64 `json:"dropped_total,omitempty"`
	// DryRun is set when the daemon runs with --dry-run: the decision's
	// command was not sent (a handover then has no time taken).
	DryRun bool `json:"dry_run,omitempty"`
}

// String is the decision as monitor decisions prints it, without the time.
func (d Decision) String() string {
	var b strings.Builder
	if d.DryRun {
		b.WriteString("would ")
	}
	b.WriteString(d.Kind)
	if d.Token != "" {
		b.WriteString(" token " + d.Token)
	}
	switch d.Kind {
	case DecisionPolicy:
		fmt.Fprintf(&b, " %s -> %s policy %s mode %s", d.Local, d.Remote, d.Policy, d.Mode)
	case DecisionHandover:
		from := d.From
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(&b, " %s -> %s", from, d.To)
		if !d.DryRun {
			fmt.Fprintf(&b, " took %sms", strconv.FormatFloat(d.TookMS, 'f', 1, 64))
		}
	case DecisionRefused:
		fmt.Fprintf(&b, " %s: %s", d.Action, d.Error)
	case DecisionDropped:
		fmt.Fprintf(&b, " %d decisions (%d in all): the reader is too slow", d.Dropped, d.DroppedTotal)
	default:
		if d.From != "" {
			b.WriteString(" " + d.From)
		}
		if d.To != "" {
			b.WriteString(" " + d.To)
		}
		if d.Local != "" {
			fmt.Fprintf(&b, " %s -> %s", d.Local, d.Remote)
		}
	}
	if d.Reason != "" {
		b.WriteString(": " + d.Reason)
	}
	return b.String()
}

// DecisionStream is a subscription to the daemon's decisions. It is read
// by one goroutine; Close may be called from any.
type DecisionStream struct {
	c    net.Conn
	r    *bufio.Reader
	path string
	stop func() bool
	ctx  context.Context
}

// OpenDecisions asks the daemon at path for its decisions. It returns once
// the daemon has subscribed the stream: every decision made from then on
// is read by Next (or counted as dropped). ctx ending ends the stream.
// netns is the caller's network namespace (Request.NetNS; 0: any).
func OpenDecisions(ctx context.Context, path string, netns uint64) (*DecisionStream, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (is the daemon running?)", path, err)
	}
	s := &DecisionStream{c: c, r: bufio.NewReaderSize(c, 64<<10), path: path, ctx: ctx,
		stop: context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })}
	fail := func(err error) (*DecisionStream, error) {
		s.Close()
		return nil, err
	}
	if err := json.NewEncoder(c).Encode(Request{Query: QueryDecisions, NetNS: netns}); err != nil {
		return fail(fmt.Errorf("control socket %s: %w", path, err))
	}
	line, err := s.r.ReadBytes('\n')
	if err != nil {
		return fail(s.err(err))
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return fail(fmt.Errorf("control socket %s: reply: %w", path, err))
	}
	if rep.Error != "" {
		return fail(fmt.Errorf("daemon: %s", rep.Error))
	}
	return s, nil
}

// Next returns the next decision, waiting for it. It returns io.EOF once
// the stream's context has ended.
func (s *DecisionStream) Next() (Decision, error) {
	var d Decision
	line, err := s.r.ReadBytes('\n')
	if err != nil {
		return d, s.err(err)
	}
	if err := json.Unmarshal(line, &d); err != nil {
		return d, fmt.Errorf("control socket %s: decision %q: %w", s.path, line, err)
	}
	return d, nil
}

// Close ends the stream.
func (s *DecisionStream) Close() error {
	s.stop()
	return s.c.Close()
}

// err is io.EOF when the stream ended because its context did.
func (s *DecisionStream) err(err error) error {
	if s.ctx.Err() != nil {
		return io.EOF
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("control socket %s: the daemon closed the stream", s.path)
	}
	return fmt.Errorf("control socket %s: %w", s.path, err)
}
