package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

// The loop does not wait for the kernel: commands go to workers, each with
// a socket of its own, and their results come back to the loop as events.
// A command is processed in the sender's context, and on a veth testbed
// that includes handing the new subflow's SYN through the peers: 0.1 to
// 0.6 ms during which, run on the loop, every other event waited. The
// commands of one connection go to the same worker, in order.
const workers = 4

// job is one command for a worker.
type job struct {
	a engine.Action
	// cause is when the kernel event that asked for it was received
	// (zero if none did).
	cause time.Time
}

// result is a job done.
type result struct {
	job
	err        error
	sent, done time.Time
}

// inflightKey names a command under way: the engine may ask again for
// what it has not heard the result of (MP_PRIO has no event of its own).
type inflightKey struct {
	kind          engine.ActionKind
	token         uint32
	local, remote netip.AddrPort
	id            uint8
	backup        bool
}

func keyOf(a engine.Action) inflightKey {
	return inflightKey{a.Kind, a.Token, a.Local, a.Remote, a.ID, a.Backup}
}

// executor runs commands on workers.
type executor struct {
	clients []*genl.Client
	in      []chan job
	out     chan result
	// do sends an action with worker w's socket (tests replace it).
	do func(w int, a engine.Action) error
}

func newExecutor(cfg *genl.Config) (*executor, error) {
	e := &executor{out: make(chan result, 1024)}
	for range workers {
		c, err := genl.New(cfg)
		if err != nil {
			e.close()
			return nil, err
		}
		e.clients = append(e.clients, c)
		e.in = append(e.in, make(chan job, 1024))
	}
	e.do = func(w int, a engine.Action) error { return execute(e.clients[w], a) }
	return e, nil
}

// run runs the workers until ctx ends.
func (e *executor) run(ctx context.Context) {
	for i := range e.in {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-e.in[i]:
					r := result{job: j, sent: time.Now()}
					r.err = e.do(i, j.a)
					r.done = time.Now()
					select {
					case e.out <- r:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
}

// submit hands j to the worker of its connection. When that worker has
// 1,024 commands waiting (a rebuild after an overflow can ask for
// thousands at once), it waits, and meanwhile takes in the results the
// workers send, to be handled later (deferred): a worker blocked on a full
// result channel would otherwise never take the command. It returns those
// results, for the loop to handle once it is done sending.
func (e *executor) submit(ctx context.Context, j job) (deferred []result) {
	for {
		select {
		case e.in[j.a.Token%workers] <- j:
			return deferred
		case r := <-e.out:
			deferred = append(deferred, r)
		case <-ctx.Done():
			return deferred
		}
	}
}

func (e *executor) close() {
	for _, c := range e.clients {
		_ = c.Close()
	}
}

// execute sends one action to the kernel.
func execute(pm *genl.Client, a engine.Action) error {
	switch a.Kind {
	case engine.CreateSubflow:
		var flags genl.Flags
		if a.Backup {
			flags = genl.FlagBackup
		}
		return pm.CreateSubflow(a.Token, genl.Endpoint{ID: a.ID, Addr: a.Local.Addr(), IfIndex: a.IfIndex, Flags: flags}, a.Remote)
	case engine.DestroySubflow:
		return pm.DestroySubflow(a.Token, mapped(a.Local, a.Mapped), mapped(a.Remote, a.Mapped))
	case engine.SetBackup:
		return pm.SetFlags(a.Token, mapped(a.Local, a.Mapped), mapped(a.Remote, a.Mapped), a.Backup)
	case engine.RemoveAddr:
		return pm.Remove(a.Token, a.ID)
	case engine.Announce:
		return pm.Announce(a.Token, genl.Endpoint{ID: a.ID, Addr: a.Local.Addr(), Port: a.Local.Port()})
	}
	return fmt.Errorf("unknown action %v", a.Kind)
}
