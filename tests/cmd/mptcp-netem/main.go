// Command mptcp-netem delays (and optionally drops) the packets that
// iptables sends to one or more NFQUEUE queues, in the network namespace
// it runs in, until SIGTERM or SIGINT (see package tests/netem):
//
//	mptcp-netem -queue 10,11 -delay 150ms [-jitter 10ms] [-drop 0] [-maxqueue 16384]
//
// Each queue is held and released independently (its own FIFO), with the
// same settings. -delay is the time each packet is held, so it is one-way
// for the traffic of that queue; scripts/impair.sh passes half of the
// path's added round-trip time to a queue per direction.
//
// Once every queue is bound it prints one line "ready" on standard output.
// On SIGTERM or SIGINT it accepts the packets it holds, prints each
// queue's counters on standard error and exits 0. Errors exit 1 (2 for bad
// flags).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/netem"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mptcp-netem:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(args []string) error {
	fs := flag.NewFlagSet("mptcp-netem", flag.ContinueOnError)
	queues := fs.String("queue", "", "NFQUEUE numbers to serve, comma-separated (required)")
	delay := fs.Duration("delay", 0, "time each packet is held (one-way, per queue)")
	jitter := fs.Duration("jitter", 0, "uniform jitter in [-jitter, +jitter] added to -delay")
	drop := fs.Float64("drop", 0, "percentage (0..100) of packets to drop at random")
	maxQueue := fs.Uint("maxqueue", netem.DefaultMaxQueue, "kernel queue length per queue (packets beyond it pass undelayed)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mptcp-netem -queue N[,N...] -delay D [-jitter J] [-drop P] [-maxqueue N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	nums, err := parseQueues(*queues)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *maxQueue == 0 || *maxQueue > 1<<31 {
		return fmt.Errorf("%w: invalid -maxqueue %d", errUsage, *maxQueue)
	}
	var qs []*netem.Queue
	defer func() {
		for _, q := range qs {
			q.Close() // after Serve: a no-op
		}
	}()
	for _, n := range nums {
		q, err := netem.Listen(netem.Config{
			Queue:       n,
			Delay:       *delay,
			Jitter:      *jitter,
			DropPercent: *drop,
			MaxQueue:    uint32(*maxQueue),
		})
		if err != nil {
			return err
		}
		qs = append(qs, q)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Println("ready")

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		serveErr error
	)
	for _, q := range qs {
		wg.Go(func() {
			if err := q.Serve(ctx); err != nil {
				mu.Lock()
				serveErr = errors.Join(serveErr, err)
				mu.Unlock()
				cancel() // stop the other queues too
			}
		})
	}
	start := time.Now()
	wg.Wait()
	for i, q := range qs {
		s := q.Stats()
		fmt.Fprintf(os.Stderr, "mptcp-netem: queue %d: %v: received %d, accepted %d, dropped %d, max held %d, verdict errors %d, malformed %d\n",
			nums[i], time.Since(start).Round(time.Millisecond), s.Received, s.Accepted, s.Dropped, s.MaxHeld, s.VerdictErrors, s.Malformed)
	}
	return serveErr
}

// parseQueues parses a comma-separated list of distinct queue numbers.
func parseQueues(s string) ([]uint16, error) {
	if s == "" {
		return nil, errors.New("-queue is required")
	}
	var nums []uint16
	seen := map[uint16]bool{}
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid queue number %q in -queue (want 0..65535)", f)
		}
		if seen[uint16(n)] {
			return nil, fmt.Errorf("queue %d given twice in -queue", n)
		}
		seen[uint16(n)] = true
		nums = append(nums, uint16(n))
	}
	return nums, nil
}
