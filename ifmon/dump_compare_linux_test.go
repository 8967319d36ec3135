//go:build linux

package ifmon

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
)

// TestIntegrationDumpMatchesParser takes the dumps of buildFixture's
// namespace both ways, with the hand parser (parse.go) and with
// vishvananda/netlink (dump_linux.go), and checks that every fact the
// monitor uses, and the Snapshot, are the same.
func TestIntegrationDumpMatchesParser(t *testing.T) {
	t.Run("fixture", func(t *testing.T) { compareDumps(t, buildFixture(t), true) })
	t.Run("host", func(t *testing.T) { compareDumps(t, 0, false) })
}

func compareDumps(t *testing.T, fd int, fixture bool) {
	m, err := New(Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.dial(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	old, err := m.snapshotDump(c)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDumper(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cur, err := d.dump()
	if err != nil {
		t.Fatal(err)
	}
	lines := func(x dump) (ls, as, rs []string) {
		for _, l := range x.links {
			ls = append(ls, fmt.Sprintf("%d %q type=%d flags=%#x oper=%d/%v kind=%q loop=%v up=%v",
				l.Index, l.Name, map[bool]uint16{true: arphrdLoopback}[l.Type == arphrdLoopback], l.Flags,
				l.OperState, l.HasOperState, l.Kind, l.loopback(), l.up()))
		}
		for _, a := range x.addrs {
			as = append(as, fmt.Sprintf("%d %v fam=%d /%d scope=%d flags=%#x usable=%v",
				a.Index, a.Addr, a.Family, a.PrefixLen, a.Scope, a.Flags, a.usable()))
		}
		for _, r := range x.routes {
			if r.Flags&rtmFCloned != 0 {
				continue // the library drops cloned routes, and so does isDefault
			}
			rs = append(rs, fmt.Sprintf("fam=%d dst/%d table=%d type=%d flags=%#x oifs=%v default=%v",
				r.Family, r.DstLen, r.Table, r.Type, r.Flags, r.OIFs, r.isDefault()))
		}
		slices.Sort(ls)
		slices.Sort(as)
		slices.Sort(rs)
		return
	}
	ol, oa, or := lines(old)
	nl, na, nr := lines(cur)
	for _, c := range []struct {
		what      string
		old, new_ []string
	}{{"links", ol, nl}, {"addresses", oa, na}, {"routes", or, nr}} {
		if !slices.Equal(c.old, c.new_) {
			t.Errorf("%s differ:\nparser:\n  %s\nlibrary:\n  %s", c.what, join(c.old), join(c.new_))
		} else {
			t.Logf("%s: %d the same:\n  %s", c.what, len(c.old), join(c.old))
		}
	}
	so, sn := assemble(old, classifyNoSysfs), assemble(cur, classifyNoSysfs)
	if !so.Equal(sn) || fixture && !sn.Equal(wantFixtureSnapshot) {
		t.Errorf("snapshots:\nparser %s\nlibrary %s\nwant %s", fmtSnapshot(so), fmtSnapshot(sn), fmtSnapshot(wantFixtureSnapshot))
	}
	_ = cmp.Compare[int]
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += "\n  "
		}
		out += s
	}
	return out
}
