// Command mptcp-pm is a path manager for the Linux kernel's MPTCP stack
// and an `ip mptcp`-style command line for its generic netlink interface.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/internal/links"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		ctx:    ctx,
		stdout: os.Stdout,
		stderr: os.Stderr,
		dialPM: func(e *env) (pmClient, error) {
			return genl.New(&genl.Config{NetNS: e.nsfd})
		},
		dialEvents: func(e *env) (eventSource, error) {
			return genl.NewEvents(&genl.Config{NetNS: e.nsfd})
		},
		dialProbes: func(e *env) (probeSource, error) {
			return bpf.Load(bpf.Config{NetNS: e.nsfd})
		},
		dumpLinks: func(e *env) (linkTable, error) {
			return links.Dump(e.nsfd)
		},
		dumpConns: func(e *env) ([]connection, error) {
			c, err := sockdiag.New(&sockdiag.Config{NetNS: e.nsfd})
			if err != nil {
				return nil, err
			}
			defer c.Close()
			return c.Connections()
		},
	}
	e.daemonView = func(e *env, socket string) *control.Status {
		r, err := askDaemon(e, socket, control.Request{Query: control.QueryStatus}, time.Second)
		if err != nil {
			return nil
		}
		return r.Status
	}
	if err := run(e, os.Args[1:]); err != nil {
		// Several mistakes (a policy check) are several lines.
		for _, line := range strings.Split(message(err), "\n") {
			fmt.Fprintf(os.Stderr, "mptcp-pm: %s\n", line)
		}
		os.Exit(1)
	}
}

// message is the one line printed for err: a kernel refusal shows the
// kernel's own message.
func message(err error) string {
	var ge *genl.Error
	if errors.As(err, &ge) {
		if ge.Message != "" {
			return fmt.Sprintf("%s: %s (%v)", ge.Op, ge.Message, ge.Err)
		}
		return fmt.Sprintf("%s: %v", ge.Op, ge.Err)
	}
	return err.Error()
}
