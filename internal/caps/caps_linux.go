//go:build linux

package caps

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Drop reduces the capabilities of every thread of the process
// to keep: permitted = effective = keep (those of keep the process has),
// inheritable and ambient empty, and the bounding set keep, so that no
// exec can get any other back. Capabilities are per thread and a Go
// program has many, so the change is applied to all of them (with
// syscall.AllThreadsSyscall, or with a signal to each thread when cgo is
// linked in) and then checked in /proc/self/task/*/status. A process
// without capabilities is left as it is, with no error.
func Drop(keep []Capability) (Dropped, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return Dropped{}, fmt.Errorf("drop capabilities: capget: %w", err)
	}
	permitted := uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	effective := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	var want uint64
	for _, c := range keep {
		want |= 1 << uint(c)
	}
	want &= permitted
	last, err := lastCap()
	if err != nil {
		return Dropped{}, err
	}
	var bounding uint64
	for c := 0; c <= last; c++ {
		if on, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && on == 1 {
			bounding |= 1 << uint(c)
		}
	}
	res := Dropped{Bounding: effective&(1<<unix.CAP_SETPCAP) != 0}
	for c := 0; c <= last; c++ {
		if want&(1<<uint(c)) != 0 {
			res.Kept = append(res.Kept, Capability(c))
		}
	}
	dropBounding := uint64(0)
	wantBounding := bounding
	if res.Bounding {
		dropBounding = bounding &^ want
		wantBounding = bounding & want
	}
	err = applyAllThreads(dropBounding, want)
	if err == nil {
		err = checkAllThreads(want, wantBounding, dropBounding)
	}
	if rerr := restoreSignal(); err == nil {
		err = rerr
	}
	if err != nil {
		return res, fmt.Errorf("drop capabilities: %w", err)
	}
	return res, nil
}

// capSets are a thread's capability sets, from /proc/.../status, and its
// no_new_privs flag: set with the drop, so that nothing the daemon might
// run gains privileges through a file's capabilities or set-user-ID bit.
type capSets struct{ inh, prm, eff, bnd, amb, nnp uint64 }

func (s capSets) is(want, bounding uint64) bool {
	return s.inh == 0 && s.amb == 0 && s.prm == want && s.eff == want && s.bnd == bounding && s.nnp == 1
}

// checkAllThreads waits up to a second for every thread to have the sets
// asked for. A thread that does not yet is asked again (retry): it may
// have been started by one that had not dropped them yet. Two clean
// passes 5 ms apart are needed: a thread whose clone(2) was under way
// during a pass is listed only in the next (with cgo, thread creation
// cannot be stopped while the threads drop).
func checkAllThreads(want, bounding, dropBounding uint64) error {
	var bad []string
	clean := 0
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		bad = bad[:0]
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			s, err := readCapSets(filepath.Join("/proc/self/task", t.Name(), "status"))
			if err != nil {
				continue // the thread ended
			}
			if !s.is(want, bounding) {
				bad = append(bad, fmt.Sprintf("thread %d: CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x NoNewPrivs %d", tid, s.inh, s.prm, s.eff, s.bnd, s.amb, s.nnp))
				retry(tid, dropBounding, want)
			}
		}
		if len(bad) == 0 {
			if clean++; clean == 2 {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		clean = 0
		if time.Now().After(deadline) {
			return fmt.Errorf("threads still have other capabilities than %016x (bounding %016x) after 1s: %s", want, bounding, strings.Join(bad, "; "))
		}
	}
}

// readCapSets reads the Cap* lines of a status file.
func readCapSets(path string) (capSets, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return capSets{}, err
	}
	var s capSets
	fields := map[string]*uint64{"CapInh": &s.inh, "CapPrm": &s.prm, "CapEff": &s.eff, "CapBnd": &s.bnd, "CapAmb": &s.amb, "NoNewPrivs": &s.nnp}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if p := fields[k]; ok && p != nil {
			if *p, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				return capSets{}, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			n++
		}
	}
	if n != len(fields) {
		return capSets{}, fmt.Errorf("%s: %d of the 5 Cap* lines and NoNewPrivs", path, n)
	}
	return s, nil
}

func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("drop capabilities: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 0, fmt.Errorf("drop capabilities: /proc/sys/kernel/cap_last_cap is %q", strings.TrimSpace(string(b)))
	}
	return n, nil
}
