package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want Info
		str  string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			Info{Version: "v1.2.0", GoVersion: "go1.26.8"}, "mptcp-pm v1.2.0 (go1.26.8)"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "5b13d27f0123456789abcdef0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "(devel)", Revision: "5b13d27f0123456789abcdef0123456789abcdef", Dirty: true, GoVersion: "go1.26.8"},
			"mptcp-pm (devel) (revision 5b13d27f0123-dirty, go1.26.8)"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "false"}}},
			Info{Version: "(devel)", GoVersion: "go1.26.8"}, "mptcp-pm (devel) (go1.26.8)"},
	} {
		got := fromBuildInfo(&tc.bi)
		if got != tc.want {
			t.Errorf("fromBuildInfo(%+v) = %+v, want %+v", tc.bi, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("String() = %q, want %q", s, tc.str)
		}
	}
}

func TestRead(t *testing.T) {
	i := Read()
	if i.Version == "" || !strings.HasPrefix(i.GoVersion, "go") {
		t.Errorf("Read() = %+v: want a version and a Go version", i)
	}
}
