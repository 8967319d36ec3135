// Command mptcp-evlat measures a path manager from the outside, by the
// kernel's MPTCP events, for the scale benchmark (scripts/bench-scale.sh).
//
//	mptcp-evlat -client mptcp-cli [-server mptcp-srv] [-json]
//
// It joins the mptcp_pm_events group in the client's (and the server's)
// network namespace, stamps every event as it is received, and, on
// SIGINT or SIGTERM, prints per connection latencies:
//
//   - est_to_sub: the client's ESTABLISHED to the client's first
//     SF_ESTABLISHED (the second subflow is up), the figure of a client
//     path manager;
//   - server_est_to_announced: the server's ESTABLISHED to the client's
//     ANNOUNCED (the server's ADD_ADDR arrived), and server_est_to_sub: to
//     the client's SF_ESTABLISHED, the figures of a server path manager
//     that announces an address.
//
// The two sides of a connection have different tokens, so they are
// matched by 4-tuple. Events are stamped on receipt in user space, so
// each figure includes this tool's own scheduling delay. The event
// sockets get a large receive buffer (-buffer); an overflow (ENOBUFS,
// events lost) is counted and reported, never hidden. The namespaces are
// named as `ip netns` names them (/var/run/netns/NAME); the tool itself
// runs in any namespace.
//
// Once subscribed it prints "ready" on stderr.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mptcp-evlat:", err)
		os.Exit(1)
	}
}

// stamped is one event and when it was received.
type stamped struct {
	at time.Time
	ev genl.Event
}

// side collects the events of one namespace.
type side struct {
	ns        string
	ev        *genl.Events
	mu        sync.Mutex
	events    []stamped
	overflows int
	decodeErr int
	err       error
}

func (s *side) pump() {
	for {
		evs, err := s.ev.Receive()
		now := time.Now()
		s.mu.Lock()
		for _, e := range evs {
			switch e.Type {
			case genl.EventEstablished, genl.EventSubEstablished, genl.EventAnnounced, genl.EventCreated, genl.EventClosed:
				s.events = append(s.events, stamped{now, e})
			}
		}
		var de *genl.DecodeError
		switch {
		case err == nil:
		case errors.Is(err, genl.ErrOverflow):
			s.overflows++
		case errors.As(err, &de):
			s.decodeErr++
		default:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.mu.Unlock()
				return
			}
			s.err = err
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

func open(ns string, buf int) (*side, error) {
	f, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer f.Close()
	ev, err := genl.NewEvents(&genl.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	if err := ev.SetReadBuffer(buf); err != nil {
		_ = ev.Close()
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	return &side{ns: ns, ev: ev}, nil
}

// Stats are latency figures in microseconds.
type Stats struct {
	Count int     `json:"count"`
	P50us float64 `json:"p50_us"`
	P99us float64 `json:"p99_us"`
	Maxus float64 `json:"max_us"`
}

func stats(d []time.Duration) Stats {
	if len(d) == 0 {
		return Stats{}
	}
	slices.Sort(d)
	q := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1
		return us(d[min(max(i, 0), len(d)-1)])
	}
	return Stats{Count: len(d), P50us: q(0.5), P99us: q(0.99), Maxus: us(d[len(d)-1])}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// SideReport counts what one namespace saw.
type SideReport struct {
	NetNS          string `json:"netns"`
	Events         int    `json:"events"`
	Established    int    `json:"established"`
	SubEstablished int    `json:"sub_established"`
	Announced      int    `json:"announced"`
	Closed         int    `json:"closed"`
	Overflows      int    `json:"overflows"`
	DecodeErrors   int    `json:"decode_errors"`
	BufferBytes    int    `json:"buffer_bytes"`
	Error          string `json:"error,omitempty"`
}

// Report is what the tool prints.
type Report struct {
	Client *SideReport `json:"client"`
	Server *SideReport `json:"server,omitempty"`
	// Connections the client saw established, and of them those that got
	// a second subflow (served) and an ADD_ADDR (announced).
	Connections int `json:"connections"`
	Served      int `json:"served"`
	Announced   int `json:"announced"`
	// ServedPerSecond is Served over the time from the first client
	// ESTABLISHED to the last first SF_ESTABLISHED.
	ServedPerSecond float64 `json:"served_per_s"`
	ServedSeconds   float64 `json:"served_s"`
	EstToSub        Stats   `json:"est_to_sub"`
	// Server side, matched by 4-tuple.
	Matched              int   `json:"matched,omitempty"`
	ServerEstToAnnounced Stats `json:"server_est_to_announced"`
	ServerEstToSub       Stats `json:"server_est_to_sub"`
}

// conn is one connection as the client sees it.
type conn struct {
	local, remote netip.AddrPort
	est, sub, ann time.Time
}

func run() error {
	client := flag.String("client", "", "client network namespace (required)")
	server := flag.String("server", "", "server network namespace (for the server-side figures)")
	buf := flag.Int("buffer", 64<<20, "receive buffer of each event socket, bytes")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	if *client == "" {
		return errors.New("-client NETNS is required")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	cs, ss, sides, err := openSides(*client, *server, *buf)
	if err != nil {
		return err
	}
	collect(sides, sig)

	rep := Report{Client: sideReport(cs)}
	all := clientConns(cs)
	rep.addClient(all)
	if ss != nil {
		rep.addServer(ss, all)
	}
	if err := printReport(&rep, *asJSON, ss != nil); err != nil {
		return err
	}
	for _, s := range sides {
		_ = s.ev.Close()
		if s.err != nil {
			return fmt.Errorf("namespace %s: %w", s.ns, s.err)
		}
	}
	return nil
}

// openSides opens the event socket of the client's namespace and, if
// server is set, of the server's: sides is both.
func openSides(client, server string, buf int) (cs, ss *side, sides []*side, err error) {
	cs, err = open(client, buf)
	if err != nil {
		return nil, nil, nil, err
	}
	sides = append(sides, cs)
	if server != "" {
		if ss, err = open(server, buf); err != nil {
			return nil, nil, nil, err
		}
		sides = append(sides, ss)
	}
	return cs, ss, sides, nil
}

// collect reads the events of every side until a signal on sig, then
// lets what the kernel already queued be read, and stops.
func collect(sides []*side, sig <-chan os.Signal) {
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Go(s.pump)
	}
	fmt.Fprintln(os.Stderr, "ready")
	<-sig
	// Let what the kernel already queued be read, then stop.
	for _, s := range sides {
		_ = s.ev.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	wg.Wait()
}

// clientConns is the client's connections, in the order they started,
// by token (a token is reused only after CLOSED; a second ESTABLISHED
// starts a new connection).
func clientConns(cs *side) []*conn {
	var all []*conn
	byToken := map[uint32]*conn{}
	for _, s := range cs.events {
		e := s.ev
		switch e.Type {
		case genl.EventCreated:
			if !e.ServerSide() {
				c := &conn{local: e.Local, remote: e.Remote}
				byToken[e.Token] = c
				all = append(all, c)
			}
		case genl.EventEstablished:
			if e.ServerSide() {
				continue
			}
			c := byToken[e.Token]
			if c == nil || !c.est.IsZero() {
				c = &conn{local: e.Local, remote: e.Remote}
				byToken[e.Token] = c
				all = append(all, c)
			}
			c.est = s.at
		case genl.EventSubEstablished:
			if c := byToken[e.Token]; c != nil && c.sub.IsZero() {
				c.sub = s.at
			}
		case genl.EventAnnounced:
			if c := byToken[e.Token]; c != nil && c.ann.IsZero() {
				c.ann = s.at
			}
		case genl.EventClosed:
			delete(byToken, e.Token)
		}
	}
	return all
}

// addClient fills in the client-side figures from the client's
// connections.
func (rep *Report) addClient(all []*conn) {
	var estToSub []time.Duration
	var first, last time.Time
	for _, c := range all {
		if c.est.IsZero() {
			continue
		}
		rep.Connections++
		if first.IsZero() || c.est.Before(first) {
			first = c.est
		}
		if !c.ann.IsZero() {
			rep.Announced++
		}
		if c.sub.IsZero() {
			continue
		}
		rep.Served++
		estToSub = append(estToSub, c.sub.Sub(c.est))
		if c.sub.After(last) {
			last = c.sub
		}
	}
	rep.EstToSub = stats(estToSub)
	if rep.Served > 0 && last.After(first) {
		rep.ServedSeconds = last.Sub(first).Seconds()
		rep.ServedPerSecond = float64(rep.Served) / rep.ServedSeconds
	}
}

// addServer fills in the server-side figures: the server's events, and
// the client's connections matched to the server's ESTABLISHED by
// 4-tuple.
func (rep *Report) addServer(ss *side, all []*conn) {
	rep.Server = sideReport(ss)
	// The server's ESTABLISHED by 4-tuple, seen from the client.
	type key struct{ local, remote netip.AddrPort }
	srvEst := map[key]time.Time{}
	for _, s := range ss.events {
		if s.ev.Type == genl.EventEstablished {
			k := key{unmap(s.ev.Remote), unmap(s.ev.Local)}
			if _, ok := srvEst[k]; !ok {
				srvEst[k] = s.at
			}
		}
	}
	var toAnn, toSub []time.Duration
	for _, c := range all {
		if c.est.IsZero() {
			continue
		}
		t, ok := srvEst[key{unmap(c.local), unmap(c.remote)}]
		if !ok {
			continue
		}
		rep.Matched++
		if !c.ann.IsZero() {
			toAnn = append(toAnn, c.ann.Sub(t))
		}
		if !c.sub.IsZero() {
			toSub = append(toSub, c.sub.Sub(t))
		}
	}
	rep.ServerEstToAnnounced = stats(toAnn)
	rep.ServerEstToSub = stats(toSub)
}

// printReport prints rep as JSON or as text (with the server-side figures
// if withServer).
func printReport(rep *Report, asJSON, withServer bool) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Printf("connections %d served %d (%.0f/s) announced %d\n", rep.Connections, rep.Served, rep.ServedPerSecond, rep.Announced)
	fmt.Printf("est→sub p50 %.0fµs p99 %.0fµs max %.0fµs (n %d)\n", rep.EstToSub.P50us, rep.EstToSub.P99us, rep.EstToSub.Maxus, rep.EstToSub.Count)
	if withServer {
		fmt.Printf("server est→announced p50 %.0fµs p99 %.0fµs max %.0fµs (n %d)\n", rep.ServerEstToAnnounced.P50us,
			rep.ServerEstToAnnounced.P99us, rep.ServerEstToAnnounced.Maxus, rep.ServerEstToAnnounced.Count)
		fmt.Printf("server est→sub p50 %.0fµs p99 %.0fµs max %.0fµs (n %d)\n", rep.ServerEstToSub.P50us,
			rep.ServerEstToSub.P99us, rep.ServerEstToSub.Maxus, rep.ServerEstToSub.Count)
	}
	return nil
}

func sideReport(s *side) *SideReport {
	r := &SideReport{NetNS: s.ns, Events: len(s.events), Overflows: s.overflows, DecodeErrors: s.decodeErr}
	if s.err != nil {
		r.Error = s.err.Error()
	}
	r.BufferBytes, _ = s.ev.ReadBuffer()
	for _, e := range s.events {
		switch e.ev.Type {
		case genl.EventEstablished:
			r.Established++
		case genl.EventSubEstablished:
			r.SubEstablished++
		case genl.EventAnnounced:
			r.Announced++
		case genl.EventClosed:
			r.Closed++
		}
	}
	return r
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
