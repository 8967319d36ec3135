package daemon

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

// A connection whose owner sock_diag cannot find (it closed before the
// lookup) is matched on its addresses alone: a policy for uid 0 must not
// take it, as it did while an unknown uid was 0.
func TestMatchOwnerUnknown(t *testing.T) {
	testutil.RequireRoot(t, "sock_diag in a network namespace of its own")
	ns := testutil.NewNetns(t)
	diag, err := sockdiag.New(&sockdiag.Config{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { diag.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &Daemon{set: explainSet(), matched: map[uint32]matchInfo{}, log: log, owners: newOwners(diag, ns, log)}
	local, remote := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.3.2:443")
	if p := d.match(0xdead, local, remote, false, nil); p.Name != "default" {
		t.Errorf("owner unknown: matched policy %q, want the default", p.Name)
	}
	if p := (reloadMatcher{d}).Match(0xbeef, local, remote, false); p.Name != "default" {
		t.Errorf("owner unknown, after a reload: matched policy %q, want the default", p.Name)
	}
}
