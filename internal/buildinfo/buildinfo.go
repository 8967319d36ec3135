// Package buildinfo says which build of mptcp-pm is running, from what the
// Go toolchain embeds in every binary (runtime/debug.ReadBuildInfo): the
// module version, the version-control revision and whether the tree had
// uncommitted changes, and the Go version.
//
// Out of scope: setting a version at link time (-ldflags -X); a binary
// built from a checkout says "(devel)" and its revision.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info is one build of the program. It is a value: safe to copy and to
// use from any goroutine.
type Info struct {
	// Version is the main module's version: a tag such as v1.2.0 when
	// installed with `go install …@v1.2.0`, "(devel)" for a build from a
	// checkout.
	Version string `json:"version"`
	// Revision is the commit the binary was built from ("" when the build
	// had no version control information, as with `go build` of files
	// outside a repository or -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	// Dirty is set when the working tree had uncommitted changes.
	Dirty bool `json:"dirty,omitempty"`
	// GoVersion is the Go toolchain that built it, e.g. go1.26.8.
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build. Outside a module build (a test
// binary has no main module version) Version is "(devel)".
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)", GoVersion: "unknown"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	i := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if i.Version == "" {
		i.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.modified":
			i.Dirty = s.Value == "true"
		}
	}
	return i
}

// ShortRevision is the first 12 characters of the revision, as git prints
// it abbreviated, with "-dirty" when the tree had changes.
func (i Info) ShortRevision() string {
	r := i.Revision
	if len(r) > 12 {
		r = r[:12]
	}
	if i.Dirty && r != "" {
		r += "-dirty"
	}
	return r
}

// String is one line for people: "mptcp-pm VERSION (revision REV, GOVERSION)".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString("mptcp-pm " + i.Version + " (")
	if r := i.ShortRevision(); r != "" {
		b.WriteString("revision " + r + ", ")
	}
	b.WriteString(i.GoVersion + ")")
	return b.String()
}
