package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket speaks one JSON object per line each way: a request
// {"query": "status"} (with "brief": true, the connections are counted,
// not listed) or {"query": "reload"}, and a Reply.

// Request is one control request.
type Request struct {
	Query string `json:"query"`
	Brief bool   `json:"brief,omitempty"`
}

// Reply is the answer to one Request.
type Reply struct {
	Status *Status `json:"status,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Queries and who may send them: read-only ones to root and the control
// group, changes to root only.
const (
	QueryStatus = "status"
	QueryReload = "reload"
)

const (
	maxRequest     = 4096
	requestTimeout = 2 * time.Second
)

// DefaultControlSocket is the control socket of a daemon that manages
// namespace netnsName ("" for its own).
func DefaultControlSocket(netnsName string) string {
	if netnsName == "" {
		return "/run/mptcp-pm/control.sock"
	}
	return "/run/mptcp-pm/netns-" + filepath.Base(netnsName) + ".sock"
}

// controlPath is the socket this daemon serves.
func (d *Daemon) controlPath() string {
	if d.opts.ControlSocket != "" {
		return d.opts.ControlSocket
	}
	if p := d.set.Config.ControlSocket; p != "" && p != DefaultControlSocket("") {
		return p
	}
	return DefaultControlSocket(d.opts.NetNSName)
}

// ServeControl serves the control socket until ctx ends. The socket is
// mode 0600 (0660 with the configured group); every connection's peer is
// checked with SO_PEERCRED as well.
func (d *Daemon) ServeControl(ctx context.Context) error {
	path := d.controlPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another daemon is serving it", path)
	}
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer os.Remove(path)
	gid := -1
	mode := os.FileMode(0o600)
	if g := d.set.Config.ControlGroup; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			ln.Close()
			return fmt.Errorf("control socket: group %q: %w", g, err)
		}
		gid, _ = strconv.Atoi(grp.Gid)
		mode = 0o660
		if err := os.Chown(path, 0, gid); err != nil {
			ln.Close()
			return fmt.Errorf("control socket: %w", err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	d.log.Info("control socket", "path", path, "mode", mode.String())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		go d.serveConn(ctx, c, gid)
	}
}

func (d *Daemon) serveConn(ctx context.Context, c *net.UnixConn, gid int) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
	reply := func(r Reply) {
		// A fresh deadline: the reply to a client that took the whole
		// read timeout must still go out.
		_ = c.SetWriteDeadline(time.Now().Add(requestTimeout))
		_ = json.NewEncoder(c).Encode(r)
	}
	cred, err := peerCred(c)
	if err != nil {
		reply(Reply{Error: "cannot identify the peer: " + err.Error()})
		return
	}
	// One byte more than a request may have tells a long request from a
	// client that closed after a short one.
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest+1), maxRequest+1).ReadBytes('\n')
	if len(line) > maxRequest || (err != nil && !(errors.Is(err, io.EOF) && len(line) > 0)) {
		reply(Reply{Error: fmt.Sprintf("bad request: no complete line within %d bytes and %v", maxRequest, requestTimeout)})
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(Reply{Error: "bad request: " + err.Error()})
		return
	}
	root := cred.Uid == 0
	member := gid >= 0 && inGroup(cred, gid)
	qctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	switch req.Query {
	case QueryStatus:
		if !root && !member {
			reply(Reply{Error: "permission denied: status needs root or the control group"})
			return
		}
		st, err := d.status(qctx, req.Brief)
		if err != nil {
			reply(Reply{Error: err.Error()})
			return
		}
		reply(Reply{Status: st})
	case QueryReload:
		if !root {
			reply(Reply{Error: "permission denied: reload needs root"})
			return
		}
		if err := d.Reload(qctx); err != nil {
			reply(Reply{Error: err.Error()})
			return
		}
		reply(Reply{})
	default:
		reply(Reply{Error: fmt.Sprintf("unknown query %q (want %s or %s)", req.Query, QueryStatus, QueryReload)})
	}
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, serr
}

// inGroup reports whether the peer's process has gid as its group or one
// of its supplementary groups (from /proc/PID/status).
func inGroup(cred *unix.Ucred, gid int) bool {
	if int(cred.Gid) == gid {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.Pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if g, ok := strings.CutPrefix(line, "Groups:"); ok {
			return slices.Contains(strings.Fields(g), strconv.Itoa(gid))
		}
	}
	return false
}

// Query sends one request to the control socket at path.
func Query(ctx context.Context, path, query string) (*Reply, error) {
	return Ask(ctx, path, Request{Query: query})
}

// Ask sends req to the control socket at path.
func Ask(ctx context.Context, path string, req Request) (*Reply, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (is the daemon running?)", path, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	var r Reply
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("control socket %s: reply: %w", path, err)
	}
	if r.Error != "" {
		return &r, fmt.Errorf("daemon: %s", r.Error)
	}
	return &r, nil
}
