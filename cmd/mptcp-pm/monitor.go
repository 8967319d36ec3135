package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

const monitorUsage = `Usage: mptcp-pm monitor

Prints the path manager's events as they arrive, one line each, like
ip mptcp monitor (with -j, one JSON object per line). Joining the event
group needs CAP_NET_ADMIN. Stops on SIGINT or SIGTERM.
`

// eventSource is what monitor reads; *genl.Events implements it.
type eventSource interface {
	Receive() ([]genl.Event, error)
	SetReadDeadline(time.Time) error
	Close() error
}

var _ eventSource = (*genl.Events)(nil)

func runMonitor(e *env, args []string) error {
	if len(args) > 0 {
		return (&scanner{cmd: "monitor"}).unknown(args[0], "nothing")
	}
	src, err := e.dialEvents(e)
	if err != nil {
		return err
	}
	defer src.Close()
	// A deadline in the past wakes a blocked Receive when the context ends.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-e.ctx.Done():
			_ = src.SetReadDeadline(time.Unix(1, 0))
		case <-stop:
		}
	}()
	for {
		evs, err := src.Receive()
		if e.ctx.Err() != nil {
			return nil
		}
		var de *genl.DecodeError
		switch {
		case errors.Is(err, genl.ErrOverflow):
			fmt.Fprintf(e.stderr, "mptcp-pm: monitor: %v\n", err)
		case errors.As(err, &de):
			fmt.Fprintf(e.stderr, "mptcp-pm: monitor: %v\n", err)
		case err != nil:
			return err
		}
		for _, ev := range evs {
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
