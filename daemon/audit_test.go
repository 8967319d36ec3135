package daemon

import (
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// The audit's timer runs only while the daemon has connections: an idle
// daemon has no wake-up.
func TestArmAudit(t *testing.T) {
	d := &Daemon{state: engine.NewState(ifmon.Snapshot{}), audit: time.NewTimer(time.Hour),
		opts: Options{AuditInterval: 10 * time.Millisecond}}
	d.audit.Stop()
	d.armAudit()
	if d.auditOn {
		t.Error("the audit is armed with no connection")
	}
	select {
	case <-d.audit.C:
		t.Fatal("the audit's timer fired with no connection")
	case <-time.After(50 * time.Millisecond):
	}
	d.state.Step(engine.ConnCreated{EventBase: engine.EventBase{At: time.Now()}, Token: 1})
	d.armAudit()
	if !d.auditOn {
		t.Fatal("the audit is not armed with a connection")
	}
	select {
	case <-d.audit.C:
	case <-time.After(5 * time.Second):
		t.Fatal("the audit's timer did not fire")
	}
}
