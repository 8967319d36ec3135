//go:build !linux

package sockdiag

import (
	"fmt"
	"os"
	"runtime"
)

// client is a stub: sock_diag exists only on Linux.
type client struct{}

func newClient(*Config) (*client, error) {
	return nil, fmt.Errorf("sockdiag: not implemented on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

func (*client) close() error { return nil }

func (*client) connections(bool) ([]Conn, error) {
	return nil, fmt.Errorf("sockdiag: not implemented on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

func (*client) socket(uint32) (Conn, error) {
	return Conn{}, fmt.Errorf("sockdiag: not implemented on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}
