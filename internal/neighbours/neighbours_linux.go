//go:build linux

package neighbours

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// ErrKeeperActive is returned by Claim when another mptcp-pm keeps the
// namespace's endpoints.
var ErrKeeperActive = errors.New("another mptcp-pm in endpoint mode is active in this namespace")

// Marker is the abstract unix socket that tells other mptcp-pm daemons
// (Scan) this one runs in the namespace, in its role. It lives as long as
// the process, or until Close: a crash leaves nothing behind.
type Marker struct {
	fds []int
}

// Claim binds the marker of role for this process in namespace netnsFD
// (0: the caller's). For RoleKeeper it first takes the namespace's keeper
// lock, and fails with ErrKeeperActive if another keeper holds it, unless
// force (then it runs without the lock).
func Claim(netnsFD int, role string, force bool) (*Marker, error) {
	m := &Marker{}
	err := netns.Do(netnsFD, func() error {
		if role == RoleKeeper {
			fd, err := bindAbstract(lockName)
			switch {
			case errors.Is(err, unix.EADDRINUSE) && !force:
				return ErrKeeperActive
			case err == nil:
				m.fds = append(m.fds, fd)
			case !errors.Is(err, unix.EADDRINUSE):
				return err
			}
		}
		fd, err := bindAbstract(markerName(role, os.Getpid()))
		if err != nil {
			return err
		}
		m.fds = append(m.fds, fd)
		return nil
	})
	if err != nil {
		m.Close()
		if errors.Is(err, ErrKeeperActive) {
			return nil, err
		}
		return nil, fmt.Errorf("neighbours: mark this daemon: %w", err)
	}
	return m, nil
}

// Close releases the marker (and the lock).
func (m *Marker) Close() {
	for _, fd := range m.fds {
		_ = unix.Close(fd)
	}
	m.fds = nil
}

func bindAbstract(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Scan returns the other managers of MPTCP in namespace netnsFD (0: the
// caller's), the calling process left out: the mptcp-pm daemons that
// marked it (Claim), and the processes named NetworkManager or mptcpd
// whose network namespace is the same. A process's namespace is compared
// through /proc/PID/net/unix, whose inode number is per namespace and which,
// unlike /proc/PID/ns/net, needs no ptrace access: Scan works after the
// daemon dropped its capabilities. It reads only /proc.
func Scan(netnsFD int) ([]Neighbour, error) {
	var unixText string
	var ino uint64
	err := netns.Do(netnsFD, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/unix")
		if err != nil {
			return err
		}
		unixText = string(b)
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/net/unix", &st); err != nil {
			return err
		}
		ino = st.Ino
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	self := os.Getpid()
	var out []Neighbour
	for _, n := range parseUnix(unixText) {
		if n.PID != self {
			out = append(out, n)
		}
	}
	procs, err := processes(ino, self)
	if err != nil {
		return nil, err
	}
	out = append(out, procs...)
	slices.SortFunc(out, func(a, b Neighbour) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Role, b.Role), cmp.Compare(a.PID, b.PID))
	})
	return out, nil
}

// processes are the watched processes whose namespace's /proc/net/unix
// has inode ino.
func processes(ino uint64, self int) ([]Neighbour, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	var out []Neighbour
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue // gone
		}
		name := strings.TrimSpace(string(comm))
		if !slices.Contains(watched, name) {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/net/unix", &st) != nil || st.Ino != ino {
			continue
		}
		out = append(out, Neighbour{Name: name, PID: pid})
	}
	return out, nil
}
