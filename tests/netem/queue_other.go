//go:build !linux

package netem

import (
	"context"
	"errors"
)

var errNotLinux = errors.New("netem: NFQUEUE needs Linux")

// Queue is a bound NFQUEUE; on this system Listen always fails.
type Queue struct{}

// Listen fails: NFQUEUE needs Linux.
func Listen(cfg Config) (*Queue, error) {
	if _, err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, errNotLinux
}

// Serve fails: NFQUEUE needs Linux.
func (q *Queue) Serve(ctx context.Context) error { return errNotLinux }

// Close does nothing.
func (q *Queue) Close() error { return nil }

// Stats returns zeros.
func (q *Queue) Stats() Stats { return Stats{} }
