package mptcpize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name                string
		m                   Method
		isGo, goOK, dynamic bool
		want                Method
		wantErr             bool
	}{
		{"auto go static", Auto, true, true, false, GoDebug, false},
		{"auto go dynamic (cgo)", Auto, true, true, true, GoDebug, false},
		{"auto old go static", Auto, true, false, false, 0, true},
		{"auto old go dynamic", Auto, true, false, true, 0, true},
		{"auto c dynamic", Auto, false, false, true, Preload, false},
		{"auto c static", Auto, false, false, false, 0, true},
		{"godebug go", GoDebug, true, true, false, GoDebug, false},
		{"godebug old go", GoDebug, true, false, true, 0, true},
		{"godebug c", GoDebug, false, false, true, 0, true},
		{"preload c dynamic", Preload, false, false, true, Preload, false},
		{"preload go dynamic (asked for)", Preload, true, true, true, Preload, false},
		{"preload static", Preload, false, false, false, 0, true},
		{"preload go static", Preload, true, true, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(tt.m, tt.isGo, tt.goOK, tt.dynamic)
			if tt.wantErr {
				if !errors.Is(err, ErrNotApplicable) {
					t.Fatalf("Decide = %v, %v; want ErrNotApplicable", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Decide = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := Decide(BPF, true, true, true); err == nil || errors.Is(err, ErrNotApplicable) {
		t.Errorf("Decide(BPF) = %v; want a plain error (BPF is the caller's)", err)
	}
}

func TestGoSupportsGODEBUG(t *testing.T) {
	for v, want := range map[string]bool{
		"go1.20.14":                          false,
		"go1.21":                             true,
		"go1.21.0":                           true,
		"go1.21rc2":                          true, // the release candidates had it
		"go1.24.1":                           true,
		"go1.26.8":                           true,
		"go1.9":                              false,
		"devel go1.23-abcdef Tue Jan 1 2024": true,
		"devel go1.20-abcdef":                false,
		"devel +abcdef":                      true,
		"":                                   false,
	} {
		if got := GoSupportsGODEBUG(v); got != want {
			t.Errorf("GoSupportsGODEBUG(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestParseMethod(t *testing.T) {
	for i, n := range Methods {
		m, err := ParseMethod(n)
		if err != nil || m != Method(i) || m.String() != n {
			t.Errorf("ParseMethod(%q) = %v, %v", n, m, err)
		}
	}
	if _, err := ParseMethod("ebpf"); err == nil {
		t.Error("ParseMethod(ebpf) succeeded")
	}
}

func TestEnviron(t *testing.T) {
	god := Plan{Method: GoDebug, Set: map[string]string{"GODEBUG": "multipathtcp=1"}}
	pre := Plan{Method: Preload, Set: map[string]string{"LD_PRELOAD": "/lib/w.so"}}
	tests := []struct {
		name string
		p    Plan
		in   []string
		want []string
	}{
		{"godebug new", god, []string{"A=1"}, []string{"A=1", "GODEBUG=multipathtcp=1"}},
		{"godebug append", god, []string{"GODEBUG=http2debug=1,multipathtcp=0", "B=2"},
			[]string{"B=2", "GODEBUG=http2debug=1,multipathtcp=0,multipathtcp=1"}},
		{"godebug empty", god, []string{"GODEBUG="}, []string{"GODEBUG=multipathtcp=1"}},
		{"godebug duplicates", god, []string{"GODEBUG=a=1", "GODEBUG=b=1"}, []string{"GODEBUG=b=1,multipathtcp=1"}},
		{"preload new", pre, nil, []string{"LD_PRELOAD=/lib/w.so"}},
		{"preload prepend", pre, []string{"LD_PRELOAD=/lib/x.so"}, []string{"LD_PRELOAD=/lib/w.so /lib/x.so"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.p.Environ(tt.in)); diff != "" {
				t.Errorf("Environ (-want +got):\n%s", diff)
			}
		})
	}
}

// staticELF writes a minimal ELF executable with no program headers: not
// dynamic, not Go (it would not run, and need not).
func staticELF(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "static-c")
	if err := os.WriteFile(p, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// goBinary builds a tiny Go program with CGO_ENABLED=0 (a static Go
// executable).
func goBinary(t *testing.T, dir string) string {
	t.Helper()
	return testutil.BuildGo(t, filepath.Join(dir, "src"), filepath.Join(dir, "hello"), map[string]string{
		"go.mod":  "module hello\n\ngo 1.24\n",
		"main.go": "package main\n\nfunc main() { println(\"hello\") }\n",
	})
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	goBin := goBinary(t, dir)
	static := staticELF(t, dir)
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte("#! /bin/true -x\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	goScript := filepath.Join(dir, "go.sh")
	if err := os.WriteFile(goScript, []byte("#!"+goBin+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.sh")
	if err := os.WriteFile(loop, []byte("#!"+loop+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		path       string
		wantPath   string
		wantScript string
		isGo       bool
		dynamic    bool
		auto       Method
		autoErr    bool
	}{
		{goBin, goBin, "", true, false, GoDebug, false},
		{"/bin/true", "/bin/true", "", false, true, Preload, false},
		{static, static, "", false, false, 0, true},
		{script, "/bin/true", script, false, true, Preload, false},
		{goScript, goBin, goScript, true, false, GoDebug, false},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skip(err)
			}
			b, err := Inspect(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if b.Path != tt.wantPath || b.Script != tt.wantScript || b.IsGo() != tt.isGo || b.Dynamic() != tt.dynamic {
				t.Fatalf("Inspect = %+v; want path %s script %q go %v dynamic %v", b, tt.wantPath, tt.wantScript, tt.isGo, tt.dynamic)
			}
			if tt.isGo && b.GoVersion != runtime.Version() {
				t.Errorf("GoVersion = %q, want %q", b.GoVersion, runtime.Version())
			}
			p, err := Choose(Auto, b, func(Binary) (string, error) { return "/x/libmptcpwrap.so.0.0.1", nil })
			if tt.autoErr {
				if !errors.Is(err, ErrNotApplicable) {
					t.Fatalf("Choose(auto) = %+v, %v; want ErrNotApplicable", p, err)
				}
				return
			}
			if err != nil || p.Method != tt.auto {
				t.Fatalf("Choose(auto) = %+v, %v; want %v", p, err, tt.auto)
			}
		})
	}

	for _, bad := range []string{loop, text, filepath.Join(dir, "missing")} {
		if b, err := Inspect(bad); err == nil {
			t.Errorf("Inspect(%s) = %+v, want an error", bad, b)
		}
	}
	if _, err := Inspect(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Inspect(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestChoosePlans(t *testing.T) {
	goBin := Binary{Path: "/x/app", GoVersion: "go1.22.1"}
	p, err := Choose(Auto, goBin, nil)
	if err != nil || p.Method != GoDebug || p.Set["GODEBUG"] != "multipathtcp=1" || p.Detail != "GODEBUG=multipathtcp=1 (Go go1.22.1)" {
		t.Errorf("Choose(auto, go) = %+v, %v", p, err)
	}
	c := Binary{Path: "/usr/bin/curl", Interp: "/lib64/ld-linux-x86-64.so.2"}
	p, err = Choose(Auto, c, func(Binary) (string, error) { return "/l/libmptcpwrap.so.0.0.1", nil })
	if err != nil || p.Method != Preload || p.Set["LD_PRELOAD"] != "/l/libmptcpwrap.so.0.0.1" || p.Detail != "LD_PRELOAD (/l/libmptcpwrap.so.0.0.1)" {
		t.Errorf("Choose(auto, c) = %+v, %v", p, err)
	}
	_, err = Choose(Preload, c, func(Binary) (string, error) { return "", os.ErrNotExist })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Choose without a library = %v, want os.ErrNotExist", err)
	}
}

// TestFindPreload checks the library found, when mptcpize is installed,
// is an ELF for this machine.
func TestFindPreload(t *testing.T) {
	b, err := Inspect("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	lib, err := FindPreload(b)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN || f.Machine != b.Machine {
		t.Errorf("%s: type %v machine %v", lib, f.Type, f.Machine)
	}
	wrong := b
	wrong.Machine = elf.EM_S390
	if _, err := FindPreload(wrong); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FindPreload(s390) = %v, want os.ErrNotExist", err)
	}
}
