package ifmon

import (
	"net/netip"
	"slices"
	"testing"
)

func TestDeltaHelpers(t *testing.T) {
	wlan := Link{Index: 2, Name: "wlan0", Class: ClassWifi, Up: true, Addrs: addrs("10.1.0.2", "2001:db8:1::2")}
	wwan := Link{Index: 3, Name: "wwan0", Class: ClassCellular, Up: true, Addrs: addrs("10.2.0.2")}
	down := func(l Link) Link { l.Up = false; return l }
	with := func(l Link, a ...string) Link { l.Addrs = addrs(a...); return l }
	snap := func(ls ...Link) Snapshot { return Snapshot{Links: ls} }
	names := func(ls []Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Name+map[bool]string{true: "+", false: "-"}[l.Up])
		}
		return out
	}
	for _, tt := range []struct {
		name        string
		d           Delta
		down, up    []string
		gone, added []netip.Addr
	}{
		{name: "first snapshot", d: Delta{New: snap(wlan, wwan)},
			up: []string{"wlan0+", "wwan0+"}, added: addrs("10.1.0.2", "10.2.0.2", "2001:db8:1::2")},
		{name: "no change", d: Delta{Old: snap(wlan, wwan), New: snap(wlan, wwan)}},
		{name: "wlan0 down, IPv6 flushed", d: Delta{Old: snap(wlan, wwan), New: snap(with(down(wlan), "10.1.0.2"), wwan)},
			down: []string{"wlan0+"}, gone: addrs("2001:db8:1::2")},
		{name: "wlan0 vanished", d: Delta{Old: snap(wlan, wwan), New: snap(wwan)},
			down: []string{"wlan0+"}, gone: addrs("10.1.0.2", "2001:db8:1::2")},
		{name: "down link vanished", d: Delta{Old: snap(down(wlan), wwan), New: snap(wwan)},
			gone: addrs("10.1.0.2", "2001:db8:1::2")},
		{name: "wlan0 back up", d: Delta{Old: snap(down(wlan), wwan), New: snap(wlan, wwan)},
			up: []string{"wlan0+"}},
		{name: "address moved between links", d: Delta{Old: snap(wlan, wwan), New: snap(with(wlan, "2001:db8:1::2"), with(wwan, "10.1.0.2", "10.2.0.2"))}},
		{name: "address renumbered", d: Delta{Old: snap(wlan), New: snap(with(wlan, "10.1.0.3", "2001:db8:1::2"))},
			gone: addrs("10.1.0.2"), added: addrs("10.1.0.3")},
		{name: "new link down", d: Delta{Old: snap(wlan), New: snap(wlan, down(wwan))},
			added: addrs("10.2.0.2")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.d.LinkDown()); !slices.Equal(got, tt.down) {
				t.Errorf("LinkDown() = %v, want %v", got, tt.down)
			}
			if got := names(tt.d.LinkUp()); !slices.Equal(got, tt.up) {
				t.Errorf("LinkUp() = %v, want %v", got, tt.up)
			}
			if got := tt.d.AddrsGone(); !slices.Equal(got, tt.gone) {
				t.Errorf("AddrsGone() = %v, want %v", got, tt.gone)
			}
			if got := tt.d.AddrsAdded(); !slices.Equal(got, tt.added) {
				t.Errorf("AddrsAdded() = %v, want %v", got, tt.added)
			}
		})
	}
}
