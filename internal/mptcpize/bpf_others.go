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

// OpenCgroup is Linux only.
func OpenCgroup(string) (*Scope, error) {
	return nil, fmt.Errorf("mptcpize: cgroups on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

// Attach is Linux only.
func (s *Scope) Attach() error {
	return fmt.Errorf("mptcpize: bpf on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}
