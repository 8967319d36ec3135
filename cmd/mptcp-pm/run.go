package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mptcp-pm/mptcp-pm/internal/mptcpize"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

const runUsage = `Usage: mptcp-pm run [--method auto|bpf|godebug|preload] [--policy NAME [-c FILE]] [--quiet] [--] COMMAND [ARGS...]

Runs COMMAND with its TCP sockets made MPTCP although it never asked for
MPTCP, as mptcpize(8) does. With -n NETNS it runs in that namespace, as
"ip netns exec NETNS" would run it. Standard input and output are passed
through, SIGINT and SIGTERM are forwarded, and COMMAND's exit status
becomes mptcp-pm's (128+N when a signal N killed it).

  -m, --method M   how to make the sockets MPTCP (default auto: the first
                   of bpf, godebug, preload that applies):
      bpf          an fmod_ret eBPF program on the kernel's
                   update_socket_protocol (Linux 6.6), limited to a cgroup
                   made for COMMAND and its children; needs root and a
                   kernel that loads fmod_ret programs (a kernel in lockdown
                   refuses them)
      godebug      GODEBUG=multipathtcp=1, for programs built with Go 1.21
                   or later (dialers and listeners)
      preload      LD_PRELOAD of mptcpize's libmptcpwrap (Debian package
                   libmptcpwrap0), for dynamically linked programs that
                   create sockets through libc
  -p, --policy NAME  start COMMAND in the cgroup policy NAME matches on
                   (match.cgroup in FILE's policy directory, default
                   /etc/mptcp-pm/config.yaml; the cgroup is made if it is
                   missing), so that the daemon gives its connections that
                   policy; with bpf, the program is limited to that cgroup
  -c, --config FILE  the configuration --policy is looked up in
  -q, --quiet      do not print which method was used

A "#!" script is judged by its interpreter. Unless --quiet, one line on
standard error names the method, e.g.
  mptcp-pm: run: curl: MPTCP via LD_PRELOAD (/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1)
`

// runExit ends mptcp-pm with the command's exit status; tests replace it.
var runExit = os.Exit

// runSignals are forwarded to the command.
var runSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}

func runRun(e *env, args []string) error {
	method := mptcpize.Auto
	quiet := false
	var polName, cfg string
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		args = args[1:]
		switch {
		case a == "-m" || a == "-method" || a == "--method":
			if len(args) == 0 {
				return usagef("run: missing value after %q", a)
			}
			v := args[0]
			args = args[1:]
			var err error
			if method, err = parseRunMethod(v); err != nil {
				return err
			}
		case strings.HasPrefix(a, "--method=") || strings.HasPrefix(a, "-method="):
			var err error
			if method, err = parseRunMethod(a[strings.Index(a, "=")+1:]); err != nil {
				return err
			}
		case a == "-q" || a == "-quiet" || a == "--quiet":
			quiet = true
		case a == "-p" || a == "-policy" || a == "--policy":
			if len(args) == 0 {
				return usagef("run: missing value after %q", a)
			}
			polName, args = args[0], args[1:]
		case a == "-c" || a == "-config" || a == "--config":
			if len(args) == 0 {
				return usagef("run: missing value after %q", a)
			}
			cfg, args = args[0], args[1:]
		case isHelp(a):
			fmt.Fprint(e.stdout, runUsage)
			return nil
		default:
			return usagef("run: unknown option %q (expected --method, --policy, --config, --quiet or --)", a)
		}
	}
	if len(args) == 0 {
		return usagef("run: missing COMMAND")
	}
	name := filepath.Base(args[0])
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	bin, err := mptcpize.Inspect(path)
	if err != nil {
		return fmt.Errorf("run: %s: %w", name, err)
	}

	var (
		scope  *mptcpize.Scope // the cgroup the command starts in, if any
		plan   mptcpize.Plan
		bpfErr error
		how    string
	)
	defer func() {
		if scope != nil {
			scope.Close()
		}
	}()
	if polName != "" {
		if scope, err = policyCgroup(polName, cfg); err != nil {
			return err
		}
	}
	if method == mptcpize.Auto || method == mptcpize.BPF {
		if scope != nil {
			bpfErr = scope.Attach()
		} else {
			scope, bpfErr = mptcpize.StartBPF()
		}
		if bpfErr != nil && method == mptcpize.BPF {
			return fmt.Errorf("run: %s: %w", name, bpfErr)
		}
	}
	if scope != nil && bpfErr == nil {
		how = fmt.Sprintf("eBPF fmod_ret on %s (cgroup %s)", mptcpize.HookFunc, scope.Path)
	} else {
		if plan, err = mptcpize.Choose(method, bin, mptcpize.FindPreload); err != nil {
			if bpfErr != nil {
				return fmt.Errorf("run: %s: %w (and %w)", name, err, bpfErr)
			}
			return fmt.Errorf("run: %s: %w", name, err)
		}
		how = plan.Detail
		if bpfErr != nil {
			how += "; " + bpfErr.Error()
		}
	}
	if bin.Script != "" {
		how += fmt.Sprintf(" for interpreter %s", bin.Path)
	}
	if scope != nil && polName != "" {
		how += fmt.Sprintf(", in cgroup %s of policy %s", scope.Path, polName)
	}
	if !quiet {
		fmt.Fprintf(e.stderr, "mptcp-pm: run: %s: MPTCP via %s\n", name, how)
	}

	argv := append([]string{path}, args[1:]...)
	if e.netns != "" {
		ipPath, err := exec.LookPath("ip")
		if err != nil {
			return fmt.Errorf("run: -n %s needs ip(8): %w", e.netns, err)
		}
		argv = append([]string{ipPath, "netns", "exec", e.netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if e.netns == "" {
		cmd.Args[0] = args[0] // argv[0] as typed, for multi-call binaries
	}
	cmd.Env = plan.Environ(os.Environ())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, e.stdout, e.stderr
	if scope != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: scope.CgroupFD()}
	}

	// Registered before Start, so that no signal in between is lost (or
	// left to main's handler, which would only cancel e.ctx).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, runSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run: %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				// The terminal also sends ^C to the command itself, which
				// is in our process group; a second SIGINT is what
				// `kill -INT` of mptcp-pm alone needs.
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = exitCode(ee.ProcessState)
	case err != nil:
		return fmt.Errorf("run: %s: %w", name, err)
	}
	if scope != nil {
		if err := scope.Close(); err != nil {
			fmt.Fprintf(e.stderr, "mptcp-pm: run: %s: cleanup: %s\n", name, err.Error())
		}
		scope = nil
	}
	if code != 0 {
		signal.Stop(sigs)
		runExit(code)
	}
	return nil
}

func parseRunMethod(v string) (mptcpize.Method, error) {
	m, ok := match(v, mptcpize.Methods...)
	if !ok {
		return 0, usagef("run: unknown method %q (expected %s)", v, strings.Join(mptcpize.Methods, ", "))
	}
	return mptcpize.ParseMethod(m)
}

// exitCode is the status a shell reports for the command: its exit code,
// or 128+N when signal N killed it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	return 1
}

// policyCgroup opens (making it if needed) the cgroup the policy named
// name matches on, from the configuration at cfg (default
// /etc/mptcp-pm/config.yaml).
func policyCgroup(name, cfg string) (*mptcpize.Scope, error) {
	if cfg == "" {
		cfg = defaultConfig
	}
	set, err := policy.Load(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range set.Policies {
		if p.Name != name {
			continue
		}
		if p.Match.Cgroup == "" {
			return nil, usagef("run: policy %s (%s) matches no cgroup: nothing to start the command in (add match.cgroup, or run without --policy)", name, p.Source)
		}
		s, err := mptcpize.OpenCgroup(p.Match.Cgroup)
		if err != nil {
			return nil, fmt.Errorf("run: policy %s: %w", name, err)
		}
		return s, nil
	}
	names := make([]string, 0, len(set.Policies))
	for _, p := range set.Policies {
		names = append(names, p.Name)
	}
	return nil, usagef("run: no policy %q in %s (have: %s)", name, set.Config.PolicyDir, strings.Join(names, ", "))
}
