package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"golang.org/x/sys/unix"
)

const (
	maxRequest     = control.MaxRequest
	requestTimeout = control.Timeout
)

// controlPath is the socket this daemon serves: --control, else the
// configuration's (policy.Config.ControlPath).
func (d *Daemon) controlPath() string {
	if d.opts.ControlSocket != "" {
		return d.opts.ControlSocket
	}
	return d.set.Config.ControlPath(d.opts.NetNSName)
}

// maxControlClients bounds the clients served at once: each holds a
// goroutine and a file descriptor for up to requestTimeout, and a local
// user must not be able to take every descriptor the daemon has. Clients
// beyond it are closed at once.
const maxControlClients = 64

// serveControl serves the control socket until ctx ends, closing
// listening once it is set up (bound, with its mode and group). The socket is
// mode 0600 (0660 with the configured group); every connection's peer is
// checked with SO_PEERCRED as well. A stale socket at the path (one that
// no daemon serves) is replaced; anything else there is an error, and
// only the socket serveControl made is removed when it ends.
func (d *Daemon) serveControl(ctx context.Context, listening chan<- struct{}) error {
	path := d.controlPath()
	gid := -1
	mode := os.FileMode(0o600)
	if g := d.set.Config.ControlGroup; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			return fmt.Errorf("control socket: group %q: %w", g, err)
		}
		if gid, err = strconv.Atoi(grp.Gid); err != nil {
			return fmt.Errorf("control socket: group %q: gid %q: %w", g, grp.Gid, err)
		}
		mode = 0o660
	}
	uid := -1 // the socket stays the daemon's
	if d.opts.DropCapabilities && d.opts.User != nil {
		uid = d.opts.User.UID
	}
	ln, err := listenControl(path, mode, uid, gid)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	defer ln.close()
	d.log.Info("control socket", "path", path, "mode", mode.String())
	close(listening)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	sem := make(chan struct{}, maxControlClients)
	var backoff time.Duration
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if temporaryAccept(err) {
				// Out of descriptors or memory: wait for clients to go,
				// as net/http's Server does, instead of dying. The
				// first failure of a series is a warning.
				level := slog.LevelDebug
				if backoff == 0 {
					level = slog.LevelWarn
				}
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				var oe *net.OpError // it names the socket by its temporary path
				if errors.As(err, &oe) {
					err = oe.Err
				}
				d.log.Log(ctx, level, "control socket: accept failed; retrying", "path", path, "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("control socket %s: %w", path, err)
		}
		backoff = 0
		select {
		case sem <- struct{}{}:
		default:
			// The reply fits the socket's empty buffer: it never waits.
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			_ = json.NewEncoder(c).Encode(control.Reply{Error: fmt.Sprintf("busy: %d clients are being served; try again", maxControlClients)})
			c.Close()
			continue
		}
		go func() {
			defer func() { <-sem }()
			d.serveConn(ctx, c, gid)
		}()
	}
}

// temporaryAccept reports whether an accept error is worth a retry: the
// process or the system is out of descriptors or memory for now
// (accept(2)), or the client went before it was accepted.
func temporaryAccept(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, unix.ECONNABORTED, unix.EINTR, unix.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// controlListener is the control socket and the file it made.
type controlListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo // the socket's inode, for close
}

// listenControl makes a unix socket at path with mode and, if uid or gid
// >= 0, that owner or group (see makeControlDir for path's directory).
// The socket is bound, and its mode and owner set, in a private
// directory (0700) next to path, held by a descriptor, then renamed into
// place without replacing anything: whoever may write to path's directory
// cannot swap a symbolic link in for chmod or chown to follow. Only a
// stale socket at path (Lstat says socket, nothing accepts) is removed
// first; anything else there (a file, a directory, a link, a live socket)
// is an error.
func listenControl(path string, mode os.FileMode, uid, gid int) (*controlListener, error) {
	dir := filepath.Dir(path)
	if err := removeStale(path); err != nil {
		return nil, err
	}
	if err := makeControlDir(dir, uid); err != nil {
		return nil, err
	}
	tmpDir, err := os.MkdirTemp(dir, ".mptcp-pm-control-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmpDir)
	priv, err := openPrivateDir(tmpDir)
	if err != nil {
		return nil, err
	}
	defer priv.Close()
	pfd := int(priv.Fd())
	// bind(2) takes no directory descriptor: the path through /proc names
	// the directory held, and is short whatever path's length.
	tmp := fmt.Sprintf("/proc/self/fd/%d/s", pfd)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The socket leaves tmp: Close must not unlink a name that may be
	// someone else's by then.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*controlListener, error) {
		ln.Close()
		return nil, err
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchownat(pfd, "s", uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fail(&os.PathError{Op: "chown", Path: tmpDir + "/s", Err: err})
		}
	}
	if err := unix.Fchmodat(pfd, "s", uint32(mode.Perm()), 0); err != nil { // "s" is our socket: nobody else can write here
		return fail(&os.PathError{Op: "chmod", Path: tmpDir + "/s", Err: err})
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(err)
	}
	if err := renameNoReplace(pfd, "s", path); err != nil {
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%w (something was put there while the socket was set up)", err)
		}
		return fail(err)
	}
	return &controlListener{UnixListener: ln, path: path, fi: fi}, nil
}

// openPrivateDir opens the directory MkdirTemp made at name, and checks
// that it is still that one (ours, 0700) and not one swapped in by whoever
// may write to its parent.
func openPrivateDir(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o7777 != 0o700 {
		f.Close()
		return nil, fmt.Errorf("%s: not the private directory made (owner %d, mode %#o): replaced", name, st.Uid, st.Mode&0o7777)
	}
	return f, nil
}

// close closes the socket and removes its file, if the file at the path
// is still the socket it made.
func (l *controlListener) close() {
	l.Close()
	if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.fi) {
		_ = os.Remove(l.path)
	}
}

// removeStale removes a socket left at path by a daemon that is gone. It
// returns nil if nothing is there, and an error naming path if a daemon
// serves the socket or path is not a socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s): refusing to replace it; remove it or choose another --control path", path, describeMode(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("another daemon is serving %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// describeMode names a file type for a message.
func describeMode(m os.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case os.ModeDir:
		return "a directory"
	case os.ModeSymlink:
		return "a symbolic link"
	case os.ModeNamedPipe:
		return "a FIFO"
	case os.ModeDevice, os.ModeDevice | os.ModeCharDevice:
		return "a device"
	}
	return "type " + m.Type().String()
}

// renameNoReplace renames name in directory dirfd to to, failing with
// os.ErrExist if to exists (renameat2 RENAME_NOREPLACE; link and unlink
// where the file system does not support it).
func renameNoReplace(dirfd int, name, to string) error {
	err := unix.Renameat2(dirfd, name, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = unix.Linkat(dirfd, name, unix.AT_FDCWD, to, 0); err == nil {
			err = unix.Unlinkat(dirfd, name, 0)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: name, New: to, Err: err}
	}
	return nil
}

func (d *Daemon) serveConn(ctx context.Context, c *net.UnixConn, gid int) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
	reply := func(r control.Reply) {
		// A fresh deadline: the reply to a client that took the whole
		// read timeout must still go out.
		_ = c.SetWriteDeadline(time.Now().Add(requestTimeout))
		_ = json.NewEncoder(c).Encode(r)
	}
	cred, err := peerCred(c)
	if err != nil {
		reply(control.Reply{Error: "cannot identify the peer: " + err.Error()})
		return
	}
	// One byte more than a request may have tells a long request from a
	// client that closed after a short one.
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest+1), maxRequest+1).ReadBytes('\n')
	if len(line) > maxRequest || (err != nil && !(errors.Is(err, io.EOF) && len(line) > 0)) {
		reply(control.Reply{Error: fmt.Sprintf("bad request: no complete line within %d bytes and %v", maxRequest, requestTimeout)})
		return
	}
	req, err := control.DecodeRequest(line)
	if err != nil {
		reply(control.Reply{Error: "bad request: " + err.Error()})
		return
	}
	if req.NetNS != 0 && d.nsInode != 0 && req.NetNS != d.nsInode {
		reply(control.Reply{Error: fmt.Sprintf("%s (inode %d, not %d)", control.ErrOtherNetNS, d.nsInode, req.NetNS), NetNS: d.nsInode})
		return
	}
	root := cred.Uid == 0
	member := gid >= 0 && inGroup(cred, gid)
	qctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	switch req.Query {
	case control.QueryStatus:
		if !root && !member {
			reply(control.Reply{Error: "permission denied: status needs root or the control group"})
			return
		}
		st, err := d.status(qctx, req.Brief)
		if err != nil {
			reply(control.Reply{Error: err.Error()})
			return
		}
		reply(control.Reply{Status: st})
	case control.QueryDecisions:
		if !root && !member {
			reply(control.Reply{Error: "permission denied: decisions needs root or the control group"})
			return
		}
		d.streamDecisions(ctx, c, reply)
	case control.QueryReload:
		if !root {
			reply(control.Reply{Error: "permission denied: reload needs root"})
			return
		}
		if err := d.Reload(qctx); err != nil {
			reply(control.Reply{Error: err.Error()})
			return
		}
		reply(control.Reply{})
	case control.QueryExplain:
		d.serveExplain(qctx, req, root || member, reply)
	default:
		reply(control.Reply{Error: fmt.Sprintf("unknown query %q (want %s, %s, %s or %s)", req.Query,
			control.QueryStatus, control.QueryDecisions, control.QueryReload, control.QueryExplain)})
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
