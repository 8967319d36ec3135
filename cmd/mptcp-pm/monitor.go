package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

const monitorUsage = `Usage: mptcp-pm monitor [quality]
       mptcp-pm monitor decisions [--control PATH]

Prints the path manager's events as they arrive, one line each, like
ip mptcp monitor (with -j, one JSON object per line). With "quality",
also the subflows' quality events from the eBPF probes: RTO (a
retransmission timeout fired), STATE (a TCP state change) and MEASURED
(a subflow's first measurement), with its smoothed RTT, RTOs,
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
	if len(args) > 0 {
		if _, ok := match(args[0], "quality"); !ok || len(args) > 1 {
			return (&scanner{cmd: "monitor"}).unknown(args[len(args)-1], "quality")
		}
		quality = true
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
			if err := printQuality(e, pe); err != nil {
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
				if e.json {
					if err := printJSON(e.stdout, ev); err != nil {
						return err
					}
					continue
				}
				if _, err := fmt.Fprintln(e.stdout, ev.String()); err != nil {
					return err
				}
			}
		}
	}
}

func isDecodeError(err error) bool {
	var de *genl.DecodeError
	return errors.As(err, &de)
}

// qualityNames are the names quality events print with.
var qualityNames = map[bpf.EventKind]string{bpf.EventEstablished: "MEASURED", bpf.EventRTO: "RTO", bpf.EventState: "STATE"}

type qualityJSON struct {
	Time         time.Time `json:"time"`
	Type         string    `json:"type"`
	Token        string    `json:"token"`
	Local        string    `json:"local"`
	Remote       string    `json:"remote"`
	LocID        uint8     `json:"locid"`
	RemID        uint8     `json:"remid"`
	State        string    `json:"state"`
	OldState     string    `json:"old_state,omitempty"`
	SRTTus       int64     `json:"srtt_us"`
	RTOs         uint32    `json:"rtos"`
	TotalRetrans uint32    `json:"total_retrans"`
	Lost         uint32    `json:"lost"`
}

func printQuality(e *env, pe bpf.Event) error {
	name := qualityNames[pe.Kind]
	if name == "" {
		name = pe.Kind.String()
	}
	m := pe.Metrics
	now := time.Now()
	if e.json {
		j := qualityJSON{Time: now, Type: name, Token: fmt.Sprintf("%08x", pe.Key.Token), Local: pe.Key.Local.String(), Remote: pe.Key.Remote.String(),
			LocID: m.LocID, RemID: m.RemID, State: stateName(pe.State), SRTTus: m.SRTT.Microseconds(), RTOs: m.RTOs,
			TotalRetrans: m.TotalRetrans, Lost: m.Lost}
		if pe.Kind == bpf.EventState {
			j.OldState = stateName(pe.OldState)
		}
		return printJSON(e.stdout, j)
	}
	var b strings.Builder
	b.WriteString(stamp(e, now))
	fmt.Fprintf(&b, "[%16s] token=%08x locid=%d remid=%d saddr=%s daddr=%s", name, pe.Key.Token, m.LocID, m.RemID, pe.Key.Local, pe.Key.Remote)
	if pe.Kind == bpf.EventState {
		fmt.Fprintf(&b, " state=%s->%s", stateName(pe.OldState), stateName(pe.State))
	}
	fmt.Fprintf(&b, " srtt=%s rtos=%d retrans=%d lost=%d", ms(m.SRTT), m.RTOs, m.TotalRetrans, m.Lost)
	_, err := fmt.Fprintln(e.stdout, b.String())
	return err
}
