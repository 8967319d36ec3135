package genl

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		f     Flags
		names []string
		str   string
	}{
		{0, nil, ""},
		{FlagSignal, []string{"signal"}, "signal"},
		{FlagSubflow | FlagBackup, []string{"subflow", "backup"}, "subflow backup"},
		{FlagBackup | FlagFullmesh, []string{"backup", "fullmesh"}, "backup fullmesh"},
		{FlagLaminar | FlagImplicit | FlagSignal, []string{"signal", "implicit", "laminar"}, "signal implicit laminar"},
		{0x40, []string{"0x40"}, "0x40"},
		{FlagSignal | 0x40 | 0x80000000, []string{"signal", "0x80000040"}, "signal 0x80000040"},
	}
	for _, tt := range tests {
		if got := tt.f.Names(); !slices.Equal(got, tt.names) {
			t.Errorf("Flags(%#x).Names() = %q, want %q", uint32(tt.f), got, tt.names)
		}
		if got := tt.f.String(); got != tt.str {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint32(tt.f), got, tt.str)
		}
	}
}

func TestParseFlag(t *testing.T) {
	tests := []struct {
		name string
		f    Flags
		ok   bool
	}{
		{"signal", 0x1, true},
		{"subflow", 0x2, true},
		{"backup", 0x4, true},
		{"fullmesh", 0x8, true},
		{"implicit", 0x10, true},
		{"laminar", 0x20, true},
		{"nobackup", 0, false},
		{"Signal", 0, false},
		{"", 0, false},
		{"0x40", 0, false},
	}
	for _, tt := range tests {
		if f, ok := ParseFlag(tt.name); f != tt.f || ok != tt.ok {
			t.Errorf("ParseFlag(%q) = %#x, %v; want %#x, %v", tt.name, uint32(f), ok, uint32(tt.f), tt.ok)
		}
	}
	// Every name String prints parses back.
	for f := Flags(1); f <= FlagLaminar; f <<= 1 {
		if got, ok := ParseFlag(f.String()); !ok || got != f {
			t.Errorf("ParseFlag(%q) = %#x, %v; want %#x", f.String(), uint32(got), ok, uint32(f))
		}
	}
}

func TestErrors(t *testing.T) {
	if !errors.Is(ErrNotEnabled, os.ErrNotExist) {
		t.Error("ErrNotEnabled does not match os.ErrNotExist")
	}
	e := &Error{Op: "add endpoint 10.0.0.1", Err: os.ErrExist}
	if got, want := e.Error(), "genl: add endpoint 10.0.0.1: file already exists"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, os.ErrExist) {
		t.Error("errors.Is(e, os.ErrExist) = false")
	}
	// The userspace PM's answer for a connection it does not have, and
	// other EINVALs.
	gone := fmt.Errorf("destroy: %w", &Error{Op: "destroy subflow", Message: "invalid token", Err: syscall.EINVAL})
	if !errors.Is(gone, ErrInvalidToken) || !errors.Is(gone, syscall.EINVAL) {
		t.Errorf("%v: does not match ErrInvalidToken and EINVAL", gone)
	}
	for _, other := range []error{
		&Error{Op: "create subflow", Message: "invalid addr id", Err: syscall.EINVAL},
		&Error{Op: "create subflow", Err: syscall.EINVAL},
		syscall.EINVAL,
	} {
		if errors.Is(other, ErrInvalidToken) {
			t.Errorf("%v matches ErrInvalidToken", other)
		}
	}
}
