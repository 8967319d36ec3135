package mptcpize

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Method is a way of making a program's sockets MPTCP.
type Method int

// The methods, in the order Auto tries them.
const (
	Auto    Method = iota // BPF, then GoDebug for Go programs, then Preload
	BPF                   // fmod_ret on update_socket_protocol for a cgroup
	GoDebug               // GODEBUG=multipathtcp=1
	Preload               // LD_PRELOAD=libmptcpwrap
)

// Methods are the names ParseMethod accepts, in the order of the constants.
var Methods = []string{"auto", "bpf", "godebug", "preload"}

func (m Method) String() string {
	if m >= 0 && int(m) < len(Methods) {
		return Methods[m]
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod returns the method named s, one of Methods.
func ParseMethod(s string) (Method, error) {
	for i, n := range Methods {
		if s == n {
			return Method(i), nil
		}
	}
	return 0, fmt.Errorf("unknown method %q (expected %s)", s, strings.Join(Methods, ", "))
}

// MinGo is the first Go release whose net package reads GODEBUG=multipathtcp.
const MinGo = "go1.21"

// ErrNotApplicable is wrapped by Choose's errors when the requested method
// cannot work for the executable (a static program and LD_PRELOAD, a
// non-Go program and GODEBUG, …).
var ErrNotApplicable = errors.New("method does not apply")

// Binary is what Inspect found out about an executable. It is a plain value.
type Binary struct {
	Path      string      // the ELF file inspected: the executable, or a script's interpreter
	Script    string      // the script whose "#!" line named Path, "" for none
	GoVersion string      // the Go release that built it ("go1.26.8"), "" if not a Go program
	Interp    string      // PT_INTERP (the dynamic loader), "" for a static executable
	Machine   elf.Machine // the ELF machine, to match the preload library
	Class     elf.Class
}

// IsGo reports whether the executable was built by the Go toolchain.
func (b Binary) IsGo() bool { return b.GoVersion != "" }

// Dynamic reports whether the executable is dynamically linked: it names
// a loader (PT_INTERP), so the loader honours LD_PRELOAD. A static-pie
// executable has no PT_INTERP and is not dynamic in this sense.
func (b Binary) Dynamic() bool { return b.Interp != "" }

// GoSupportsGODEBUG reports whether Go release v (as buildinfo reports it,
// "go1.22.3" or "devel go1.23-abcdef …") reads GODEBUG=multipathtcp. An
// unparsable devel version is taken to be recent.
func GoSupportsGODEBUG(v string) bool {
	if rest, ok := strings.CutPrefix(v, "devel "); ok {
		f := strings.Fields(rest)
		if len(f) == 0 {
			return true
		}
		v, _, _ = strings.Cut(f[0], "-")
		if !version.IsValid(v) {
			return true
		}
	}
	return version.IsValid(v) && version.Compare(v, MinGo) >= 0
}

// maxScriptDepth bounds chains of "#!" interpreters, as the kernel does
// (BINPRM_MAX_RECURSION is 4).
const maxScriptDepth = 4

// Inspect reads the executable at path. A script ("#!") is followed to its
// interpreter, whose environment the script's programs inherit.
func Inspect(path string) (Binary, error) {
	script := ""
	for range maxScriptDepth + 1 {
		interp, err := shebang(path)
		if err != nil {
			return Binary{}, err
		}
		if interp == "" {
			b, err := inspectELF(path)
			if err != nil {
				return Binary{}, err
			}
			b.Script = script
			return b, nil
		}
		if script == "" {
			script = path
		}
		path = interp
	}
	return Binary{}, fmt.Errorf("%s: too many levels of #! interpreters", script)
}

// shebang returns the interpreter named by a "#!" first line of path, or
// "" when path does not start with "#!".
func shebang(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 256).ReadSlice('\n')
	if !bytes.HasPrefix(line, []byte("#!")) {
		return "", nil
	}
	if err != nil && len(line) == 0 {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 {
		return "", fmt.Errorf("%s: empty #! line", path)
	}
	return fields[0], nil
}

func inspectELF(path string) (Binary, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return Binary{}, fmt.Errorf("%s: not an ELF executable or #! script: %w", path, err)
		}
		return Binary{}, err
	}
	defer f.Close()
	b := Binary{Path: path, Machine: f.Machine, Class: f.Class}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		buf := make([]byte, p.Filesz)
		if _, err := p.ReadAt(buf, 0); err != nil {
			return Binary{}, fmt.Errorf("%s: read PT_INTERP: %w", path, err)
		}
		b.Interp = string(bytes.TrimRight(buf, "\x00"))
		if b.Interp == "" {
			b.Interp = "?" // present but empty: the kernel still loads a loader
		}
	}
	if bi, err := buildinfo.ReadFile(path); err == nil {
		b.GoVersion = bi.GoVersion
	}
	return b, nil
}

// Decide picks the method for an executable from what Inspect found: m is
// the requested method (Auto or one of GoDebug, Preload; BPF is the
// caller's to try, since it depends on the kernel, not the executable).
// goOK says the Go release reads GODEBUG=multipathtcp.
func Decide(m Method, isGo, goOK, dynamic bool) (Method, error) {
	switch m {
	case GoDebug:
		if !isGo {
			return 0, fmt.Errorf("godebug: not a Go program: %w", ErrNotApplicable)
		}
		if !goOK {
			return 0, fmt.Errorf("godebug: built with Go before 1.21, which ignores GODEBUG=multipathtcp: %w", ErrNotApplicable)
		}
		return GoDebug, nil
	case Preload:
		if !dynamic {
			return 0, fmt.Errorf("preload: statically linked (no PT_INTERP), so LD_PRELOAD is never read: %w", ErrNotApplicable)
		}
		return Preload, nil
	case Auto:
		switch {
		case isGo && goOK:
			return GoDebug, nil
		case isGo:
			// Go's net package makes system calls itself: a preloaded
			// socket() wrapper never sees them.
			return 0, fmt.Errorf("built with Go before 1.21, which ignores GODEBUG=multipathtcp, and Go's sockets bypass LD_PRELOAD: %w", ErrNotApplicable)
		case dynamic:
			return Preload, nil
		default:
			return 0, fmt.Errorf("statically linked and not a Go program: neither GODEBUG nor LD_PRELOAD can reach its sockets: %w", ErrNotApplicable)
		}
	}
	return 0, fmt.Errorf("method %s is not decided from the executable", m)
}

// Plan is how to run one executable with MPTCP. It is a plain value.
type Plan struct {
	Method Method
	// Set are the variables to set; GODEBUG and LD_PRELOAD are merged
	// with the values already in the environment (see Environ).
	Set map[string]string
	// Detail says what was done, for the user: "GODEBUG=multipathtcp=1
	// (Go go1.26.8)".
	Detail string
}

// Choose decides the method for b (see Decide) and returns its plan.
// preload finds the LD_PRELOAD library for b's machine; it is only called
// when that method is chosen (FindPreload in production).
func Choose(m Method, b Binary, preload func(Binary) (string, error)) (Plan, error) {
	goOK := b.IsGo() && GoSupportsGODEBUG(b.GoVersion)
	method, err := Decide(m, b.IsGo(), goOK, b.Dynamic())
	if err != nil {
		return Plan{}, err
	}
	switch method {
	case GoDebug:
		return Plan{
			Method: GoDebug,
			Set:    map[string]string{"GODEBUG": "multipathtcp=1"},
			Detail: fmt.Sprintf("GODEBUG=multipathtcp=1 (Go %s)", b.GoVersion),
		}, nil
	default: // Preload
		lib, err := preload(b)
		if err != nil {
			return Plan{}, fmt.Errorf("preload: %w", err)
		}
		return Plan{
			Method: Preload,
			Set:    map[string]string{"LD_PRELOAD": lib},
			Detail: fmt.Sprintf("LD_PRELOAD (%s)", lib),
		}, nil
	}
}

// Environ returns environ (KEY=VALUE entries) with the plan's variables
// set. GODEBUG is appended after a comma to an existing value: Go reads
// the settings from the right, so ours wins over an earlier
// multipathtcp=0. LD_PRELOAD is put in front of an existing list, so the
// wrapper sees socket() first. The result has no duplicate keys.
func (p Plan) Environ(environ []string) []string {
	out := make([]string, 0, len(environ)+len(p.Set))
	old := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := p.Set[k]; ok {
			old[k] = v
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(p.Set))
	for k := range p.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.Set[k]
		if o := old[k]; o != "" {
			switch k {
			case "GODEBUG":
				v = o + "," + v
			case "LD_PRELOAD":
				v = v + " " + o
			}
		}
		out = append(out, k+"="+v)
	}
	return out
}

// PreloadGlobs are where libmptcpwrap is looked for: Debian's multiarch
// directory (package libmptcpwrap0, pulled in by mptcpize), other
// distributions' lib64, and an upstream `make install` under /usr/local.
var PreloadGlobs = []string{
	"/usr/lib/*/mptcpize/libmptcpwrap.so*",
	"/usr/lib64/mptcpize/libmptcpwrap.so*",
	"/usr/lib/mptcpize/libmptcpwrap.so*",
	"/usr/local/lib/mptcpize/libmptcpwrap.so*",
	"/usr/local/lib/*/mptcpize/libmptcpwrap.so*",
}

// FindPreload returns the libmptcpwrap for b's machine and class (an
// x86-64 library is useless to an i386 program), with symlinks resolved.
// Its error wraps os.ErrNotExist when there is none.
func FindPreload(b Binary) (string, error) {
	var seen []string
	for _, g := range PreloadGlobs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			real, err := filepath.EvalSymlinks(m)
			if err != nil {
				continue
			}
			f, err := elf.Open(real)
			if err != nil {
				continue
			}
			ok := f.Machine == b.Machine && f.Class == b.Class
			f.Close()
			if ok {
				return real, nil
			}
			seen = append(seen, real)
		}
	}
	if len(seen) > 0 {
		return "", fmt.Errorf("no libmptcpwrap for %s/%s (found %s): %w", b.Machine, b.Class, strings.Join(seen, ", "), os.ErrNotExist)
	}
	return "", fmt.Errorf("libmptcpwrap not found (apt-get install libmptcpwrap0, or mptcpize): %w", os.ErrNotExist)
}
