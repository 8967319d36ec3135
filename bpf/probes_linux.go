//go:build linux

package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/cgroup"
	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 256

type probes struct {
	objs    probeObjects
	sockops link.Link
	iter    *link.Iter
	rd      *ringbuf.Reader
	events  chan Event
	done    chan struct{}
	wg      sync.WaitGroup
	// monoToWall is added to a CLOCK_MONOTONIC time in ns (bpf_ktime_get_ns)
	// to get Unix ns.
	monoToWall int64
	netnsFD    int
	cgroup     string // where the sockops program is attached, for messages

	readMu    sync.Mutex // guards the batch buffers
	batchKeys []probeKey
	batchVals []probeMetrics

	closeOnce sync.Once
	closeErr  error
}

func unavailable(step string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, step, err)
}

func load(cfg Config) (_ *probes, err error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Raising it
	// needs CAP_SYS_RESOURCE, and without CAP_BPF cilium/ebpf cannot tell
	// that the kernel charges the memcg instead, so the error is only
	// reported if loading fails too: it is rarely the real cause.
	memlockErr := rlimit.RemoveMemlock()
	ino, err := netnsInode(cfg.NetNS)
	if err != nil {
		return nil, unavailable("network namespace", err)
	}
	cg, where, release, err := cgroupDir(cfg.CgroupPath)
	if err != nil {
		return nil, err
	}
	defer release()

	spec, err := loadProbe()
	if err != nil {
		return nil, unavailable("parse embedded object", err)
	}
	if err := spec.Variables[probeVarNetnsIno].Set(ino); err != nil {
		return nil, unavailable("set netns_ino", err)
	}

	p := &probes{
		events:  make(chan Event, eventBuffer),
		done:    make(chan struct{}),
		netnsFD: cfg.NetNS,
		cgroup:  where,
	}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		step := "load programs"
		if errors.Is(err, os.ErrPermission) {
			step += " (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, or root)"
		}
		if memlockErr != nil {
			err = fmt.Errorf("%w (and raising RLIMIT_MEMLOCK failed: %w)", err, memlockErr)
		}
		return nil, unavailable(step, err)
	}
	defer func() {
		if err != nil {
			p.closeObjects()
		}
	}()

	p.sockops, err = link.AttachCgroup(link.CgroupOptions{
		Path:    cg,
		Attach:  ebpf.AttachCGroupSockOps,
		Program: p.objs.MptcpSockops,
	})
	if err != nil {
		return nil, unavailable("attach sockops to cgroup "+where, err)
	}
	if p.iter, err = link.AttachIter(link.IterOptions{Program: p.objs.SeedSubflows}); err != nil {
		return nil, unavailable("attach tcp iterator", err)
	}
	if p.rd, err = ringbuf.NewReader(p.objs.Events); err != nil {
		return nil, unavailable("open ring buffer", err)
	}
	p.monoToWall = monoToWall()

	p.wg.Add(1)
	go p.readEvents()

	if err := p.seed(cfg.NetNS); err != nil {
		p.close()
		return nil, unavailable("seed existing subflows", err)
	}
	return p, nil
}

// cgroupDir returns the cgroup2 directory to attach to: path, else the
// cgroup2 mount, else (none visible, as under `ip netns exec`) a private
// mount of the hierarchy, which release detaches once attached. where
// says which, for messages.
func cgroupDir(path string) (dir, where string, release func(), err error) {
	if path != "" {
		return path, path, func() {}, nil
	}
	dir, err = cgroup.Mount()
	if err == nil {
		return dir, dir, func() {}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", nil, unavailable("find cgroup2 mount", err)
	}
	dir, release, merr := cgroup.MountPrivate()
	if merr != nil {
		return "", "", nil, unavailable("no cgroup2 mount visible, and mounting one failed", merr)
	}
	return dir, "private cgroup2 mount (none visible)", release, nil
}

// netnsInode returns the inode number of the network namespace fd (0: the
// calling thread's), which is what the kernel has in net->ns.inum.
func netnsInode(fd int) (uint64, error) {
	var st unix.Stat_t
	if fd == 0 {
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return 0, err
		}
		return st.Ino, nil
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	// NS_GET_NSTYPE (linux/nsfs.h) tells a network namespace from any other file.
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return 0, fmt.Errorf("fd %d is not a namespace: %w", fd, err)
	}
	if t != unix.CLONE_NEWNET {
		return 0, fmt.Errorf("fd %d is a namespace of type %#x, not a network namespace: %w", fd, t, os.ErrInvalid)
	}
	return st.Ino, nil
}

// monoToWall measures the offset from CLOCK_MONOTONIC (the clock of
// bpf_ktime_get_ns) to the wall clock, keeping the tightest of a few reads.
func monoToWall() int64 {
	var off int64
	best := int64(math.MaxInt64)
	for range 8 {
		var a, b unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &a)
		wall := time.Now().UnixNano()
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &b)
		if d := b.Nano() - a.Nano(); d < best {
			best = d
			off = wall - (a.Nano()+b.Nano())/2
		}
	}
	return off
}

func (p *probes) readEvents() {
	defer p.wg.Done()
	defer close(p.events)
	var rec ringbuf.Record
	for {
		if err := p.rd.ReadInto(&rec); err != nil {
			// os.ErrClosed after Close; nothing else is expected.
			return
		}
		var raw probeEvent
		if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &raw); err != nil {
			continue
		}
		ev := Event{
			Kind:     EventKind(raw.Type),
			Key:      convKey(raw.Key),
			Metrics:  convMetrics(raw.Metrics, p.monoToWall),
			State:    raw.NewState,
			OldState: raw.OldState,
		}
		select {
		case p.events <- ev:
		case <-p.done:
			return
		}
	}
}

func (p *probes) seed(fd int) error {
	var data []byte
	err := netns.Do(fd, func() error {
		// The iterator walks the namespace of the thread that creates it.
		rc, err := p.iter.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = io.ReadAll(rc)
		return err
	})
	if err != nil {
		return fmt.Errorf("bpf: run tcp iterator: %w", err)
	}
	return parseSeed(data)
}

// parseSeed checks the records the iterator wrote, one per subflow.
func parseSeed(data []byte) error {
	var errs []error
	r := bytes.NewReader(data)
	for r.Len() > 0 {
		var rec probeSeed
		if err := binary.Read(r, binary.NativeEndian, &rec); err != nil {
			return fmt.Errorf("bpf: iterator output: %w", err)
		}
		if rec.SetsockoptErr != 0 {
			errs = append(errs, fmt.Errorf("subflow of token %08x: enable callbacks: %w", rec.Token, syscall.Errno(-rec.SetsockoptErr)))
		} else if rec.UpdateErr != 0 {
			errs = append(errs, fmt.Errorf("subflow of token %08x: create entry: %w", rec.Token, syscall.Errno(-rec.UpdateErr)))
		}
	}
	return errors.Join(errs...)
}

// emit calls fn for each entry of a batch, with m as the one Metrics.
func (p *probes) emit(keys []probeKey, vals []probeMetrics, m *Metrics, fn func(Key, *Metrics)) {
	for i := range keys {
		*m = convMetrics(vals[i], p.monoToWall)
		fn(convKey(keys[i]), m)
	}
}

func (p *probes) eachMetrics(fn func(Key, *Metrics)) error {
	p.readMu.Lock()
	defer p.readMu.Unlock()
	var cursor ebpf.MapBatchCursor
	if p.batchKeys == nil {
		p.batchKeys, p.batchVals = make([]probeKey, 1024), make([]probeMetrics, 1024)
	}
	// One Metrics for every subflow: handed to fn by pointer, it escapes,
	// and one per subflow was an allocation per subflow per reading.
	var m Metrics
	for {
		n, err := p.objs.Subflows.BatchLookup(&cursor, p.batchKeys, p.batchVals, nil)
		p.emit(p.batchKeys[:n], p.batchVals[:n], &m, fn)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			all, err := p.iterateMetrics()
			if err != nil {
				return err
			}
			for k, v := range all {
				m = v
				fn(k, &m)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bpf: read metrics: %w", err)
		}
	}
}

func (p *probes) metrics() (map[Key]Metrics, error) {
	out := make(map[Key]Metrics)
	var (
		cursor ebpf.MapBatchCursor
		keys   = make([]probeKey, 256)
		vals   = make([]probeMetrics, 256)
	)
	for {
		n, err := p.objs.Subflows.BatchLookup(&cursor, keys, vals, nil)
		for i := range n {
			out[convKey(keys[i])] = convMetrics(vals[i], p.monoToWall)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return p.iterateMetrics()
		}
		if err != nil {
			return nil, fmt.Errorf("bpf: read metrics: %w", err)
		}
	}
}

// iterateMetrics is the fallback for kernels without batch lookups.
func (p *probes) iterateMetrics() (map[Key]Metrics, error) {
	out := make(map[Key]Metrics)
	var (
		k  probeKey
		v  probeMetrics
		it = p.objs.Subflows.Iterate()
	)
	for it.Next(&k, &v) {
		out[convKey(k)] = convMetrics(v, p.monoToWall)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("bpf: read metrics: %w", err)
	}
	return out, nil
}

func (p *probes) eventsLost() (uint64, error) {
	var n uint64
	if err := p.objs.EventsLost.Get(&n); err != nil {
		return 0, fmt.Errorf("bpf: read events_lost: %w", err)
	}
	return n, nil
}

func (p *probes) close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if p.sockops != nil {
			errs = append(errs, p.sockops.Close())
		}
		if p.iter != nil {
			errs = append(errs, p.iter.Close())
		}
		close(p.done)
		if p.rd != nil {
			errs = append(errs, p.rd.Close())
		}
		p.wg.Wait()
		errs = append(errs, p.closeObjects())
		if err := errors.Join(errs...); err != nil {
			p.closeErr = fmt.Errorf("bpf: close: %w", err)
		}
	})
	return p.closeErr
}

// closeObjects closes programs and maps (the generated Close stops at the
// first error).
func (p *probes) closeObjects() error {
	var errs []error
	for _, c := range []io.Closer{p.objs.MptcpSockops, p.objs.SeedSubflows, p.objs.Events, p.objs.Subflows} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

func convKey(k probeKey) Key {
	return Key{
		Token:  k.Token,
		Local:  netip.AddrPortFrom(netip.AddrFrom16(k.Laddr).Unmap(), k.Lport),
		Remote: netip.AddrPortFrom(netip.AddrFrom16(k.Raddr).Unmap(), k.Rport),
	}
}

func convMetrics(m probeMetrics, monoToWall int64) Metrics {
	out := Metrics{
		SRTT:          time.Duration(m.SrttUs) * time.Microsecond,
		RTTVar:        time.Duration(m.MdevUs) * time.Microsecond,
		LastRTT:       time.Duration(m.LastRttUs) * time.Microsecond,
		RTTSamples:    m.RttSamples,
		TotalRetrans:  m.TotalRetrans,
		Lost:          m.LostOut,
		RTOs:          m.RtoCount,
		RetransEvents: m.RetransCb,
		SegsOut:       m.DataSegsOut,
		BytesAcked:    m.BytesAcked,
		BytesReceived: m.BytesReceived,
		DataSegsIn:    m.DataSegsIn,
		OutOfOrder:    m.RcvOoopack,
		RcvRTT:        time.Duration(m.RcvRttUs) * time.Microsecond,
		Hole:          m.Hole != 0,
		Cwnd:          m.SndCwnd,
		State:         m.State,
		LocID:         m.LocalId,
		RemID:         m.RemoteId,
	}
	if m.LastUpdateNs != 0 {
		out.Updated = time.Unix(0, int64(m.LastUpdateNs)+monoToWall)
	}
	return out
}
