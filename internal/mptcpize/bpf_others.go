//go:build !linux

package mptcpize

import (
	"fmt"
	"os"
	"runtime"
)

// StartBPF is Linux only.
func StartBPF() (*Scope, error) {
	return nil, fmt.Errorf("mptcpize: bpf on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}
