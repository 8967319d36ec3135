package daemon

import (
	"cmp"
	"slices"
	"time"
)

// DefaultAuditInterval is how often the daemon checks, while it has
// connections, that the kernel still has them: one sock_diag dump of the
// MPTCP sockets, without their subflows, every 30 s. It catches the
// connections whose CLOSED event never came (6.18 sends none for many a
// connection the peer reset); a command for one finds it sooner ("invalid
// token"), but a connection the engine has nothing to ask for gets none.
// With no connection there is no wake-up.
const DefaultAuditInterval = 30 * time.Second

// armAudit starts the audit's timer when the daemon has connections and it
// is not running. It is not stopped when they are gone: it fires once
// more, finds none, and is not started again.
func (d *Daemon) armAudit() {
	if d.auditOn || d.state.Len() == 0 {
		return
	}
	d.auditOn = true
	d.audit.Reset(cmp.Or(d.opts.AuditInterval, DefaultAuditInterval))
}

// auditConns forgets the connections the kernel no longer has. The kernel
// dumps the MPTCP sockets of its token table (net/mptcp/mptcp_diag.c), the
// ones it answers commands for: a connection is kept if its token is
// there, in any state but TCP_CLOSE. It runs on the loop: one dump.
func (d *Daemon) auditConns(at time.Time) {
	if d.state.Len() == 0 {
		return
	}
	socks, err := d.diag.Sockets()
	if err != nil {
		d.log.Warn("cannot check the connections against the kernel's", "err", err)
		return
	}
	present := make(map[uint32]bool, len(socks))
	for _, c := range socks {
		if c.Token != 0 && c.State != tcpClose {
			present[c.Token] = true
		}
	}
	var gone []uint32
	for _, tok := range d.state.Tokens() {
		if !present[tok] {
			gone = append(gone, tok)
		}
	}
	slices.Sort(gone)
	for _, tok := range gone {
		d.closeConn(tok, at)
	}
	if len(gone) > 0 {
		d.log.Info("connections the kernel no longer has forgotten (no CLOSED event came)", "connections", len(gone))
	}
}
