//go:build linux

package links

import (
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func linkMsg(t *testing.T, index int32, name string) netlink.Message {
	t.Helper()
	hdr := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(hdr[4:8], uint32(index))
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.IFLA_MTU, Data: []byte{0, 5, 0, 0}},
		{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: append(hdr, attrs...)}
}

func TestParse(t *testing.T) {
	short := netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: []byte{1, 2}}
	other := netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWADDR}, Data: make([]byte, 32)}
	tab, err := parse([]netlink.Message{linkMsg(t, 1, "lo"), short, other, linkMsg(t, 12, "wwan0")})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Name(12) != "wwan0" || tab.Name(1) != "lo" || tab.Name(3) != "" {
		t.Errorf("names: 12=%q 1=%q 3=%q", tab.Name(12), tab.Name(1), tab.Name(3))
	}
	if i, ok := tab.Index("wwan0"); !ok || i != 12 {
		t.Errorf("Index(wwan0) = %d, %v", i, ok)
	}
	if _, ok := tab.Index("eth9"); ok {
		t.Error("Index(eth9) found")
	}
	bad := linkMsg(t, 5, "x")
	bad.Data = append(bad.Data[:unix.SizeofIfInfomsg], 0xff, 0xff, 0, 0) // attribute longer than the message
	if _, err := parse([]netlink.Message{bad}); err == nil {
		t.Error("malformed attributes: no error")
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
