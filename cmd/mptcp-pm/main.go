// Command mptcp-pm is a path manager for the Linux kernel's MPTCP stack
// and an `ip mptcp`-style command line for its generic netlink interface.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
	if err := run(e, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mptcp-pm: %s\n", message(err))
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
