//go:build !linux

package ifmon

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
)

var errUnsupported = fmt.Errorf("ifmon: rtnetlink on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)

// sysMonitor is the part of a Monitor that this platform lacks.
type sysMonitor struct{}

func (sysMonitor) unsupported() error { return errUnsupported }

// New returns an error on this platform: there is no rtnetlink.
func New(cfg Config) (*Monitor, error) {
	if _, err := newMonitor(cfg); err != nil {
		return nil, err
	}
	return nil, errUnsupported
}

// Snapshot returns an error on this platform.
func (m *Monitor) Snapshot() (Snapshot, error) { return Snapshot{}, m.sys.unsupported() }

// Run returns an error on this platform.
func (m *Monitor) Run(context.Context) error { return m.sys.unsupported() }

// Route returns an error on this platform.
func (m *Monitor) Route(src, dst netip.Addr) (Route, error) { return Route{}, m.sys.unsupported() }
