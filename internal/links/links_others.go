//go:build !linux

package links

import (
	"fmt"
	"os"
	"runtime"
)

// Table is a snapshot of the interfaces of one namespace.
type Table struct{}

// Dump returns an error on this platform.
func Dump(int) (*Table, error) {
	return nil, fmt.Errorf("links: interfaces of a namespace on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

// Name returns "" on this platform.
func (t *Table) Name(int32) string { return "" }

// Index reports false on this platform.
func (t *Table) Index(string) (int32, bool) { return 0, false }
