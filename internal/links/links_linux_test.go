//go:build linux

package links

import (
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
)

// TestDumpNamespace creates veth pairs in a fresh namespace and checks that
// Dump maps their names and indexes both ways, there and only there.
func TestDumpNamespace(t *testing.T) {
	fd := testutil.NewNetns(t)
	h := testutil.NetlinkHandle(t, fd)
	for _, p := range [][2]string{{"wlan0", "p0"}, {"wwan0", "pw0"}} {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p[0]}, PeerName: p[1]}
		if err := h.LinkAdd(v); err != nil {
			t.Fatalf("add veth %s: %v", p[0], err)
		}
	}
	want := map[string]int32{}
	ls, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		want[l.Attrs().Name] = int32(l.Attrs().Index)
	}
	if len(want) != 5 {
		t.Fatalf("namespace has links %v, want lo and two veth pairs", want)
	}

	tab, err := Dump(fd)
	if err != nil {
		t.Fatal(err)
	}
	for name, index := range want {
		if i, ok := tab.Index(name); !ok || i != index {
			t.Errorf("Index(%s) = %d, %v; want %d", name, i, ok, index)
		}
		if n := tab.Name(index); n != name {
			t.Errorf("Name(%d) = %q, want %q", index, n, name)
		}
	}
	if _, ok := tab.Index("eth9"); ok {
		t.Error("Index(eth9) found")
	}
	if n := tab.Name(4242); n != "" {
		t.Errorf("Name(4242) = %q, want none", n)
	}
	// The caller's namespace is another one: no wwan0 there.
	host, err := Dump(0)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := host.Index("wwan0"); ok && i == want["wwan0"] && host.Name(want["pw0"]) == "pw0" {
		t.Error("Dump(0) sees the test namespace's links")
	}
}

func TestDumpHere(t *testing.T) {
	tab, err := Dump(0)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := tab.Index("lo"); !ok || i != 1 {
		t.Errorf("lo: index %d, %v", i, ok)
	}
}
