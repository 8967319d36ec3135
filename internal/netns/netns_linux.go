//go:build linux

// Package netns runs a function with the calling goroutine's thread in
// another network namespace, for the few things that follow the thread's
// namespace rather than a socket's (sysctls under /proc/sys/net).
package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

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

// Do runs fn on a thread switched into the namespace fd (0: fn runs where
// the caller is). The thread is switched back afterwards; if that fails it
// stays locked, so that it ends with the goroutine instead of going back
// to the scheduler in the wrong namespace. Goroutines started by fn do not
// run in the namespace.
func Do(fd int, fn func() error) error {
	if fd == 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("netns: restore: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
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
