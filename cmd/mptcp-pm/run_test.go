package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/internal/mptcpize"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// runCmd calls runRun (not through run, so the test does not depend on
// the object table) and returns what it printed, the exit status it asked
// for and its error. Tests using it must not be parallel: runExit is
// global.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &out, stderr: &errb}
	old := runExit
	t.Cleanup(func() { runExit = old })
	runExit = func(c int) { code = c }
	err = runRun(e, args)
	return out.String(), errb.String(), code, err
}

func needPreload(t *testing.T) string {
	t.Helper()
	b, err := mptcpize.Inspect("/bin/sh")
	if err != nil {
		t.Skip(err)
	}
	lib, err := mptcpize.FindPreload(b)
	if err != nil {
		t.Skipf("%v", err)
	}
	return lib
}

func TestRunBadInput(t *testing.T) {
	for line, want := range map[string]string{
		"":                  "run: missing COMMAND",
		"--":                "run: missing COMMAND",
		"-q":                "run: missing COMMAND",
		"--method":          `run: missing value after "--method"`,
		"--method ebpf sh":  `run: unknown method "ebpf" (expected auto, bpf, godebug, preload)`,
		"--method=x sh":     `run: unknown method "x"`,
		"--bogus sh":        `run: unknown option "--bogus" (expected --method, --policy, --config, --quiet or --)`,
		"-- no-such-cmd-xy": `run: exec: "no-such-cmd-xy": executable file not found in $PATH`,
	} {
		_, _, code, err := runCmd(t, strings.Fields(line)...)
		if err == nil || !strings.Contains(err.Error(), want) || code != 0 {
			t.Errorf("run %s: %v (exit %d); want an error containing %q", line, err, code, want)
		}
	}
	out, _, _, err := runCmd(t, "--help")
	if err != nil || out != runUsage {
		t.Errorf("run --help: %q, %v", out, err)
	}
}

// TestRunPreload runs a shell with the wrapper: the line names the method
// and the library, the environment has it, and the exit status passes
// through.
func TestRunPreload(t *testing.T) {
	lib := needPreload(t)
	t.Setenv("LD_PRELOAD", "")
	out, errs, code, err := runCmd(t, "--method", "pre", "--", "sh", "-c", `echo "$LD_PRELOAD"; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "mptcp-pm: run: sh: MPTCP via LD_PRELOAD (" + lib + ")\n"; errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	if strings.TrimSpace(out) != lib || code != 3 {
		t.Errorf("stdout %q exit %d; want %q and 3", out, code, lib)
	}

	out, errs, code, err = runCmd(t, "-q", "-m", "preload", "sh", "-c", "kill -TERM $$")
	if err != nil || errs != "" || out != "" || code != 128+15 {
		t.Errorf("quiet, killed: stdout %q stderr %q exit %d err %v; want nothing and exit 143", out, errs, code, err)
	}
	if _, _, code, err = runCmd(t, "-q", "true"); err != nil || code != 0 {
		t.Errorf("run true: exit %d, %v", code, err)
	}
}

// buildGoProbe builds a Go program that reports GODEBUG and whether its
// dialers and listeners default to MPTCP.
func buildGoProbe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	return testutil.BuildGo(t, dir, filepath.Join(dir, "probe"), map[string]string{
		"go.mod": "module probe\n\ngo 1.24\n",
		"main.go": `package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	var d net.Dialer
	var lc net.ListenConfig
	fmt.Printf("GODEBUG=%s dial=%v listen=%v\n", os.Getenv("GODEBUG"), d.MultipathTCP(), lc.MultipathTCP())
}
`,
	})
}

// TestRunGoDebug checks what the Go runtime itself makes of the setting:
// without it a go1.24 module dials without MPTCP (listeners only), with it
// both default to MPTCP, even over an earlier multipathtcp=0.
func TestRunGoDebug(t *testing.T) {
	bin := buildGoProbe(t)
	t.Setenv("GODEBUG", "multipathtcp=0")
	plain, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "GODEBUG=multipathtcp=0 dial=false listen=false\n"; string(plain) != want {
		t.Errorf("without run: %q, want %q", plain, want)
	}
	for _, m := range []string{"godebug", "auto"} {
		out, errs, code, err := runCmd(t, "--method", m, bin)
		if err != nil || code != 0 {
			t.Fatalf("run --method %s: exit %d, %v (stderr %q)", m, code, err, errs)
		}
		if want := "GODEBUG=multipathtcp=0,multipathtcp=1 dial=true listen=true\n"; out != want {
			t.Errorf("run --method %s: %q, want %q", m, out, want)
		}
		if !strings.HasPrefix(errs, "mptcp-pm: run: probe: MPTCP via GODEBUG=multipathtcp=1 (Go go1.") {
			t.Errorf("run --method %s: stderr %q", m, errs)
		}
	}
	// A Go program is not a C program.
	if _, _, _, err := runCmd(t, "--method", "godebug", "/bin/sh", "-c", "true"); !errors.Is(err, mptcpize.ErrNotApplicable) {
		t.Errorf("godebug on sh: %v, want ErrNotApplicable", err)
	}
}

// TestRunStatic refuses a static non-Go executable (a minimal ELF that
// would not even run) and says why.
func TestRunStatic(t *testing.T) {
	var buf bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1, Ehsize: 64, Phentsize: 56}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "static")
	if err := os.WriteFile(bin, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]string{
		"preload": "run: static: preload: statically linked (no PT_INTERP), so LD_PRELOAD is never read",
		"auto":    "run: static: statically linked and not a Go program",
	} {
		_, errs, code, err := runCmd(t, "--method", m, bin)
		if !errors.Is(err, mptcpize.ErrNotApplicable) || !strings.HasPrefix(err.Error(), want) || errs != "" || code != 0 {
			t.Errorf("--method %s: %v (stderr %q, exit %d); want an error starting %q", m, err, errs, code, want)
		}
	}
}

// TestRunBPF: the BPF method either works or says why not, and then
// nothing runs.
func TestRunBPF(t *testing.T) {
	out, errs, code, err := runCmd(t, "--method", "bpf", "sh", "-c", "echo ran; exit 4")
	if err != nil {
		if !strings.Contains(err.Error(), "bpf: ") || out != "" {
			t.Errorf("bpf refused: %v, stdout %q", err, out)
		}
		t.Logf("BPF method unavailable here: %v", err)
		return
	}
	if out != "ran\n" || code != 4 || !strings.Contains(errs, "MPTCP via eBPF fmod_ret on update_socket_protocol") {
		t.Errorf("bpf: stdout %q stderr %q exit %d", out, errs, code)
	}
}
