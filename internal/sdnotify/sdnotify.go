// Package sdnotify tells systemd about the daemon's state with the
// sd_notify(3) protocol: one datagram of "KEY=VALUE" lines to the unix
// socket named by $NOTIFY_SOCKET (a path, or an abstract name written
// with a leading "@"). It is what Type=notify units wait for.
//
// Out of scope: the watchdog, file descriptor storage and anything else
// of the protocol beyond state lines.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// The states the daemon sends (sd_notify(3)).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
)

// Notifier sends state lines to systemd. The zero value, and a Notifier
// made without $NOTIFY_SOCKET, sends nothing. It is safe for concurrent
// use.
type Notifier struct {
	addr string // "" when not run by systemd
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, and unsets the variable
// so that no process the daemon starts inherits it (as
// sd_notify(unset_environment) does).
func FromEnv() *Notifier {
	addr := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	return &Notifier{addr: addr}
}

// Enabled reports whether the Notifier sends anything.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// Notify sends state (lines such as Ready, or "STATUS=..."). It returns
// nil without sending when the Notifier is not enabled.
func (n *Notifier) Notify(state ...string) error {
	if !n.Enabled() {
		return nil
	}
	name := n.addr
	if name[0] != '/' && name[0] != '@' {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is neither a path nor an abstract socket (@name)", n.addr)
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(state, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.Join(state, ","), err)
	}
	return nil
}
