//go:build linux

package genl

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestClientChangeEndpointAt: the flags come from the dump entry the
// kernel would pick (same address; a port-less entry matches any port),
// and SET_FLAGS names the endpoint by family, address and port, as
// `ip mptcp endpoint change ADDR [port PORT]` does.
func TestClientChangeEndpointAt(t *testing.T) {
	yes, no := true, false
	dump := []genetlink.Message{
		reply(cmdGetAddr, nest(wAddr, u16(wFamily, afInet), u8(wID, 1), raw(wAddr4, 10, 0, 1, 1), u16(wPort, 10100), u32(wFlags, 0x1))),
		reply(cmdGetAddr, nest(wAddr, u16(wFamily, afInet), u8(wID, 2), raw(wAddr4, v4a...), u32(wFlags, 0xa))),
	}
	tests := []struct {
		name string
		at   netip.AddrPort
		ch   EndpointChange
		want []netlink.Attribute
	}{
		{"port-less entry, any port", netip.MustParseAddrPort("10.0.1.2:999"), EndpointChange{Backup: &yes},
			[]netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u16(wPort, 999), u32(wFlags, 0xe))}},
		{"clear fullmesh, keep subflow", netip.MustParseAddrPort("10.0.1.2:0"), EndpointChange{Fullmesh: &no},
			[]netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, v4a...), u32(wFlags, 0x2))}},
		{"signal entry with its port", netip.MustParseAddrPort("10.0.1.1:10100"), EndpointChange{Backup: &yes},
			[]netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, 10, 0, 1, 1), u16(wPort, 10100), u32(wFlags, 0x5))}},
		{"unknown address: the kernel decides", netip.MustParseAddrPort("10.0.9.9:0"), EndpointChange{Backup: &yes},
			[]netlink.Attribute{nest(wAddr, u16(wFamily, afInet), raw(wAddr4, 10, 0, 9, 9), u32(wFlags, 0x4))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := genltest.CheckRequest(testFamily.ID, cmdSetFlags, flagsSet,
				func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
					if diff := cmp.Diff(marshal(tt.want...), greq.Data); diff != "" {
						t.Errorf("set attributes (-want +got):\n%s", diff)
					}
					return nil, genltest.Error(int(unix.EINVAL))
				})
			c := testClient(t, func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
				if greq.Header.Command == cmdGetAddr {
					return dump, nil
				}
				return set(greq, nreq)
			})
			err := c.ChangeEndpointAt(tt.at, tt.ch)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, unix.EINVAL) {
				t.Errorf("err = %v, want the kernel's EINVAL as *Error", err)
			}
		})
	}
}
