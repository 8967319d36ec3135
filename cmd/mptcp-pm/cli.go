package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

// pmClient is what the CLI asks of the kernel's path manager; *genl.Client
// implements it, and tests put a fake in its place.
type pmClient interface {
	AddEndpoint(genl.Endpoint) error
	DeleteEndpoint(uint8, netip.Addr) error
	Endpoint(uint8) (genl.Endpoint, error)
	Endpoints() ([]genl.Endpoint, error)
	FlushEndpoints() error
	ChangeEndpoint(uint8, genl.EndpointChange) error
	ChangeEndpointAt(netip.AddrPort, genl.EndpointChange) error
	Addresses(token uint32) ([]genl.Endpoint, error)
	Address(token uint32, id uint8) (genl.Endpoint, error)
	Limits() (genl.Limits, error)
	SetLimits(genl.LimitsUpdate) error
	Announce(uint32, genl.Endpoint) error
	Remove(uint32, uint8) error
	CreateSubflow(uint32, genl.Endpoint, netip.AddrPort) error
	DestroySubflow(uint32, netip.AddrPort, netip.AddrPort) error
	SetFlags(uint32, netip.AddrPort, netip.AddrPort, bool) error
	Close() error
}

var _ pmClient = (*genl.Client)(nil)

// linkTable maps interface names and indexes in the chosen namespace.
type linkTable interface {
	Name(index int32) string
	Index(name string) (int32, bool)
}

// env is what a command runs with: its output, the global options and the
// ways to reach the kernel, which tests replace.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	json           bool
	timestamp      bool             // -t: monitor lines start with their time
	now            func() time.Time // nil: time.Now
	netns          string           // -n NAME, "" for the caller's namespace
	nsfd           int              // an open fd of that namespace, 0 for none

	dialPM     func(e *env) (pmClient, error)
	dialEvents func(e *env) (eventSource, error)
	dialProbes func(e *env) (probeSource, error)
	dumpLinks  func(e *env) (linkTable, error)
	dumpConns  func(e *env) ([]connection, error)
	// daemonView returns the running daemon's view, or nil when no daemon
	// answers.
	daemonView func(e *env, socket string) *control.Status
}

// command is an object of the grammar (`endpoint`, `limits`, …) or one of
// its verbs.
type command struct {
	name  string
	usage string
	run   func(e *env, args []string) error
}

// objects are tried in this order for prefixes, as ip(8) does.
var objects []command

func init() {
	objects = []command{
		{"endpoint", endpointUsage, runEndpoint},
		{"limits", limitsUsage, runLimits},
		{"monitor", monitorUsage, runMonitor},
		{"announce", announceUsage, runAnnounce},
		{"remove", removeUsage, runRemove},
		{"subflow", subflowUsage, runSubflow},
		{"connection", connectionUsage, runConnection},
		{"daemon", daemonUsage, runDaemon},
		{"status", statusUsage, runStatus},
		{"policy", policyUsage, runPolicy},
		{"reload", reloadUsage, runReload},
		{"run", runUsage, runRun},
		{"doc", docUsage, runDoc},
		{"version", versionUsage, runVersion},
		{"help", "", nil},
	}
}

const globalUsage = `Usage: mptcp-pm [OPTIONS] OBJECT { COMMAND | help }
OBJECT := { endpoint | limits | monitor | announce | remove | subflow | connection |
           daemon | status | policy | reload | run | doc | version }
OPTIONS := { -j[son] | -t[imestamp] | -n[etns] NAME | -h[elp] | --version }

  -j, --json          print JSON (one object per line for monitor)
  -t, --timestamp     start each line of a monitor with its time
  -n, --netns NAME    act in the network namespace NAME (as ip -n NAME)
  --version           print the build (as "mptcp-pm version") and exit

Keywords may be shortened to a prefix, as with ip(8): "mptcp-pm endp sh".
"mptcp-pm OBJECT help" prints the grammar of one object.
`

func isHelp(a string) bool {
	return a == "help" || a == "-h" || a == "-help" || a == "--help"
}

// run executes one command line (without the program name).
func run(e *env, args []string) error {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch {
		case a == "-j" || a == "-json" || a == "--json":
			e.json = true
		case a == "-t" || a == "-timestamp" || a == "--timestamp":
			e.timestamp = true
		case a == "-n" || a == "-netns" || a == "--netns":
			if len(args) == 0 {
				return usagef("option %s needs a namespace name", a)
			}
			e.netns, args = args[0], args[1:]
		case strings.HasPrefix(a, "--netns="):
			e.netns = strings.TrimPrefix(a, "--netns=")
		case isHelp(a):
			fmt.Fprint(e.stdout, globalUsage)
			return nil
		case a == "--version" || a == "-version":
			return runVersion(e, nil)
		default:
			return usagef("unknown option %q (try \"mptcp-pm help\")", a)
		}
	}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, globalUsage)
		return usagef("no object given")
	}
	if e.netns != "" {
		f, err := openNetns(e.netns)
		if err != nil {
			return err
		}
		defer f.Close()
		e.nsfd = int(f.Fd())
	}
	names := make([]string, len(objects))
	for i, o := range objects {
		names[i] = o.name
	}
	name, ok := match(args[0], names...)
	if !ok {
		return usagef("unknown object %q (expected %s)", args[0], strings.Join(names, ", "))
	}
	if name == "help" {
		fmt.Fprint(e.stdout, globalUsage)
		return nil
	}
	for _, o := range objects {
		if o.name != name {
			continue
		}
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(e.stdout, o.usage)
			return nil
		}
		return o.run(e, args[1:])
	}
	panic("unreachable")
}

// openNetns opens a namespace by name (as `ip netns` names it) or by path.
func openNetns(name string) (*os.File, error) {
	path := name
	if !strings.Contains(name, "/") {
		path = filepath.Join("/var/run/netns", name)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("network namespace %q not found (%s)", name, path)
		}
		return nil, fmt.Errorf("network namespace %q: %w", name, err)
	}
	return f, nil
}

// verb picks the verb of an object from args (def when none is given) and
// runs it; help on any level prints the object's usage.
func verb(e *env, object, usage string, args []string, def string, verbs []command) error {
	names := make([]string, len(verbs))
	for i, c := range verbs {
		names[i] = c.name
	}
	v := def
	if len(args) == 0 && def == "" {
		return usagef("%s: missing command (expected %s)", object, strings.Join(names, ", "))
	}
	if len(args) > 0 {
		if isHelp(args[0]) {
			fmt.Fprint(e.stdout, usage)
			return nil
		}
		var ok bool
		if v, ok = match(args[0], names...); !ok {
			return usagef("%s: unknown command %q (expected %s)", object, args[0], strings.Join(names, ", "))
		}
		args = args[1:]
	}
	for _, c := range verbs {
		if c.name == v {
			if len(args) > 0 && isHelp(args[0]) {
				fmt.Fprint(e.stdout, usage)
				return nil
			}
			return c.run(e, args)
		}
	}
	panic("unreachable")
}

// clock returns the time now (e.now in tests).
func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// withPM dials the path manager for one command.
func withPM(e *env, fn func(pm pmClient) error) error {
	pm, err := e.dialPM(e)
	if err != nil {
		return err
	}
	defer pm.Close()
	return fn(pm)
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
