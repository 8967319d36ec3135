//go:build !linux

package caps

import (
	"fmt"
	"os"
	"runtime"
)

// Drop is not supported on this platform.
func Drop(keep []Capability, as *Identity) (Dropped, error) {
	return Dropped{}, fmt.Errorf("drop capabilities: not supported on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}
