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

// runFlags are the options of `mptcp-pm run`.
type runFlags struct {
	method       mptcpize.Method
	quiet        bool
	polName, cfg string
	help         bool
}

// parseRunFlags reads the options before COMMAND and returns them with
// COMMAND and its arguments.
func parseRunFlags(args []string) (runFlags, []string, error) {
	f := runFlags{method: mptcpize.Auto}
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
				return f, nil, usagef("run: missing value after %q", a)
			}
			v := args[0]
			args = args[1:]
			var err error
			if f.method, err = parseRunMethod(v); err != nil {
				return f, nil, err
			}
		case strings.HasPrefix(a, "--method=") || strings.HasPrefix(a, "-method="):
			var err error
			if f.method, err = parseRunMethod(a[strings.Index(a, "=")+1:]); err != nil {
				return f, nil, err
			}
		case a == "-q" || a == "-quiet" || a == "--quiet":
			f.quiet = true
		case a == "-p" || a == "-policy" || a == "--policy":
			if len(args) == 0 {
				return f, nil, usagef("run: missing value after %q", a)
			}
			f.polName, args = args[0], args[1:]
		case a == "-c" || a == "-config" || a == "--config":
			if len(args) == 0 {
				return f, nil, usagef("run: missing value after %q", a)
			}
			f.cfg, args = args[0], args[1:]
		case isHelp(a):
			f.help = true
			return f, nil, nil
		default:
			return f, nil, usagef("run: unknown option %q (expected --method, --policy, --config, --quiet or --)", a)
		}
	}
	return f, args, nil
}

func runRun(e *env, args []string) error {
	f, args, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	if f.help {
		fmt.Fprint(e.stdout, runUsage)
		return nil
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
	scope, plan, how, err := chooseRunMethod(f, name, bin)
	if err != nil {
		return err
	}
	defer func() {
		if scope != nil {
			scope.Close()
		}
	}()
	if !f.quiet {
		fmt.Fprintf(e.stderr, "mptcp-pm: run: %s: MPTCP via %s\n", name, how)
	}
	code, err := runCommand(e, name, path, args, scope, plan)
	if err != nil {
		return err
	}
	if scope != nil {
		if err := scope.Close(); err != nil {
			fmt.Fprintf(e.stderr, "mptcp-pm: run: %s: cleanup: %s\n", name, err.Error())
		}
		scope = nil
	}
	if code != 0 {
		runExit(code)
	}
	return nil
}

// chooseRunMethod makes COMMAND's sockets MPTCP the way f asks: it
// returns the cgroup the command starts in (with the eBPF program, or of
// --policy; nil if none), or else the plan for its environment, and how,
// for the user. On an error the cgroup is closed.
func chooseRunMethod(f runFlags, name string, bin mptcpize.Binary) (scope *mptcpize.Scope, plan mptcpize.Plan, how string, err error) {
	defer func() {
		if err != nil && scope != nil {
			scope.Close()
			scope = nil
		}
	}()
	if f.polName != "" {
		if scope, err = policyCgroup(f.polName, f.cfg); err != nil {
			return scope, plan, "", err
		}
	}
	var bpfErr error
	if f.method == mptcpize.Auto || f.method == mptcpize.BPF {
		if scope != nil {
			bpfErr = scope.Attach()
		} else {
			scope, bpfErr = mptcpize.StartBPF()
		}
		if bpfErr != nil && f.method == mptcpize.BPF {
			return scope, plan, "", fmt.Errorf("run: %s: %w", name, bpfErr)
		}
	}
	if scope != nil && bpfErr == nil {
		how = fmt.Sprintf("eBPF fmod_ret on %s (cgroup %s)", mptcpize.HookFunc, scope.Path)
	} else {
		if plan, err = mptcpize.Choose(f.method, bin, mptcpize.FindPreload); err != nil {
			if bpfErr != nil {
				return scope, plan, "", fmt.Errorf("run: %s: %w (and %w)", name, err, bpfErr)
			}
			return scope, plan, "", fmt.Errorf("run: %s: %w", name, err)
		}
		how = plan.Detail
		if bpfErr != nil {
			how += "; " + bpfErr.Error()
		}
	}
	if bin.Script != "" {
		how += fmt.Sprintf(" for interpreter %s", bin.Path)
	}
	if scope != nil && f.polName != "" {
		how += fmt.Sprintf(", in cgroup %s of policy %s", scope.Path, f.polName)
	}
	return scope, plan, how, nil
}

// runCommand runs COMMAND (args, found at path) with plan's environment
// in scope's cgroup, forwarding runSignals to it, and returns the exit
// status a shell would report.
func runCommand(e *env, name, path string, args []string, scope *mptcpize.Scope, plan mptcpize.Plan) (int, error) {
	argv := append([]string{path}, args[1:]...)
	if e.netns != "" {
		ipPath, err := exec.LookPath("ip")
		if err != nil {
			return 0, fmt.Errorf("run: -n %s needs ip(8): %w", e.netns, err)
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
		return 0, fmt.Errorf("run: %s: %w", name, err)
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
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return exitCode(ee.ProcessState), nil
	case err != nil:
		return 0, fmt.Errorf("run: %s: %w", name, err)
	}
	return 0, nil
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
