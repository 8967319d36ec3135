package daemon

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The process of a connection is found off the loop. Reading every
// process's /proc/PID/fd is O(file descriptors on the host): a user holding
// 100k of them made it take 0.5-1.5 s, and the loop, which did it for every
// new connection, held every other event that long (a handover went from
// 24 to 136 ms). The loop matches the connection at once without its
// process and queues the socket; one worker scans /proc for every socket
// queued, in one pass, and hands the names back as a procResult; the loop
// then matches the connection again and changes its policy if the process
// changes the match.
const (
	// procQueue is how many sockets may wait for a scan; when it is full
	// a socket is not queued (logged) and its connection keeps the policy
	// it matched without its process.
	procQueue = 1024
	// procScanFDs and procScanTime bound one pass over /proc: at most
	// that many file descriptors read, for at most that long. A socket not
	// found by then is reported unknown ("").
	procScanFDs  = 500_000
	procScanTime = 2 * time.Second
)

// procReq asks for the process holding socket inode of connection token,
// owned by uid.
type procReq struct {
	token, inode, uid uint32
}

// procResult is the process found for a procReq: "" if none was found
// within the bounds of the scan.
type procResult struct {
	token, inode uint32
	process      string
}

// procFinder finds, off the loop, the processes holding sockets. Its
// methods other than run are the loop's; run is the worker's goroutine.
type procFinder struct {
	in  chan procReq
	out chan procResult
	// scan resolves socket inodes to process names (want: inode -> uid);
	// scanProc unless a test sets another.
	scan func(want map[uint32]uint32) map[uint32]string
}

// newProcFinder returns a finder for the sockets of namespace netns (its
// /proc/PID/ns/net link, "net:[INODE]"; "" if unknown).
func newProcFinder(netns string) *procFinder {
	f := &procFinder{in: make(chan procReq, procQueue), out: make(chan procResult, procQueue)}
	f.scan = func(want map[uint32]uint32) map[uint32]string { return scanProc(want, netns) }
	return f
}

// submit queues r without waiting; false if the queue is full.
func (f *procFinder) submit(r procReq) bool {
	select {
	case f.in <- r:
		return true
	default:
		return false
	}
}

// run scans for what is queued until ctx ends: it takes every request
// waiting, resolves them in one pass and sends one result for each.
func (f *procFinder) run(ctx context.Context) {
	for {
		var batch []procReq
		select {
		case <-ctx.Done():
			return
		case r := <-f.in:
			batch = append(batch, r)
		}
	more:
		for len(batch) < procQueue {
			select {
			case r := <-f.in:
				batch = append(batch, r)
			default:
				break more
			}
		}
		want := make(map[uint32]uint32, len(batch))
		for _, r := range batch {
			want[r.inode] = r.uid
		}
		found := f.scan(want)
		for _, r := range batch {
			select {
			case f.out <- procResult{token: r.token, inode: r.inode, process: found[r.inode]}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// scanProc finds the comm of the processes holding the socket inodes of
// want (inode -> owner uid) in one pass over /proc, bounded by procScanFDs
// and procScanTime. The likely holders are read first: the processes in
// the sockets' namespace netns, then those of the sockets' owners; a
// readlink and a stat per process are cheap next to reading descriptors.
func scanProc(want map[uint32]uint32, netns string) map[uint32]string {
	found := make(map[uint32]string, len(want))
	uids := map[uint32]bool{}
	for _, uid := range want {
		uids[uid] = true
	}
	procs, _ := os.ReadDir("/proc")
	type proc struct {
		pid  string
		rank int // 0 first: in netns and the owner's, 1 in netns, 2 the owner's, 3 other
	}
	list := make([]proc, 0, len(procs))
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		rank := 3
		if fi, err := p.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && uids[st.Uid] {
				rank = 2
			}
		}
		if netns != "" {
			if l, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns", "net")); err == nil && l == netns {
				rank -= 2
			}
		}
		list = append(list, proc{p.Name(), rank})
	}
	// Each rank in /proc's order.
	slices.SortStableFunc(list, func(a, b proc) int { return a.rank - b.rank })
	deadline := time.Now().Add(procScanTime)
	budget := procScanFDs
	for _, p := range list {
		if len(found) == len(want) || budget <= 0 || time.Now().After(deadline) {
			break
		}
		dir := filepath.Join("/proc", p.pid, "fd")
		fds, _ := os.ReadDir(dir)
		comm := ""
		for _, fd := range fds {
			if budget--; budget < 0 || (budget%1024 == 0 && time.Now().After(deadline)) {
				break
			}
			l, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]"), 10, 32)
			if err != nil {
				continue
			}
			if _, ok := want[uint32(n)]; !ok {
				continue
			}
			if comm == "" {
				b, _ := os.ReadFile(filepath.Join("/proc", p.pid, "comm"))
				comm = strings.TrimSpace(string(b))
			}
			found[uint32(n)] = comm
		}
	}
	return found
}
