package policy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func classes(cs ...ifmon.Class) []ifmon.Class { return cs }

// flatten undoes errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// fuzzSeeds are the testdata, example and shipped files.
func fuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/example/policies.d/*.yaml")
	files = append(append(files, more...), "testdata/example/config.yaml", "defaults/config.yaml", "defaults/policies.d/example-voice.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range policyErrorTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range configErrorTests {
		f.Add([]byte(tt.in))
	}
}

// checkFuzzErr checks that every mistake is an *Error of the file.
func checkFuzzErr(t *testing.T, err error, file string) {
	for _, e := range flatten(err) {
		var pe *Error
		if !errors.As(e, &pe) || pe.File != file || pe.Msg == "" || !strings.HasPrefix(e.Error(), file+":") {
			t.Fatalf("error %q (%T) is not an *Error of %s", e, e, file)
		}
	}
}
