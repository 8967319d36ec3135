//go:build linux

// Package netns runs functions on a thread in another network namespace:
// for the sockets opened there and the few things that follow the
// thread's namespace (sysctls under /proc/sys/net).
package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Open opens a namespace by name (as `ip netns` names them, under
// /var/run/netns) or by path.
func Open(name string) (*os.File, error) {
	path := name
	if !strings.Contains(name, "/") {
		path = filepath.Join("/var/run/netns", name)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace %q: %w", name, err)
	}
	return f, nil
}

// Do runs fn on a thread that is in the namespace fd (0: fn runs where
// the caller is). Goroutines started by fn do not run in the namespace.
//
// The thread is the namespace's own: the first Do for a namespace starts
// it, locked, and switches it in (setns, which needs CAP_SYS_ADMIN); it
// stays there for the life of the process and runs every later Do for
// that namespace, whatever fd names it. So a process that called Do for
// a namespace before it dropped CAP_SYS_ADMIN can still open sockets
// there, and no thread ever goes back to the scheduler in another
// namespace.
func Do(fd int, fn func() error) error {
	if fd == 0 {
		return fn()
	}
	w, err := workerFor(fd)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	w <- func() { errc <- fn() }
	return <-errc
}

// Release ends the thread of the namespace fd, if Do started one: the
// thread holds the namespace, which outlives its last fd while the thread
// is in it. For tests, which make namespaces and expect them (and their
// links) to go away; a daemon keeps its namespace's thread. No Do for
// that namespace may run at the same time.
func Release(fd int) {
	k, err := keyOf(fd)
	if err != nil {
		return
	}
	mu.Lock()
	w, ok := workers[k]
	delete(workers, k)
	mu.Unlock()
	if ok {
		close(w) // its goroutine returns locked: the thread exits
	}
}

// nsKey identifies a namespace: the device and inode of its nsfs file.
type nsKey struct{ dev, ino uint64 }

var (
	mu      sync.Mutex
	workers = map[nsKey]chan func(){}
)

func keyOf(fd int) (nsKey, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nsKey{}, fmt.Errorf("netns: fd %d: %w", fd, err)
	}
	return nsKey{uint64(st.Dev), st.Ino}, nil
}

// workerFor returns the work queue of the thread of the namespace fd,
// starting it if there is none.
func workerFor(fd int) (chan func(), error) {
	k, err := keyOf(fd)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if w, ok := workers[k]; ok {
		return w, nil
	}
	w, errc := make(chan func()), make(chan error, 1)
	go func() {
		// Locked for good: the thread ends with the process, or with
		// this goroutine if setns fails (a locked goroutine's thread
		// exits with it).
		runtime.LockOSThread()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: setns: %w", err)
			return
		}
		errc <- nil
		for fn := range w {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	workers[k] = w
	return w, nil
}

// ReadSysctl reads a sysctl (e.g. "net/mptcp/pm_type") in namespace fd.
func ReadSysctl(fd int, key string) (string, error) {
	var v string
	err := Do(fd, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return v, nil
}

// WriteSysctl writes a sysctl in namespace fd.
func WriteSysctl(fd int, key, value string) error {
	err := Do(fd, func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0)
	})
	if err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
