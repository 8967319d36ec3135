// Command mptcp-load opens many MPTCP connections at a chosen rate and
// holds them, for the scale benchmark (scripts/bench-scale.sh). It has two
// roles:
//
//	mptcp-load server -listen 0.0.0.0:5301
//	mptcp-load client -connect 10.0.3.2:5301 -n 10000 -rate 1000 -hold until-signal -json
//
// The server accepts MPTCP connections and holds each one, reading until
// EOF; with -push it also writes that many bytes on each every -every (a
// small paced stream, which the client reads with -drain). The client opens N connections (-rate 0: as fast as the kernel
// allows, with at most -inflight dials outstanding) and writes one byte on
// each (-send): a client's MPTCP connection is fully established, and
// path managers get its ESTABLISHED event, only once the server has
// acknowledged data (without any, not before it closes). It holds them
// for -hold (or until SIGUSR1, SIGINT or SIGTERM with -hold until-signal),
// closes them all and prints what it saw: connections opened, of which
// MPTCP (not fallen back to TCP), failures, the achieved rate and the dial
// latency. Both raise RLIMIT_NOFILE themselves. Run them inside a network
// namespace with `ip netns exec`.
//
// Once every dial is done the client prints one line to stderr,
// "opened N mptcp M failed F in Ds", so that a script can tell when the
// load is in place.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mptcp-load server|client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = server(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want server or client)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mptcp-load:", err)
		os.Exit(1)
	}
}

// raiseNoFile raises RLIMIT_NOFILE to at least want descriptors (capped at
// fs.nr_open), soft and hard, and returns the soft limit it ends up with.
func raiseNoFile(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && want > n {
			want = n
		}
	}
	nl := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl); err != nil {
		// Without privilege: as far as the hard limit goes.
		nl = syscall.Rlimit{Cur: min(want, lim.Max), Max: lim.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl); err2 != nil {
			return lim.Cur, fmt.Errorf("set RLIMIT_NOFILE %d: %w", want, err)
		}
	}
	return nl.Cur, nil
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "0.0.0.0:5301", "address to listen on")
	nofile := fs.Uint64("nofile", 1<<20, "RLIMIT_NOFILE to ask for")
	push := fs.Int("push", 0, "bytes to write on each connection every -every (0: none): a small paced stream the client receives")
	every := fs.Duration("every", 20*time.Millisecond, "how often -push bytes are written")
	_ = fs.Parse(args)
	if _, err := raiseNoFile(*nofile); err != nil {
		return err
	}
	if *push < 0 || *every <= 0 {
		return errors.New("server: -push must not be negative, -every must be positive")
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	// An IPv4 address gets an AF_INET socket: Go would listen on a
	// dual-stack AF_INET6 socket for 0.0.0.0, and the kernel's events would
	// then carry v4-mapped addresses (::ffff:10.0.3.2), which path managers
	// such as mptcpd cannot match to an interface.
	network := "tcp"
	if ap, err := netip.ParseAddrPort(*listen); err == nil && ap.Addr().Is4() {
		network = "tcp4"
	}
	ln, err := lc.Listen(context.Background(), network, *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	var accepted, open, fallback atomic.Int64
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(os.Stderr, "accepted %d (not mptcp %d), open %d\n", accepted.Load(), fallback.Load(), open.Load())
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				fmt.Fprintln(os.Stderr, "mptcp-load: accept:", err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		accepted.Add(1)
		if m, _ := c.(*net.TCPConn).MultipathTCP(); !m {
			fallback.Add(1)
		}
		open.Add(1)
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, c)
			_ = c.Close()
			open.Add(-1)
			close(done)
		}()
		if *push > 0 {
			go pace(c, *push, *every, done)
		}
	}
}

// pace writes n bytes on c every interval until done is closed or a
// write fails.
func pace(c net.Conn, n int, every time.Duration, done <-chan struct{}) {
	buf := make([]byte, n)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}
}

// result is what the client prints.
type result struct {
	Connect     string         `json:"connect"`
	Local       string         `json:"local,omitempty"`
	N           int            `json:"n"`
	TargetRate  float64        `json:"target_rate"` // 0: as fast as possible
	Inflight    int            `json:"inflight"`
	Opened      int            `json:"opened"`
	MPTCP       int            `json:"mptcp"`    // opened and MPTCP (MultipathTCP() true)
	Fallback    int            `json:"fallback"` // opened as plain TCP
	Failed      int            `json:"failed"`
	Errors      map[string]int `json:"errors,omitempty"` // dial error -> count
	OpenSeconds float64        `json:"open_s"`           // first dial to last dial done
	Rate        float64        `json:"rate"`             // opened / open_s
	DialP50ms   float64        `json:"dial_p50_ms"`
	DialP99ms   float64        `json:"dial_p99_ms"`
	DialMaxms   float64        `json:"dial_max_ms"`
	HeldSeconds float64        `json:"held_s"`
	CloseMS     float64        `json:"close_ms"` // closing them all
	Started     time.Time      `json:"started"`
	Opening     time.Time      `json:"all_open"` // when the last dial finished
	Closing     time.Time      `json:"closing"`  // when closing started
	NoFile      uint64         `json:"nofile"`
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	connect := fs.String("connect", "", "server ADDR:PORT")
	local := fs.String("local", "", "local address to bind (default: any)")
	n := fs.Int("n", 1000, "connections to open")
	rate := fs.Float64("rate", 1000, "connections per second (0: as fast as possible)")
	inflight := fs.Int("inflight", 256, "most dials outstanding at once")
	hold := fs.String("hold", "5s", "how long to hold the connections once all are open: a duration, or until-signal (SIGUSR1, SIGINT, SIGTERM)")
	timeout := fs.Duration("timeout", 10*time.Second, "dial timeout")
	send := fs.Int("send", 1, "bytes to write on each connection once open (0: none); the server's acknowledgement of data is what makes a client's MPTCP connection fully established (the ESTABLISHED event), so with 0 no path manager sees the connection before it closes")
	drain := fs.Bool("drain", false, "read and discard what the server sends on each connection (a server run with -push)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	_ = fs.Parse(args)
	if *connect == "" {
		return errors.New("client: -connect ADDR:PORT is required")
	}
	if *n < 1 || *inflight < 1 || *rate < 0 {
		return errors.New("client: -n and -inflight must be positive, -rate not negative")
	}
	holdFor, untilSignal, err := parseHold(*hold)
	if err != nil {
		return err
	}
	nofile, err := raiseNoFile(uint64(*n) + 1024)
	if err != nil {
		return err
	}
	if nofile < uint64(*n)+64 {
		return fmt.Errorf("client: RLIMIT_NOFILE is %d, too low for %d connections", nofile, *n)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)

	d := net.Dialer{Timeout: *timeout}
	d.SetMultipathTCP(true)
	if *local != "" {
		ip := net.ParseIP(*local)
		if ip == nil {
			return fmt.Errorf("client: invalid -local %q", *local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}

	res := result{Connect: *connect, Local: *local, N: *n, TargetRate: *rate, Inflight: *inflight, NoFile: nofile}
	o := openOptions{connect: *connect, n: *n, rate: *rate, inflight: *inflight, send: *send, drain: *drain}
	conns := res.openAll(&d, o)
	fmt.Fprintf(os.Stderr, "opened %d mptcp %d failed %d in %.3fs\n", res.Opened, res.MPTCP, res.Failed, res.OpenSeconds)

	if untilSignal {
		<-sig
	} else {
		select {
		case <-time.After(holdFor):
		case <-sig:
		}
	}
	res.closeAll(conns)
	return res.print(*asJSON)
}

// parseHold parses -hold: a duration, or until-signal.
func parseHold(hold string) (holdFor time.Duration, untilSignal bool, err error) {
	if hold == "until-signal" {
		return 0, true, nil
	}
	d, err := time.ParseDuration(hold)
	if err != nil || d < 0 {
		return 0, false, fmt.Errorf("client: invalid -hold %q (want a duration or until-signal)", hold)
	}
	return d, false, nil
}

// openOptions is how the client opens its connections.
type openOptions struct {
	connect  string
	n        int
	rate     float64 // connections per second; 0: as fast as possible
	inflight int     // most dials outstanding at once
	send     int     // bytes to write on each once open
	drain    bool    // read and discard what the server sends
}

// openAll opens the connections with d, at the rate, and fills in the
// opening figures. conns holds the connections opened (nil for those that
// failed).
func (res *result) openAll(d *net.Dialer, o openOptions) (conns []net.Conn) {
	conns = make([]net.Conn, o.n)
	lat := make([]time.Duration, o.n)
	errs := make([]error, o.n)
	sem := make(chan struct{}, o.inflight)
	payload := make([]byte, max(o.send, 0))
	var wg sync.WaitGroup
	start := time.Now()
	res.Started = start
	for i := range o.n {
		if o.rate > 0 {
			due := start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
			if w := time.Until(due); w > 0 {
				time.Sleep(w)
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t := time.Now()
			c, err := d.Dial("tcp", o.connect)
			lat[i] = time.Since(t)
			if err == nil && o.send > 0 {
				if _, werr := c.Write(payload); werr != nil {
					_ = c.Close()
					c, err = nil, werr
				}
			}
			conns[i], errs[i] = c, err
			if err == nil && o.drain {
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
		})
	}
	wg.Wait()
	res.Opening = time.Now()
	res.OpenSeconds = res.Opening.Sub(start).Seconds()
	res.tally(conns, lat, errs)
	return conns
}

// tally counts the connections opened (MPTCP or not) and failed, and the
// dial latencies of those opened.
func (res *result) tally(conns []net.Conn, lat []time.Duration, errs []error) {
	var ok []time.Duration
	for i, c := range conns {
		if errs[i] != nil {
			res.Failed++
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			res.Errors[errText(errs[i])]++
			continue
		}
		res.Opened++
		ok = append(ok, lat[i])
		if m, _ := c.(*net.TCPConn).MultipathTCP(); m {
			res.MPTCP++
		} else {
			res.Fallback++
		}
	}
	if res.OpenSeconds > 0 {
		res.Rate = float64(res.Opened) / res.OpenSeconds
	}
	slices.Sort(ok)
	res.DialP50ms = ms(quantile(ok, 0.50))
	res.DialP99ms = ms(quantile(ok, 0.99))
	if len(ok) > 0 {
		res.DialMaxms = ms(ok[len(ok)-1])
	}
}

// closeAll closes the connections, timing it.
func (res *result) closeAll(conns []net.Conn) {
	res.Closing = time.Now()
	res.HeldSeconds = res.Closing.Sub(res.Opening).Seconds()
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	res.CloseMS = ms(time.Since(res.Closing))
}

// print prints the result as JSON or as text.
func (res *result) print(asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("opened %d of %d (mptcp %d, fallback %d), failed %d, %.0f conn/s over %.3fs, dial p50 %.3fms p99 %.3fms max %.3fms\n",
		res.Opened, res.N, res.MPTCP, res.Fallback, res.Failed, res.Rate, res.OpenSeconds, res.DialP50ms, res.DialP99ms, res.DialMaxms)
	keys := make([]string, 0, len(res.Errors))
	for k := range res.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %d× %s\n", res.Errors[k], k)
	}
	return nil
}

// errText is a dial error without the addresses, so that errors group.
func errText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

// quantile returns the nearest-rank q-quantile of sorted d.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
