package main

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/policy"
)

const policyUsage = `Usage: mptcp-pm policy check [-c FILE] [--endpoints]
       mptcp-pm policy check FILE...
       mptcp-pm policy explain token TOKEN [--control PATH]
       mptcp-pm policy explain [port PORT] [dest ADDR] [uid UID] [cgroup PATH] [process NAME] [--control PATH]

With no FILE, checks the installed configuration (-c FILE, default
/etc/mptcp-pm/config.yaml) and its policy directory exactly as the daemon
loads them when it starts with the same -c and --endpoints: the check
passes when the daemon would start on them. In endpoint mode (--endpoints,
or pm: kernel in FILE) the daemon reads no policies, and neither does
the check.
With FILEs, validates those configuration and policy files alone (a file
with a top-level "name" is a policy, any other a configuration).
Every mistake is printed as FILE:LINE:COLUMN: FIELD: MESSAGE. Exit status
1 if there is any.
` + policyExplainHelp

// loadInstalled reads the configuration at path as the daemon starts
// with it: with its policy directory, unless the daemon runs in endpoint
// mode (endpoints, or pm: kernel in the file), which has no use for
// policies. The daemon and `policy check` share it, so that the check
// passes exactly when the daemon would start on the same files.
func loadInstalled(path string, endpoints bool) (*policy.Set, error) {
	return policy.LoadFor(path, func(c *policy.Config) bool { return !endpointMode(c, endpoints) })
}

// endpointMode reports whether the daemon keeps the in-kernel path
// manager's endpoints for configuration c instead of running policies.
func endpointMode(c *policy.Config, endpoints bool) bool {
	return endpoints || c.PM == policy.PMKernel
}

func runPolicy(e *env, args []string) error {
	return verb(e, "policy", policyUsage, args, "", []command{
		{name: "check", run: runPolicyCheck},
		{name: "explain", run: runPolicyExplain},
	})
}

// runPolicyCheck is `mptcp-pm policy check`.
func runPolicyCheck(e *env, args []string) error {
	var config string
	var endpoints bool
	files, err := parseFlags("policy check", args,
		map[string]*string{"c": &config, "config": &config}, map[string]*bool{"endpoints": &endpoints})
	if err != nil {
		return err
	}
	if len(files) > 0 {
		if config != "" || endpoints {
			return usagef("policy check: FILE... and -c or --endpoints exclude each other (give FILEs to check them alone, or none to check the configuration as the daemon loads it)")
		}
		if err := policy.Check(files...); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d file(s) OK\n", len(files))
		return nil
	}
	config = cmp.Or(config, defaultConfig)
	set, err := loadInstalled(config, endpoints)
	if err != nil {
		return err
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(e.stdout, "skipped: %v\n", w)
	}
	if endpointMode(set.Config, endpoints) {
		fmt.Fprintf(e.stdout, "%s OK (endpoint mode: no policies read)\n", config)
		return nil
	}
	names := make([]string, len(set.Policies))
	for i, p := range set.Policies {
		names[i] = p.Name
	}
	count := fmt.Sprintf("%d policies", len(names))
	switch len(names) {
	case 0:
	case 1:
		count = "1 policy (" + names[0] + ")"
	default:
		count += " (" + strings.Join(names, ", ") + ")"
	}
	fmt.Fprintf(e.stdout, "%s OK, %s in %s\n", config, count, set.Config.PolicyDir)
	return nil
}
