package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

// tcpClose is TCP_CLOSE (include/net/tcp_states.h).
const tcpClose = 7

// traceEvery is how often a live trace samples the connection's subflows.
const traceEvery = 100 * time.Millisecond

// traceOpts are the arguments of connection trace.
type traceOpts struct {
	token            string // "" with --from: the recording's only connection
	tok              uint32
	dur              time.Duration // 0: until the connection closes or SIGINT
	svg, html, from  string
	socket           string
	haveToken, timed bool
}

func parseTrace(args []string) (traceOpts, error) {
	var o traceOpts
	var dur string
	rest, err := parseFlags("connection trace", args, map[string]*string{"for": &dur, "svg": &o.svg, "html": &o.html,
		"from": &o.from, "control": &o.socket}, nil)
	if err != nil {
		return o, err
	}
	if o.tok, o.haveToken, err = (&scanner{cmd: "connection trace", args: rest}).onlyToken(); err != nil {
		return o, err
	}
	if o.haveToken {
		o.token = fmt.Sprintf("%08x", o.tok)
	}
	if dur != "" {
		if o.dur, err = time.ParseDuration(dur); err != nil || o.dur <= 0 {
			return o, usagef("connection trace: --for %q: want a positive duration such as 10s", dur)
		}
		o.timed = true
	}
	switch {
	case o.from == "" && !o.haveToken:
		return o, usagef("connection trace: which connection? give token TOKEN (or --from FILE)")
	case o.from != "" && o.timed:
		return o, usagef("connection trace: --for is for a live trace, not --from %s", o.from)
	}
	return o, nil
}

// connectionTrace records one connection (or reads a recording) and draws
// it.
func connectionTrace(e *env, args []string) error {
	o, err := parseTrace(args)
	if err != nil {
		return err
	}
	if o.svg == "" && o.html == "" && (!e.json || o.from != "") {
		return usagef("connection trace: nothing to write: give --svg FILE or --html FILE (or -j for the recording)")
	}
	var rec *recording
	if o.from != "" {
		if rec, err = readRecordingFile(o.from, o.token); err != nil {
			return err
		}
	} else if rec, err = traceLive(e, o); err != nil {
		return err
	}
	if len(rec.samples) == 0 && o.from == "" {
		return fmt.Errorf("connection trace: token %s: no sample taken", o.token)
	}
	for _, out := range []struct {
		path string
		html bool
	}{{o.svg, false}, {o.html, true}} {
		if out.path == "" {
			continue
		}
		if err := writeTrace(rec, out.path, out.html); err != nil {
			return fmt.Errorf("connection trace: %w", err)
		}
	}
	return nil
}

// writeTrace draws rec into the file at path, as SVG or as an HTML page.
func writeTrace(rec *recording, path string, html bool) error {
	var b strings.Builder
	c := drawTrace(rec)
	if html {
		fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mptcp-pm trace %s</title></head><body>\n", rec.token)
		var svg strings.Builder
		if _, err := c.WriteTo(&svg, traceWidth); err != nil {
			return err
		}
		_, body, _ := strings.Cut(svg.String(), "?>\n") // no XML declaration inside HTML
		b.WriteString(body)
		b.WriteString("</body></html>\n")
	} else if _, err := c.WriteTo(&b, traceWidth); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// traceInputs are what a live trace waits on besides its clock.
type traceInputs struct {
	kernel    chan received
	decisions chan control.Decision
	stop      chan struct{}
}

// traceLive records connection o.tok until o.dur passes, it closes or
// SIGINT; with -j it prints each line as it is recorded.
func traceLive(e *env, o traceOpts) (*recording, error) {
	rec := &recording{token: o.token}
	devs := traceDevs(e, o.socket)
	if _, found, err := traceSample1(e, o, devs); err != nil {
		return nil, err
	} else if !found {
		return nil, fmt.Errorf("connection trace: token %s: no such connection", o.token)
	}
	in := traceInputs{stop: make(chan struct{})}
	defer close(in.stop)
	startTraceInputs(e, o, &in)
	tick := time.NewTicker(traceEvery)
	defer tick.Stop()
	var end <-chan time.Time
	if o.timed {
		end = time.After(o.dur)
	}
	for {
		select {
		case <-e.ctx.Done():
			return rec, nil
		case <-end:
			return rec, nil
		case <-tick.C:
			s, found, err := traceSample1(e, o, devs)
			if err != nil {
				return nil, err
			}
			if !found {
				return rec, nil // the connection is gone
			}
			rec.samples = append(rec.samples, s)
			if err := traceJSON(e, s); err != nil {
				return nil, err
			}
		case r := <-in.kernel:
			if err := rec.kernel(e, o, r); err != nil {
				return nil, err
			}
		case d := <-in.decisions:
			if d.Token != o.token {
				continue
			}
			if err := traceJSON(e, d); err != nil {
				return nil, err
			}
			d.Token = ""
			rec.marks = append(rec.marks, traceMark{Time: d.Time, Token: o.token, Text: d.String(), Decision: true})
		}
	}
}

// traceJSON prints a recorded line under -j.
func traceJSON(e *env, v any) error {
	if !e.json {
		return nil
	}
	return printJSON(e.stdout, v)
}

// kernel takes in the kernel's events of the traced connection.
func (rec *recording) kernel(e *env, o traceOpts, r received) error {
	if r.err != nil {
		fmt.Fprintf(e.stderr, "mptcp-pm: connection trace: kernel events: %v\n", r.err)
	}
	now := time.Now()
	for _, ev := range r.evs {
		if ev.Token != o.tok || !ev.Has(genl.AttrToken) {
			continue
		}
		if e.json {
			// As monitor -j prints it (readRecording reads both forms).
			if _, err := fmt.Fprintf(e.stdout, "%s\n", eventJSON(&ev, noDev, now)); err != nil {
				return err
			}
		}
		text := ev.Type.String()
		if ev.Local.IsValid() {
			text += " " + ev.Local.String() + " -> " + ev.Remote.String()
		}
		rec.marks = append(rec.marks, traceMark{Time: now, Token: o.token, Text: text})
	}
	return nil
}

// startTraceInputs starts reading the kernel's events and the daemon's
// decisions; either may be missing (no privilege, no daemon), which is
// said on stderr: the trace goes on without.
func startTraceInputs(e *env, o traceOpts, in *traceInputs) {
	in.kernel = make(chan received, 16)
	in.decisions = make(chan control.Decision, 64)
	if src, err := e.dialEvents(e); err != nil {
		fmt.Fprintf(e.stderr, "mptcp-pm: connection trace: no kernel events: %v\n", err)
	} else {
		go func() {
			<-in.stop
			_ = src.SetReadDeadline(time.Unix(1, 0))
			src.Close()
		}()
		go pumpEvents(src, in.kernel, in.stop)
	}
	startDecisions(e, o.socket, "connection trace", in)
}

// startDecisions hands the daemon's decisions to in.decisions until
// in.stop; without a daemon it says so on stderr, for cmd.
func startDecisions(e *env, socket, cmd string, in *traceInputs) {
	ds, err := openDecisions(e, socket)
	if err != nil {
		fmt.Fprintf(e.stderr, "mptcp-pm: %s: no decisions: %v\n", cmd, err)
		return
	}
	go func() {
		<-in.stop
		ds.Close()
	}()
	go func() {
		for {
			d, err := ds.Next()
			if err != nil {
				return
			}
			select {
			case in.decisions <- d:
			case <-in.stop:
				return
			}
		}
	}()
}

// pumpEvents hands src's events to out until stop.
func pumpEvents(src eventSource, out chan<- received, stop <-chan struct{}) {
	for {
		evs, err := src.Receive()
		select {
		case out <- received{evs, err}:
		case <-stop:
			return
		}
		if err != nil && !errors.Is(err, genl.ErrOverflow) && !isDecodeError(err) {
			return
		}
	}
}

// traceDevs names the interfaces of local addresses, from the daemon's
// view (nil without a daemon): the initial subflow is bound to none.
func traceDevs(e *env, socket string) map[netip.Addr]string {
	if e.daemonView == nil {
		return nil
	}
	return devsOf(e.daemonView(e, socket))
}

// devsOf names the interfaces of the local addresses in a daemon's view
// (nil without one).
func devsOf(st *control.Status) map[netip.Addr]string {
	if st == nil {
		return nil
	}
	devs := map[netip.Addr]string{}
	for _, i := range st.Interfaces {
		for _, a := range i.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				devs[p.Addr()] = i.Name
			} else if ad, err := netip.ParseAddr(a); err == nil {
				devs[ad] = i.Name
			}
		}
	}
	return devs
}

// traceSample1 takes one sample of connection o.tok; found is false when
// the kernel has no such connection.
func traceSample1(e *env, o traceOpts, devs map[netip.Addr]string) (traceSample, bool, error) {
	conns, err := e.dumpConns(e)
	if err != nil {
		return traceSample{}, false, fmt.Errorf("connection trace: %w", err)
	}
	s := traceSample{Time: time.Now(), Type: sampleType, Token: o.token}
	for _, c := range conns {
		if c.Token == o.tok {
			s.Subflows = subflowsOf(c, devs)
			return s, true, nil
		}
	}
	return s, false, nil
}

// subflowsOf is what a trace or watch keeps of c's subflows: those not
// closed, with the interfaces of their local addresses (devs).
func subflowsOf(c connection, devs map[netip.Addr]string) []traceSubflow {
	out := []traceSubflow{}
	for _, sf := range c.Subflows {
		if sf.State == tcpClose {
			continue // closed, not yet released with its connection
		}
		out = append(out, traceSubflow{Local: sf.Local.String(), Remote: sf.Remote.String(),
			Dev: devs[sf.Local.Addr()], Backup: sf.Backup, BytesAcked: sf.BytesAcked, BytesReceived: sf.BytesReceived,
			RTTus: sf.RTT.Microseconds(), TotalRetrans: sf.TotalRetrans})
	}
	return out
}

// noDev names no interface: a trace's marks show addresses, not dev=.
func noDev(int32) string { return "" }
