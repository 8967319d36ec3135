package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
	"github.com/mptcp-pm/mptcp-pm/policy"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// procDaemon is a daemon with no socket whose process lookups go to scan.
func procDaemon(t *testing.T, scan func(map[uint32]uint32) map[uint32]string) *Daemon {
	t.Helper()
	set := &policy.Set{Config: &policy.Config{Default: policy.Policy{Name: "default", Mode: policy.ModeSingle}},
		Policies: []*policy.Policy{{Name: "curl", Match: policy.Match{Process: "curl"}, Mode: policy.ModeSingle}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newProcFinder("")
	f.scan = scan
	d := &Daemon{set: set, log: log, state: engine.NewState(ifmon.Snapshot{}), matched: map[uint32]matchInfo{},
		inflight: map[inflightKey]bool{}, timer: time.NewTimer(time.Hour), handovers: map[handoverKey]handover{},
		announceLog: newRateLog[uint32](announceLogBurst, announceLogInterval),
		owners:      &owners{log: log, finder: f}}
	d.timer.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// An executor whose commands all succeed, at once.
	d.exec = &executor{out: make(chan result, 1024), do: func(int, engine.Action) error { return nil }}
	for range workers {
		d.exec.in = append(d.exec.in, make(chan job, 1024))
	}
	d.ctx = ctx
	d.exec.run(ctx)
	d.owners.start(ctx)
	return d
}

// A new connection is matched at once, without its process, while a slow
// scan of /proc runs; when the scan answers, the connection gets the
// policy of its process.
func TestProcessMatchOffLoop(t *testing.T) {
	release := make(chan struct{})
	d := procDaemon(t, func(want map[uint32]uint32) map[uint32]string {
		<-release // a host with 100k descriptors: as slow as it likes
		out := map[uint32]string{}
		for inode := range want {
			out[inode] = "curl"
		}
		return out
	})
	const tok = 0xabcd
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:443")
	start := time.Now()
	p := d.match(tok, local, remote, false, &sockdiag.Conn{Token: tok, Inode: 4242, UID: 1000})
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("match took %v with the scan blocked: the loop waits for /proc", took)
	}
	if p.Name != "default" {
		t.Fatalf("matched %q before the process is known, want default", p.Name)
	}
	d.step(engine.ConnCreated{EventBase: now(), Token: tok, Local: local, Remote: remote, Established: true, Policy: p})
	select {
	case r := <-d.owners.found():
		t.Fatalf("a result (%+v) before the scan ended", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case r := <-d.owners.found():
		d.processFound(r)
	case <-time.After(5 * time.Second):
		t.Fatal("no result from the finder")
	}
	if c, ok := d.state.Conn(tok); !ok || c.Policy == nil || c.Policy.Name != "curl" {
		t.Fatalf("after the scan the connection's policy is %+v, want curl", c)
	}
	if got := d.matched[tok].conn.Process; got != "curl" {
		t.Errorf("matched process %q, want curl (kept for reloads)", got)
	}
}

// A result for an earlier connection with the same token (another socket)
// changes nothing; nor does one for a connection that is gone.
func TestProcessFoundStale(t *testing.T) {
	d := procDaemon(t, func(map[uint32]uint32) map[uint32]string { return nil })
	const tok = 7
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:443")
	p := d.match(tok, local, remote, false, &sockdiag.Conn{Token: tok, Inode: 2, UID: 0})
	d.step(engine.ConnCreated{EventBase: now(), Token: tok, Local: local, Remote: remote, Established: true, Policy: p})
	<-d.owners.found() // the empty answer
	d.owners.pending[tok] = 2
	d.processFound(procResult{token: tok, inode: 1, process: "curl"})
	if c, _ := d.state.Conn(tok); c.Policy == nil || c.Policy.Name != "default" {
		t.Errorf("a stale answer changed the policy to %+v", c.Policy)
	}
	d.closeConn(tok, time.Now())
	d.processFound(procResult{token: tok, inode: 2, process: "curl"})
	if _, ok := d.state.Conn(tok); ok {
		t.Error("an answer for a closed connection brought it back")
	}
}

// When the queue is full, a connection is not queued: it keeps the policy
// matched without its process, and the drop is counted.
func TestProcessQueueFull(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	d := procDaemon(t, func(map[uint32]uint32) map[uint32]string { <-block; return nil })
	// The worker takes the first one and blocks; procQueue more fill the queue.
	for i := range procQueue + 10 {
		tok := uint32(i + 1)
		d.match(tok, netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:443"), false,
			&sockdiag.Conn{Token: tok, Inode: tok, UID: 0})
		if i == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if d.owners.dropped == 0 {
		t.Error("no lookup dropped with the queue full")
	}
	if len(d.owners.pending) > procQueue+1 {
		t.Errorf("%d lookups pending, more than the queue holds", len(d.owners.pending))
	}
}

// scanProc finds this test's own socket in /proc, and names it by comm.
func TestScanProc(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip(err)
	}
	ns, _ := os.Readlink("/proc/self/ns/net")
	got := scanProc(map[uint32]uint32{uint32(st.Ino): uint32(os.Getuid()), 1: 0}, ns)
	if want := strings.TrimSpace(string(comm)); got[uint32(st.Ino)] != want {
		t.Errorf("scanProc found %q for the test's socket, want %q", got[uint32(st.Ino)], want)
	}
	if _, ok := got[1]; ok {
		t.Error("scanProc found a process for a socket nobody holds")
	}
}
