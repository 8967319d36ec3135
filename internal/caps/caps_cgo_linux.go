//go:build linux && cgo

package caps

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

static struct __user_cap_header_struct mptcppm_hdr;
static struct __user_cap_data_struct mptcppm_data[2];
static unsigned long long mptcppm_drop_bounding;
static int mptcppm_errno;
static struct sigaction mptcppm_old;

// mptcppm_apply runs on one thread, in a signal handler: only raw
// system calls. A failing bounding-set drop on a thread that has already
// dropped CAP_SETPCAP is expected; the caller checks the result in
// /proc/self/task anyway.
static void mptcppm_apply(void) {
	int i;
	syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (i = 0; i < 64; i++) {
		if (mptcppm_drop_bounding & (1ULL << i)) {
			syscall(SYS_prctl, PR_CAPBSET_DROP, i, 0, 0, 0);
		}
	}
	if (syscall(SYS_capset, &mptcppm_hdr, mptcppm_data) != 0) {
		__atomic_store_n(&mptcppm_errno, errno, __ATOMIC_SEQ_CST);
	}
}

static void mptcppm_handler(int sig, siginfo_t *si, void *uc) {
	int saved = errno;
	(void)sig; (void)si; (void)uc;
	mptcppm_apply();
	errno = saved;
}

static int mptcppm_prepare(int sig, unsigned long long drop_bounding, unsigned int eff0, unsigned int eff1) {
	struct sigaction sa;
	memset(&mptcppm_hdr, 0, sizeof mptcppm_hdr);
	memset(mptcppm_data, 0, sizeof mptcppm_data);
	mptcppm_hdr.version = _LINUX_CAPABILITY_VERSION_3;
	mptcppm_data[0].effective = mptcppm_data[0].permitted = eff0;
	mptcppm_data[1].effective = mptcppm_data[1].permitted = eff1;
	mptcppm_drop_bounding = drop_bounding;
	__atomic_store_n(&mptcppm_errno, 0, __ATOMIC_SEQ_CST);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = mptcppm_handler;
	// SA_ONSTACK: the handler may interrupt a goroutine, whose stack is
	// small; Go gives every thread a signal stack.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &mptcppm_old) != 0) {
		return errno;
	}
	return 0;
}

// mptcppm_restore puts the previous handler back. A default action
// (terminate) is replaced by SIG_IGN, so that a late signal sent by a
// retry cannot kill the process: the Go runtime's handler is what is
// normally there, but under the race detector sigaction reports SIG_DFL
// for the handlers the runtime installed with raw system calls.
static int mptcppm_restore(int sig) {
	if (!(mptcppm_old.sa_flags & SA_SIGINFO) && mptcppm_old.sa_handler == SIG_DFL) {
		mptcppm_old.sa_handler = SIG_IGN;
	}
	if (sigaction(sig, &mptcppm_old, NULL) != 0) {
		return errno;
	}
	return 0;
}

static int mptcppm_result(void) { return __atomic_load_n(&mptcppm_errno, __ATOMIC_SEQ_CST); }

// mptcppm_signal is signal 34: musl's SIGSYNCCALL (its own all-threads
// broadcast), glibc's SIGRTMIN (the first one it leaves to programs).
// The Go runtime keeps it unblocked on every thread (issue 39343), even on
// a main thread parked for good because a goroutine locked to it ended
// (setns on a locked thread), which blocks all others.
static int mptcppm_signal(void) { return 34; }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// With cgo linked in, syscall.AllThreadsSyscall refuses (ENOTSUP: C code
// may have started threads the runtime does not know). Each thread is
// sent a signal instead, whose handler applies the sets on that thread,
// as libcap's psx does; checkAllThreads then reads every thread's sets
// and signals again those that missed it (a thread started by one that
// had not dropped yet). The signal is 34, which nothing in the daemon
// uses on glibc; its previous handler is restored afterwards.
var capSignal = struct {
	sync.Mutex
	sig int
}{}

func applyAllThreads(dropBounding, want uint64) error {
	capSignal.Lock()
	defer capSignal.Unlock()
	sig := int(C.mptcppm_signal())
	if e := C.mptcppm_prepare(C.int(sig), C.ulonglong(dropBounding), C.uint(uint32(want)), C.uint(uint32(want>>32))); e != 0 {
		return fmt.Errorf("install the handler of signal %d: %w", sig, syscall.Errno(e))
	}
	capSignal.sig = sig
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.Tgkill(os.Getpid(), tid, syscall.Signal(sig))
		}
	}
	if e := C.mptcppm_result(); e != 0 {
		return fmt.Errorf("capset: %w", syscall.Errno(e))
	}
	return nil
}

// retry signals thread tid again; the handler stays installed until
// restoreSignal.
func retry(tid int, dropBounding, want uint64) {
	_ = unix.Tgkill(os.Getpid(), tid, syscall.Signal(capSignal.sig))
}

// restoreSignal puts the signal's previous handler back.
func restoreSignal() error {
	if e := C.mptcppm_restore(C.int(capSignal.sig)); e != 0 {
		return fmt.Errorf("restore the handler of signal %d: %w", capSignal.sig, syscall.Errno(e))
	}
	return nil
}
