package main

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// policyExplainHelp is the part of policyUsage about explain.
const policyExplainHelp = `"explain" asks the running daemon which policy a connection gets and
why: the policies tried in order and the condition each did not meet,
then each interface, with the subflow the daemon wants on it now or why
it gets none (down, no address of the family, a class the policy does
not use, measured bad, a backup path while a preferred one works...).
With token, a connection the daemon manages; otherwise one this host
would open, described by what is given: port (the service's, remote
port), dest (or destination: the remote address), uid (number or user
name), cgroup (cgroup v2 path) and process (name). A condition on
something not given does not hold. -j prints the answer as JSON.
`

// parseExplain reads the arguments of `policy explain`.
func parseExplain(args []string) (control.ExplainRequest, string, error) {
	var req control.ExplainRequest
	var socket string
	args, err := parseFlags("policy explain", args, map[string]*string{"control": &socket}, nil)
	if err != nil {
		return req, "", err
	}
	s := &scanner{cmd: "policy explain", args: args}
	keys := []string{"token", "port", "dest", "destination", "uid", "cgroup", "process"}
	for s.more() {
		a := s.next()
		k, ok := match(a, keys...)
		if !ok {
			return req, "", s.unknown(a, keys...)
		}
		if err := explainArg(s, k, &req); err != nil {
			return req, "", err
		}
	}
	if req.Token != "" && (req.Port != 0 || req.Dest != "" || req.UID != nil || req.Cgroup != "" || req.Process != "") {
		return req, "", usagef("policy explain: token names a connection: give no port, dest, uid, cgroup or process with it")
	}
	return req, socket, nil
}

// explainArg reads the value of keyword k into req.
func explainArg(s *scanner, k string, req *control.ExplainRequest) error {
	switch k {
	case "token":
		tok, err := s.token()
		req.Token = fmt.Sprintf("%08x", tok)
		return err
	case "port":
		p, err := s.port()
		req.Port = p
		return err
	case "dest", "destination":
		a, err := s.addr(k)
		req.Dest = a.String()
		return err
	case "uid":
		v, err := s.value(k)
		if err != nil {
			return err
		}
		uid, err := parseUID(v)
		req.UID = &uid
		return err
	}
	v, err := s.value(k)
	if k == "cgroup" {
		if err == nil && !strings.HasPrefix(v, "/") {
			return usagef("policy explain: invalid cgroup %q: want a cgroup v2 path from the root, e.g. /system.slice/app.service", v)
		}
		req.Cgroup = v
		return err
	}
	req.Process = v
	return err
}

// parseUID reads a uid: a number, or a user name.
func parseUID(v string) (uint32, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return uint32(n), nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, usagef("policy explain: invalid uid %q: not a number, and no user of that name", v)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, usagef("policy explain: user %q has uid %q, not a number", v, u.Uid)
	}
	return uint32(n), nil
}

func runPolicyExplain(e *env, args []string) error {
	req, socket, err := parseExplain(args)
	if err != nil {
		return err
	}
	r, err := askDaemon(e, socket, control.Request{Query: control.QueryExplain, Explain: &req}, 5*time.Second)
	if err != nil {
		return fmt.Errorf("policy explain: %w", err)
	}
	if e.json {
		return printJSON(e.stdout, r.Explanation)
	}
	printExplanation(e, r.Explanation)
	return nil
}

func printExplanation(e *env, ex *control.Explanation) {
	w := e.stdout
	conn := "a connection"
	if ex.Token != "" {
		conn = fmt.Sprintf("connection %s %s -> %s", ex.Token, ex.Local, ex.Remote)
	} else if ex.Remote != "" {
		conn = "a connection to " + ex.Remote
	}
	matched := strings.Join(ex.Matched, ", ")
	if matched == "" {
		matched = "nothing given"
	}
	fmt.Fprintf(w, "%s (%s) gets policy %s, mode %s (%s)\n", conn, matched, ex.Policy, ex.Mode, ex.Source)
	fmt.Fprintln(w, "policies tried, in order:")
	for _, r := range ex.Rules {
		verdict := "no "
		if r.Matched {
			verdict = "yes"
		}
		fmt.Fprintf(w, "  %s %-12s %s\n", verdict, r.Policy, r.Why)
	}
	fmt.Fprintln(w, "paths now:")
	for _, p := range ex.Paths {
		switch {
		case p.Used && p.Backup:
			fmt.Fprintf(w, "  backup   %-8s %-9s %s -> %s: %s\n", p.Interface, p.Class, p.Local, p.Remote, p.Why)
		case p.Used:
			fmt.Fprintf(w, "  used     %-8s %-9s %s -> %s: %s\n", p.Interface, p.Class, p.Local, p.Remote, p.Why)
		default:
			fmt.Fprintf(w, "  not used %-8s %-9s %s\n", p.Interface, p.Class, p.Why)
		}
	}
	for _, n := range ex.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
