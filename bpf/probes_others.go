//go:build !linux

package bpf

import (
	"fmt"
	"os"
	"runtime"
)

type probes struct {
	events chan Event
	cgroup string
}

func load(Config) (*probes, error) {
	return nil, fmt.Errorf("%w: not supported on %s/%s: %w", ErrUnavailable, runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

func notSupported() error {
	return fmt.Errorf("bpf: not supported on %s/%s: %w", runtime.GOOS, runtime.GOARCH, os.ErrNotExist)
}

func (*probes) seed(int) error                    { return notSupported() }
func (*probes) metrics() (map[Key]Metrics, error) { return nil, notSupported() }

func (*probes) eachMetrics(func(Key, *Metrics)) error { return notSupported() }
func (*probes) eventsLost() (uint64, error)           { return 0, notSupported() }
func (*probes) close() error                          { return nil }
