package testutil

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

// AddrPort returns the address of a socket with a v4-mapped address
// unmapped, as the daemon and `connection show` print it.
func AddrPort(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("address %v: %v", a, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// SkipOrFail skips the test with reason, or fails it under CI=true, so
// that a misconfigured runner cannot pass silently.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
}
