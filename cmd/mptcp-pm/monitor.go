package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

const monitorUsage = `Usage: mptcp-pm monitor [quality] [--json-legacy]
       mptcp-pm monitor decisions [--control PATH]

Prints the path manager's events as they arrive, one line each, as
ip mptcp monitor of iproute2 7.1 does; with -t, each line after its
time; with -j, the JSON objects of ip -j mptcp monitor, one per line, each
with a "time" first. "--json-legacy" gives the JSON of earlier mptcp-pm
versions ("type" for "event", the token in 8 hex digits, family, flags).
With "quality", also the subflows' quality events from the eBPF probes:
RTO (a retransmission timeout fired), STATE (a TCP state change) and
MEASURED (a subflow's first measurement), with its smoothed RTT, RTOs,
retransmissions and lost segments. Joining the event group needs
CAP_NET_ADMIN, loading the probes CAP_BPF and CAP_PERFMON too. Stops on
SIGINT or SIGTERM.

"decisions" prints the running daemon's decisions as it makes them, from
its control socket (root or the control group): the policy of each new
connection, handovers (from and to which interface, why, and the time
they took), subflows opened, probed, demoted, promoted and closed, and
commands the kernel refused with its message. A reader too slow for the
daemon loses decisions, and is told how many ("dropped").
`

// eventSource is what monitor reads; *genl.Events implements it.
type eventSource interface {
	Receive() ([]genl.Event, error)
	SetReadDeadline(time.Time) error
	Close() error
}

var _ eventSource = (*genl.Events)(nil)

// probeSource is what monitor quality reads; *bpf.Probes implements it.
type probeSource interface {
	Events() <-chan bpf.Event
	Close() error
}

var _ probeSource = (*bpf.Probes)(nil)

type received struct {
	evs []genl.Event
	err error
}

func runMonitor(e *env, args []string) error {
	if len(args) > 0 {
		if _, ok := match(args[0], "decisions"); ok {
			return monitorDecisions(e, args[1:])
		}
	}
	quality := false
	out := &eventPrinter{e: e}
	for _, a := range args {
		switch _, ok := match(a, "quality"); {
		case a == "--json-legacy":
			out.legacy = true
		case ok && !quality:
			quality = true
		default:
			return (&scanner{cmd: "monitor"}).unknown(a, "quality", "--json-legacy")
		}
	}
	src, err := e.dialEvents(e)
	if err != nil {
		return err
	}
	defer src.Close()
	var probes <-chan bpf.Event
	if quality {
		p, err := e.dialProbes(e)
		if err != nil {
			return err
		}
		defer p.Close()
		probes = p.Events()
	}
	// A deadline in the past wakes a blocked Receive when the context ends.
	kernel := make(chan received)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			evs, err := src.Receive()
			select {
			case kernel <- received{evs, err}:
			case <-stop:
				return
			}
			if err != nil && !errors.Is(err, genl.ErrOverflow) && !isDecodeError(err) {
				return
			}
		}
	}()
	for {
		select {
		case <-e.ctx.Done():
			_ = src.SetReadDeadline(time.Unix(1, 0))
			return nil
		case pe, ok := <-probes:
			if !ok {
				return errors.New("monitor: the eBPF probes stopped")
			}
			if err := printQuality(e, pe, out.legacy); err != nil {
				return err
			}
		case r := <-kernel:
			if e.ctx.Err() != nil {
				return nil
			}
			switch {
			case errors.Is(r.err, genl.ErrOverflow), isDecodeError(r.err):
				fmt.Fprintf(e.stderr, "mptcp-pm: monitor: %v\n", r.err)
			case r.err != nil:
				return r.err
			}
			for _, ev := range r.evs {
				if err := out.print(&ev); err != nil {
					return err
				}
			}
		}
	}
}

// eventPrinter prints kernel events as the monitor's options say.
type eventPrinter struct {
	e      *env
	legacy bool      // --json-legacy: genl.Event's own JSON
	links  linkTable // for dev=, dumped again for an index it lacks
}

func (p *eventPrinter) print(ev *genl.Event) error {
	now := p.e.clock()
	if p.e.json {
		var (
			b   []byte
			err error
		)
		if p.legacy {
			b, err = ev.MarshalJSON()
			b = withTime(b, now)
		} else {
			b = eventJSON(ev, p.dev, now)
		}
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		_, err = fmt.Fprintf(p.e.stdout, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(p.e.stdout, timePrefix(p.e, now)+eventText(ev, p.dev))
	return err
}

// dev names an interface as ip's ll_index_to_name does: "" when the
// namespace has no such index (or the links cannot be read).
func (p *eventPrinter) dev(index int32) string {
	if p.links != nil {
		if n := p.links.Name(index); n != "" {
			return n
		}
	}
	lt, err := p.e.dumpLinks(p.e)
	if err != nil {
		return ""
	}
	p.links = lt
	return lt.Name(index)
}

// timePrefix is what -t puts before a text line, as `ip -ts` does.
func timePrefix(e *env, t time.Time) string {
	if !e.timestamp {
		return ""
	}
	return "[" + t.Format(timeText) + "] "
}

func isDecodeError(err error) bool {
	var de *genl.DecodeError
	return errors.As(err, &de)
}

// qualityNames are the names quality events print with.
var qualityNames = map[bpf.EventKind]string{bpf.EventEstablished: "MEASURED", bpf.EventRTO: "RTO", bpf.EventState: "STATE"}

type qualityJSON struct {
	Time         string `json:"time"`
	Event        string `json:"event,omitempty"` // the name, as kernel events have it
	Type         string `json:"type,omitempty"`  // the name with --json-legacy
	Token        string `json:"token"`
	Local        string `json:"local"`
	Remote       string `json:"remote"`
	LocID        uint8  `json:"locid"`
	RemID        uint8  `json:"remid"`
	State        string `json:"state"`
	OldState     string `json:"old_state,omitempty"`
	SRTTus       int64  `json:"srtt_us"`
	RTOs         uint32 `json:"rtos"`
	TotalRetrans uint32 `json:"total_retrans"`
	Lost         uint32 `json:"lost"`
}

func printQuality(e *env, pe bpf.Event, legacy bool) error {
	name := qualityNames[pe.Kind]
	if name == "" {
		name = pe.Kind.String()
	}
	m := pe.Metrics
	now := e.clock()
	if e.json {
		j := qualityJSON{Time: now.Format(timeJSON), Event: name, Token: fmt.Sprintf("%08x", pe.Key.Token), Local: pe.Key.Local.String(), Remote: pe.Key.Remote.String(),
			LocID: m.LocID, RemID: m.RemID, State: stateName(pe.State), SRTTus: m.SRTT.Microseconds(), RTOs: m.RTOs,
			TotalRetrans: m.TotalRetrans, Lost: m.Lost}
		if pe.Kind == bpf.EventState {
			j.OldState = stateName(pe.OldState)
		}
		if legacy {
			j.Event, j.Type = "", name
		}
		return printJSON(e.stdout, j)
	}
	var b strings.Builder
	b.WriteString(timePrefix(e, now))
	fmt.Fprintf(&b, "[%16s] token=%08x locid=%d remid=%d saddr=%s daddr=%s", name, pe.Key.Token, m.LocID, m.RemID, pe.Key.Local, pe.Key.Remote)
	if pe.Kind == bpf.EventState {
		fmt.Fprintf(&b, " state=%s->%s", stateName(pe.OldState), stateName(pe.State))
	}
	fmt.Fprintf(&b, " srtt=%s rtos=%d retrans=%d lost=%d", ms(m.SRTT), m.RTOs, m.TotalRetrans, m.Lost)
	_, err := fmt.Fprintln(e.stdout, b.String())
	return err
}
