package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// printStatus writes the daemon's status for a person: what runs, what
// to fix (the warnings), the applications, interfaces and connections,
// and how busy it has been. The JSON form (-j) has every field.
func printStatus(w io.Writer, st *control.Status, now time.Time) {
	printDaemonHead(w, st, now)
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	fmt.Fprintln(w, "applications (the first that matches a connection is its policy):")
	for _, p := range st.Policies {
		fmt.Fprintf(w, "  %-12s %-12s %s", p.Name, p.Mode, p.Source)
		switch {
		case p.Mptcpify == "ebpf":
			fmt.Fprint(w, ", its programs' sockets made MPTCP")
		case p.Mptcpify != "":
			fmt.Fprintf(w, ", sockets not made MPTCP (%s)", strings.TrimPrefix(p.Mptcpify, "unavailable: "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "interfaces:")
	for _, i := range st.Interfaces {
		state := "down"
		if i.Up {
			state = "up"
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-12s %-12s %-5s %s", i.Name, i.Class, state, strings.Join(i.Addrs, " ")), " "))
	}
	fmt.Fprintf(w, "connections: %d, with %s\n", st.ConnectionCount, plural(st.SubflowCount, "subflow"))
	for _, c := range st.Connections {
		printDaemonConn(w, c)
	}
	fmt.Fprintf(w, "commands sent to the kernel: %d (%d refused); view of the kernel rebuilt %s\n", st.Commands, st.Refused, plural(st.Resyncs, "time"))
	if l, k := st.Latency, st.CommandTime; l.Count > 0 {
		fmt.Fprintf(w, "reaction to kernel events: median %s, 99%% within %s, worst %s; the kernel's own time: median %s, worst %s (last %d commands)\n",
			micros(l.P50), micros(l.P99), micros(l.Max), micros(k.P50), micros(k.Max), l.Window)
	}
}

// printDaemonHead writes what runs: the build, for how long, where, with
// which path manager and measurements.
func printDaemonHead(w io.Writer, st *control.Status, now time.Time) {
	fmt.Fprintf(w, "%s, process %d", st.Build.String(), st.PID)
	if !st.Started.IsZero() {
		fmt.Fprintf(w, ", running for %s", now.Sub(st.Started).Round(time.Second))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "configuration %s", st.Config)
	if st.NetNS != "" {
		fmt.Fprintf(w, ", network namespace %s", st.NetNS)
	}
	fmt.Fprintln(w)
	switch st.PMType {
	case "1":
		fmt.Fprintln(w, "the kernel leaves the paths to mptcp-pm (net.mptcp.pm_type=1)")
	case "":
	default:
		fmt.Fprintf(w, "the kernel's own path manager is in charge (net.mptcp.pm_type=%s)\n", st.PMType)
	}
	if st.DryRun {
		fmt.Fprintln(w, "dry run: the daemon logs what it would do and sends the kernel nothing")
	}
	fmt.Fprintf(w, "path quality %s\n", map[string]string{
		"ebpf": "measured by eBPF probes", "sockdiag": "measured by polling the kernel's socket statistics",
		"none": "not measured",
	}[st.Quality])
}

// plural writes "1 subflow", "2 subflows".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// micros writes a duration given in microseconds.
func micros(us float64) string {
	return time.Duration(us * float64(time.Microsecond)).Round(time.Microsecond).String()
}

func printDaemonConn(w io.Writer, c control.ConnStatus) {
	side := "opened here"
	if c.ServerSide {
		side = "opened by the peer"
	}
	fmt.Fprintf(w, "  %s %s -> %s  %s (%s), %s", c.Token, c.Local, c.Remote, c.Application, c.Mode, side)
	if len(c.Active) > 0 {
		fmt.Fprintf(w, ", traffic on %s", strings.Join(c.Active, ", "))
	}
	for _, ifname := range slices.Sorted(maps.Keys(c.Bad)) {
		fmt.Fprintf(w, "; %s found bad (%s)", ifname, c.Bad[ifname])
	}
	fmt.Fprintln(w)
	for _, sf := range c.Subflows {
		on := ""
		if sf.Interface != "" {
			on = " on " + sf.Interface
		}
		b := ""
		if sf.Backup {
			b = ", backup"
		}
		fmt.Fprintf(w, "      subflow %s -> %s%s%s\n", sf.Local, sf.Remote, on, b)
	}
}
