package main

import (
	"fmt"

	"github.com/mptcp-pm/mptcp-pm/internal/buildinfo"
)

const versionUsage = `Usage: mptcp-pm version

Prints the build: the module version ("(devel)" for a build from a
checkout), the commit it was built from ("-dirty" when the tree had
uncommitted changes) and the Go version; -j prints them as JSON. The
same as "mptcp-pm --version".
`

func runVersion(e *env, args []string) error {
	if len(args) > 0 {
		return usagef("version: unexpected argument %q", args[0])
	}
	bi := buildinfo.Read()
	if e.json {
		return printJSON(e.stdout, bi)
	}
	fmt.Fprintln(e.stdout, bi.String())
	return nil
}
