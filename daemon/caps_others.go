//go:build !linux

package daemon

import (
	"fmt"
	"os"
	"runtime"
)

// DropCapabilities is not supported on this platform.
func DropCapabilities(keep []Capability) (CapabilityDrop, error) {
	return CapabilityDrop{}, fmt.Errorf("drop capabilities: not supported on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}
