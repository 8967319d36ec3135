package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// watchOpts are the arguments of connection watch.
type watchOpts struct {
	tok       uint32
	haveToken bool
	every     time.Duration
	socket    string
}

func parseWatch(args []string) (watchOpts, error) {
	o := watchOpts{every: time.Second}
	var every string
	rest, err := parseFlags("connection watch", args, map[string]*string{"interval": &every, "control": &o.socket}, nil)
	if err != nil {
		return o, err
	}
	if o.tok, o.haveToken, err = (&scanner{cmd: "connection watch", args: rest}).onlyToken(); err != nil {
		return o, err
	}
	if every != "" {
		if o.every, err = time.ParseDuration(every); err != nil || o.every < 100*time.Millisecond {
			return o, usagef("connection watch: --interval %q: want a duration of at least 100ms, such as 1s", every)
		}
	}
	return o, nil
}

// watchState is what a watch remembers between two frames.
type watchState struct {
	prev     map[[2]string]traceSubflow // by (local, remote), at the last frame
	prevAt   time.Time
	last     map[string]control.Decision // the last decision, by token
	managed  map[string]control.ConnStatus
	terminal bool
}

// connectionWatch redraws the connections, their subflows' throughput,
// RTT and retransmissions and the daemon's last decision every interval,
// until SIGINT.
func connectionWatch(e *env, args []string) error {
	o, err := parseWatch(args)
	if err != nil {
		return err
	}
	if e.json {
		return usagef("connection watch: no JSON: it redraws a screen (connection trace -j records one connection)")
	}
	w := &watchState{prev: map[[2]string]traceSubflow{}, last: map[string]control.Decision{}, terminal: isTerminal(e.stdout)}
	in := traceInputs{stop: make(chan struct{}), decisions: make(chan control.Decision, 64)}
	defer close(in.stop)
	startDecisions(e, o.socket, "connection watch", &in)
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	for {
		if err := w.frame(e, o); err != nil {
			return err
		}
		for waiting := true; waiting; {
			select {
			case <-e.ctx.Done():
				return nil
			case d := <-in.decisions:
				if d.Token != "" {
					w.last[d.Token] = d
				}
			case <-tick.C:
				waiting = false
			}
		}
	}
}

// isTerminal reports whether w is a terminal, where a frame replaces the
// one before.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// frame draws one frame.
func (w *watchState) frame(e *env, o watchOpts) error {
	conns, err := e.dumpConns(e)
	if err != nil {
		return fmt.Errorf("connection watch: %w", err)
	}
	now := time.Now()
	var st *control.Status
	if e.daemonView != nil {
		st = e.daemonView(e, o.socket)
	}
	w.managed = map[string]control.ConnStatus{}
	if st != nil {
		for _, c := range st.Connections {
			w.managed[c.Token] = c
		}
	}
	devs := devsOf(st)
	var b strings.Builder
	if w.terminal {
		b.WriteString("\x1b[H\x1b[2J") // home, clear
	}
	fmt.Fprintf(&b, "%s  every %v\n", now.Format("2006-01-02 15:04:05"), o.every)
	next := map[[2]string]traceSubflow{}
	for _, c := range conns {
		if (o.haveToken && c.Token != o.tok) || c.Token == 0 {
			continue
		}
		w.conn(&b, c, subflowsOf(c, devs), now, next)
	}
	if !w.terminal {
		b.WriteString("\n")
	}
	w.prev, w.prevAt = next, now
	_, err = io.WriteString(e.stdout, b.String())
	return err
}

// conn draws one connection of a frame; next collects its subflows for
// the next frame.
func (w *watchState) conn(b *strings.Builder, c connection, subs []traceSubflow, now time.Time, next map[[2]string]traceSubflow) {
	tok := fmt.Sprintf("%08x", c.Token)
	fmt.Fprintf(b, "token %s %s -> %s", tok, c.Local, c.Remote)
	if m, ok := w.managed[tok]; ok {
		fmt.Fprintf(b, " app %s mode %s", m.Application, m.Mode)
	}
	b.WriteString("\n")
	dt := now.Sub(w.prevAt).Seconds()
	for _, sf := range subs {
		k := [2]string{sf.Local, sf.Remote}
		next[k] = sf
		rate, retr := "-", "-"
		if p, ok := w.prev[k]; ok && dt > 0 {
			bytes := float64(sf.BytesAcked+sf.BytesReceived) - float64(p.BytesAcked+p.BytesReceived)
			rate = fmt.Sprintf("%.2f", max(bytes, 0)*8/dt/1e6)
			retr = fmt.Sprint(sf.TotalRetrans - min(p.TotalRetrans, sf.TotalRetrans))
		}
		backup := ""
		if sf.Backup {
			backup = " backup"
		}
		fmt.Fprintf(b, "\t%-8s %s -> %s%s  %s Mbit/s  rtt %.2fms  retrans %s (%d in all)\n",
			cmp.Or(sf.Dev, "-"), sf.Local, sf.Remote, backup, rate, float64(sf.RTTus)/1000, retr, sf.TotalRetrans)
	}
	if d, ok := w.last[tok]; ok {
		d.Token = ""
		fmt.Fprintf(b, "\tlast decision %s ago: %s\n", now.Sub(d.Time).Round(time.Second), d)
	}
}
