package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// monitorDecisions prints the running daemon's decisions as it makes
// them (monitor decisions).
func monitorDecisions(e *env, args []string) error {
	var socket string
	rest, err := parseFlags("monitor decisions", args, map[string]*string{"control": &socket}, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("monitor decisions: unexpected argument %q", rest[0])
	}
	s, err := openDecisions(e, socket)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := printDecision(e, d); err != nil {
			return err
		}
	}
}

// printDecision prints one decision: as it came (JSON), or as a line with
// the time first under -t.
func printDecision(e *env, d control.Decision) error {
	if e.json {
		return printJSON(e.stdout, d)
	}
	_, err := fmt.Fprintln(e.stdout, timePrefix(e, d.Time)+d.String())
	return err
}
