//go:build linux

package caps

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Drop reduces the capabilities of every thread of the process to keep:
// permitted = effective = keep (those of keep the process has),
// inheritable and ambient empty, the bounding set keep, and no_new_privs
// set, so that no exec can get any other back. With as, it first switches
// every thread to that user and its groups, keeping the permitted set
// (it needs CAP_SETUID and CAP_SETGID, dropped with the rest). A process
// without capabilities only gets no_new_privs, with no error (as must be
// nil).
//
// Capabilities and credentials are per thread in Linux and a Go program
// has many threads: every change goes through libcap's cap package,
// whose psx package applies it to all of them (syscall.AllThreadsSyscall
// without cgo; with cgo, a signal to each thread found in
// /proc/self/task until two passes find none left). The result is then
// checked in /proc/self/task/*/status.
func Drop(keep []Capability, as *Identity) (Dropped, error) {
	cur := cap.GetProc()
	last, err := lastCap()
	if err != nil {
		return Dropped{}, err
	}
	var had, want []cap.Value
	for c := 0; c <= last; c++ {
		if on, _ := cur.GetFlag(cap.Permitted, cap.Value(c)); on {
			had = append(had, cap.Value(c))
		}
	}
	res := Dropped{Capable: len(had) > 0}
	for _, c := range keep {
		if on, _ := cur.GetFlag(cap.Permitted, cap.Value(c)); on {
			want = append(want, cap.Value(c))
			res.Kept = append(res.Kept, c)
		}
	}
	if !res.Capable {
		if as != nil {
			return res, fmt.Errorf("drop capabilities: cannot switch to user %s: the process has no capabilities (start it as root)", as.Name)
		}
		// Nothing to drop; no_new_privs needs no privilege.
		if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
			return res, fmt.Errorf("drop capabilities: set no_new_privs: %w", err)
		}
		return res, checkAllThreads(0, false, nil)
	}
	if as != nil {
		if err := switchUser(cur, *as); err != nil {
			return res, fmt.Errorf("drop capabilities: %w", err)
		}
	}
	res.Bounding, _ = cur.GetFlag(cap.Permitted, cap.SETPCAP)
	if err := apply(want, res.Bounding, last); err != nil {
		return res, fmt.Errorf("drop capabilities: %w", err)
	}
	if err := checkAllThreads(mask(want), res.Bounding, as); err != nil {
		return res, fmt.Errorf("drop capabilities: %w", err)
	}
	return res, nil
}

// switchUser sets the groups, then the user, of every thread to id's;
// cap.SetGroups and cap.SetUID keep the permitted set (PR_SET_KEEPCAPS
// around setuid) and leave the effective set empty.
func switchUser(cur *cap.Set, id Identity) error {
	for _, c := range []cap.Value{cap.SETUID, cap.SETGID} {
		if on, _ := cur.GetFlag(cap.Permitted, c); !on {
			return fmt.Errorf("switch to user %s: the process lacks %s", id.Name, c)
		}
	}
	if err := cap.SetGroups(id.GID, id.Groups...); err != nil {
		return fmt.Errorf("switch to user %s: set gid %d and groups %v: %w", id.Name, id.GID, id.Groups, err)
	}
	if err := cap.SetUID(id.UID); err != nil {
		return fmt.Errorf("switch to user %s: set uid %d: %w", id.Name, id.UID, err)
	}
	return nil
}

// apply sets no_new_privs, clears the ambient set, drops from the bounding
// set everything but want (if bounding: it needs CAP_SETPCAP, raised in
// the effective set for it), and last sets permitted = effective = want.
func apply(want []cap.Value, bounding bool, last int) error {
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := cap.ResetAmbient(); err != nil {
		return fmt.Errorf("clear the ambient set: %w", err)
	}
	if bounding {
		w := cap.GetProc()
		if err := w.SetFlag(cap.Effective, true, cap.SETPCAP); err != nil {
			return err
		}
		if err := w.SetProc(); err != nil {
			return fmt.Errorf("raise cap_setpcap: %w", err)
		}
		wanted := mask(want)
		for c := 0; c <= last; c++ {
			if wanted&(1<<uint(c)) != 0 {
				continue
			}
			if on, err := cap.GetBound(cap.Value(c)); err != nil || !on {
				continue
			}
			if err := cap.DropBound(cap.Value(c)); err != nil {
				return fmt.Errorf("drop %s from the bounding set: %w", Capability(c), err)
			}
		}
	}
	set := cap.NewSet()
	if len(want) > 0 {
		if err := set.SetFlag(cap.Permitted, true, want...); err != nil {
			return err
		}
		if err := set.SetFlag(cap.Effective, true, want...); err != nil {
			return err
		}
	}
	if err := set.SetProc(); err != nil {
		return fmt.Errorf("capset %s: %w", set, err)
	}
	return nil
}

func mask(vs []cap.Value) uint64 {
	var m uint64
	for _, v := range vs {
		m |= 1 << uint(v)
	}
	return m
}

// threadState is a thread's capability sets, its no_new_privs flag and
// its user and group ids, from /proc/.../status.
type threadState struct {
	inh, prm, eff, bnd, amb, nnp uint64
	uids, gids                   []int // real, effective, saved, file system
}

func (s threadState) is(want uint64, bounding bool, as *Identity) bool {
	ok := s.inh == 0 && s.amb == 0 && s.prm == want && s.eff == want && s.nnp == 1 && (!bounding || s.bnd == want)
	if as != nil {
		for i := range 4 {
			ok = ok && s.uids[i] == as.UID && s.gids[i] == as.GID
		}
	}
	return ok
}

func (s threadState) String() string {
	return fmt.Sprintf("CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x NoNewPrivs %d Uid %v Gid %v",
		s.inh, s.prm, s.eff, s.bnd, s.amb, s.nnp, s.uids, s.gids)
}

// checkAllThreads reads every thread's sets and ids, and says which
// differ from what was asked for.
func checkAllThreads(want uint64, bounding bool, as *Identity) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var bad []string
	for _, t := range tasks {
		s, err := readThreadState(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		if !s.is(want, bounding, as) {
			bad = append(bad, "thread "+t.Name()+": "+s.String())
		}
	}
	if bad != nil {
		return fmt.Errorf("threads still have other capabilities than %016x or other ids: %s", want, strings.Join(bad, "; "))
	}
	return nil
}

// readThreadState reads the Cap*, NoNewPrivs, Uid and Gid lines of a
// status file.
func readThreadState(path string) (threadState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return threadState{}, err
	}
	var s threadState
	fields := map[string]*uint64{"CapInh": &s.inh, "CapPrm": &s.prm, "CapEff": &s.eff, "CapBnd": &s.bnd, "CapAmb": &s.amb, "NoNewPrivs": &s.nnp}
	ids := map[string]*[]int{"Uid": &s.uids, "Gid": &s.gids}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if p := fields[k]; p != nil {
			if *p, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				return threadState{}, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			n++
		}
		if p := ids[k]; p != nil {
			for _, f := range strings.Fields(v) {
				id, err := strconv.Atoi(f)
				if err != nil {
					return threadState{}, fmt.Errorf("%s: %s: %w", path, k, err)
				}
				*p = append(*p, id)
			}
			if len(*p) != 4 {
				return threadState{}, fmt.Errorf("%s: %s: %d ids, want 4", path, k, len(*p))
			}
			n++
		}
	}
	if n != len(fields)+len(ids) {
		return threadState{}, fmt.Errorf("%s: %d of the 5 Cap* lines, NoNewPrivs, Uid and Gid", path, n)
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
