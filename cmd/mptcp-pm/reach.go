package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// netnsName is the name of the namespace a command works on: -n NETNS, or
// the name `ip netns` gives the caller's own (so that `ip netns exec X
// mptcp-pm ...` and `mptcp-pm -n X ...` find the same daemon), or "".
func netnsName(e *env) string {
	if e.netns != "" {
		return e.netns
	}
	ino, err := netns.Inode(0)
	if err != nil {
		return ""
	}
	return netns.Name(ino)
}

// controlPath is where the CLI finds the daemon: --control, else
// $MPTCP_PM_CONTROL, else control_socket in the configuration file
// (/etc/mptcp-pm/config.yaml, or $MPTCP_PM_CONFIG), else the default for
// the namespace. A configuration file that is missing or unreadable to
// the caller is skipped; one with mistakes is an error naming them.
func controlPath(e *env, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv("MPTCP_PM_CONTROL"); p != "" {
		return p, nil
	}
	name := netnsName(e)
	path := defaultConfig
	if p := os.Getenv("MPTCP_PM_CONFIG"); p != "" {
		path = p
	}
	conf, err := policy.LoadConfig(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return policy.DefaultControlSocket(name), nil
	case err != nil:
		return "", fmt.Errorf("finding the control socket: %w (or give --control PATH)", err)
	}
	return conf.ControlPath(name), nil
}

// daemonAt is the control socket of the daemon for the command's
// namespace, and that namespace's inode for the request (0 for --control
// flag: the daemon named explicitly answers whatever its namespace).
func daemonAt(e *env, flag string) (string, uint64, error) {
	path, err := controlPath(e, flag)
	if err != nil || flag != "" {
		return path, 0, err
	}
	ns, err := netns.Inode(e.nsfd)
	return path, ns, err
}

// openDecisions opens the decision stream of the daemon for the command's
// namespace.
func openDecisions(e *env, flag string) (*control.DecisionStream, error) {
	path, ns, err := daemonAt(e, flag)
	if err != nil {
		return nil, err
	}
	return control.OpenDecisions(e.ctx, path, ns)
}

// errNoDaemon means no daemon answers for the namespace the command works
// on.
var errNoDaemon = errors.New("no daemon answers for this network namespace")

// askDaemon sends req to the daemon of the command's namespace and
// returns its reply. A daemon found at an implicit path that manages
// another namespace is no answer: the error then wraps errNoDaemon, as
// when no daemon listens (not when the caller may not open the socket).
// The daemon at --control flag, named explicitly, answers whatever its
// namespace.
func askDaemon(e *env, flag string, req control.Request, timeout time.Duration) (*control.Reply, error) {
	path, ns, err := daemonAt(e, flag)
	if err != nil {
		return nil, err
	}
	req.NetNS = ns
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	r, err := control.Ask(ctx, path, req)
	switch {
	case r != nil && r.NetNS != 0 && r.NetNS != req.NetNS:
		return nil, fmt.Errorf("%w: the daemon at %s manages another network namespace (inode %d, this one is %d)",
			errNoDaemon, path, r.NetNS, req.NetNS)
	case err != nil && r == nil && errors.Is(err, fs.ErrPermission):
		// A socket the caller may not open: a daemon is there, and the
		// kernel's side would hide that from the caller.
		return nil, err
	case err != nil && r == nil:
		return nil, fmt.Errorf("%w: %w", errNoDaemon, err)
	}
	return r, err
}
