package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/tests/stream"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// The download and request/response workloads of package tests/stream in
// the testbed: the server serves them (workloadServer), the client, bound
// to an address of the host under test, runs them in the background
// (startDownload, startReqResp). Plus what the tests of downloads look at
// besides the workload: an interface's byte counters (linkBytes) and the
// subflows established from an address, seen by a monitor (watchSubflows).

// workloadPort is where workloadServer listens in the tests (the echo
// server of newDaemonBed has 5201).
const workloadPort = 5202

// workloadServer listens with MPTCP in ns on addr (a dual-stack socket
// for an unspecified address) and serves stream.Serve on every connection
// until cleanup, when it also closes the connections still open.
func workloadServer(t testing.TB, ns string, addr netip.AddrPort) net.Listener {
	t.Helper()
	ln := listenMPTCPNet(t, ns, "tcp", addr)
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		done  bool
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		done = true
		for c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if done {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			mu.Unlock()
			go func() {
				_ = stream.Serve(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return ln
}

// workload is a download or request/response run in the background.
type workload struct {
	conn   *net.TCPConn
	cancel context.CancelFunc
	done   chan stream.DownloadResult
	res    *stream.DownloadResult // once wait returned
}

// startDownload dials with MPTCP from local in the client namespace of tb
// to remote (a workloadServer) and downloads with o until wait.
func startDownload(t testing.TB, tb *testbed.Testbed, local netip.Addr, remote netip.AddrPort, o stream.DownloadOptions) *workload {
	t.Helper()
	return startWorkload(t, tb, local, remote, func(ctx context.Context, c net.Conn) stream.DownloadResult {
		return stream.Download(ctx, c, o)
	})
}

// startReqResp is startDownload for the request/response workload.
func startReqResp(t testing.TB, tb *testbed.Testbed, local netip.Addr, remote netip.AddrPort, o stream.ReqRespOptions) *workload {
	t.Helper()
	return startWorkload(t, tb, local, remote, func(ctx context.Context, c net.Conn) stream.DownloadResult {
		return stream.ReqResp(ctx, c, o)
	})
}

func startWorkload(t testing.TB, tb *testbed.Testbed, local netip.Addr, remote netip.AddrPort, run func(context.Context, net.Conn) stream.DownloadResult) *workload {
	t.Helper()
	c := dialMPTCP(t, tb.Client, local, remote)
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{conn: c, cancel: cancel, done: make(chan stream.DownloadResult, 1)}
	go func() { w.done <- run(ctx, c) }()
	t.Cleanup(cancel)
	return w
}

// wait stops the workload, closes its connection and returns the result
// (the test decides what is a failure).
func (w *workload) wait() stream.DownloadResult {
	if w.res == nil {
		w.cancel()
		r := <-w.done
		w.conn.Close()
		w.res = &r
	}
	return *w.res
}

// linkBytes returns the bytes received and sent by dev in ns
// (`ip -s -j link show`).
func linkBytes(t testing.TB, ns, dev string) (rx, tx uint64) {
	t.Helper()
	var links []struct {
		Stats64 struct {
			RX struct {
				Bytes uint64 `json:"bytes"`
			} `json:"rx"`
			TX struct {
				Bytes uint64 `json:"bytes"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	out := ip(t, ns, "-s", "-j", "link", "show", "dev", dev)
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -n %s -s -j link show dev %s: %v: %q", ns, dev, err, out)
	}
	return links[0].Stats64.RX.Bytes, links[0].Stats64.TX.Bytes
}

// subflowWatch counts the subflows established from some local addresses,
// from a monitor's SF_ESTABLISHED events.
type subflowWatch struct {
	mu   sync.Mutex
	seen []subflowSeen
}

type subflowSeen struct {
	at    time.Time
	event event
}

// watchSubflows starts a monitor in ns and records every SF_ESTABLISHED
// event whose local address is one of locals, until cleanup.
func watchSubflows(t testing.TB, ns string, locals ...netip.Addr) *subflowWatch {
	t.Helper()
	m := startMonitor(t, ns)
	w := &subflowWatch{}
	go func() {
		for ev := range m.events {
			if ev.str("type") != "SF_ESTABLISHED" {
				continue
			}
			saddr := ev.str("saddr4")
			if saddr == "" {
				saddr = ev.str("saddr6")
			}
			a, err := netip.ParseAddr(saddr)
			if err != nil {
				continue
			}
			for _, l := range locals {
				if a.Unmap() == l {
					w.mu.Lock()
					w.seen = append(w.seen, subflowSeen{time.Now(), ev})
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// since returns the events recorded at or after from.
func (w *subflowWatch) since(from time.Time) []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var evs []event
	for _, s := range w.seen {
		if !s.at.Before(from) {
			evs = append(evs, s.event)
		}
	}
	return evs
}

// eventsString is events as JSON lines, for messages.
func eventsString(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// tcpCounter counts the TCP bytes (IP headers included) that dev in ns
// receives and sends, with nftables counters of a table of its own in ns
// (removed at cleanup): unlike the interface's statistics, nothing but a
// connection or a connection attempt over dev moves them.
type tcpCounter struct {
	t     testing.TB
	ns    string
	table string
}

// countTCP starts counting on dev in ns.
func countTCP(t testing.TB, ns, dev string) *tcpCounter {
	t.Helper()
	c := &tcpCounter{t: t, ns: ns, table: "harness_tcp_" + dev}
	script := fmt.Sprintf(`add table inet %[1]s
add counter inet %[1]s rx
add counter inet %[1]s tx
add chain inet %[1]s in { type filter hook input priority -300; policy accept; }
add chain inet %[1]s out { type filter hook output priority -300; policy accept; }
add rule inet %[1]s in iifname %[2]q meta l4proto tcp counter name rx
add rule inet %[1]s out oifname %[2]q meta l4proto tcp counter name tx
`, c.table, dev)
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", c.table).Run() })
	return c
}

// bytes returns the TCP bytes received and sent so far.
func (c *tcpCounter) bytes() (rx, tx uint64) {
	c.t.Helper()
	read := func(name string) uint64 {
		out, err := exec.Command("ip", "netns", "exec", c.ns, "nft", "list", "counter", "inet", c.table, name).CombinedOutput()
		if err != nil {
			c.t.Fatalf("nft list counter %s in %s: %v: %s", name, c.ns, err, out)
		}
		f := strings.Fields(string(out))
		for i := range f[:len(f)-1] {
			if f[i] == "bytes" {
				n, err := strconv.ParseUint(f[i+1], 10, 64)
				if err == nil {
					return n
				}
			}
		}
		c.t.Fatalf("nft list counter %s in %s: no bytes in %q", name, c.ns, out)
		return 0
	}
	return read("rx"), read("tx")
}

// bidirWorkload is the bidirectional workload in the background.
type bidirWorkload struct {
	conn   *net.TCPConn
	cancel context.CancelFunc
	done   chan [2]any // stream.DownloadResult, stream.Result
}

// startBidir is startDownload for the bidirectional workload: records
// streamed and echoed, and a download, on one connection.
func startBidir(t testing.TB, tb *testbed.Testbed, local netip.Addr, remote netip.AddrPort, o stream.BidirOptions) *bidirWorkload {
	t.Helper()
	c := dialMPTCP(t, tb.Client, local, remote)
	ctx, cancel := context.WithCancel(context.Background())
	w := &bidirWorkload{conn: c, cancel: cancel, done: make(chan [2]any, 1)}
	go func() {
		dl, rec := stream.Bidir(ctx, c, o)
		w.done <- [2]any{dl, rec}
	}()
	t.Cleanup(cancel)
	return w
}

// wait stops the workload, closes its connection and returns what the
// download and the record stream saw.
func (w *bidirWorkload) wait() (stream.DownloadResult, stream.Result) {
	w.cancel()
	r := <-w.done
	w.conn.Close()
	return r[0].(stream.DownloadResult), r[1].(stream.Result)
}
