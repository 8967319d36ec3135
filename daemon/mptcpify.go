package daemon

import (
	"log/slog"

	"github.com/mptcp-pm/mptcp-pm/internal/mptcpize"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// mptcpifier holds the eBPF programs that make the sockets of the
// policies' cgroups MPTCP (policy key mptcpify), one per policy.
type mptcpifier struct {
	scopes map[string]*mptcpize.Scope // by policy name
	state  map[string]string          // by policy name: "ebpf" or why not
}

// sync attaches a program for every policy that asks for one and has
// none, and detaches those no policy asks for any more. A kernel that
// refuses (fmod_ret under lockdown) is reported once per policy; the
// daemon runs on without it.
func (m *mptcpifier) sync(set *policy.Set, log *slog.Logger) {
	if m.scopes == nil {
		m.scopes, m.state = map[string]*mptcpize.Scope{}, map[string]string{}
	}
	want := map[string]*policy.Policy{}
	for _, p := range set.Policies {
		if p.Mptcpify {
			want[p.Name] = p
		}
	}
	for name, s := range m.scopes {
		if p, ok := want[name]; !ok || p.Match.Cgroup != s.Path {
			s.Close()
			delete(m.scopes, name)
		}
	}
	for name := range m.state {
		if _, ok := want[name]; !ok {
			delete(m.state, name)
		}
	}
	for name, p := range want {
		if m.scopes[name] != nil {
			continue
		}
		s, err := mptcpize.OpenCgroup(p.Match.Cgroup)
		if err == nil {
			if err = s.Attach(); err != nil {
				s.Close()
			}
		}
		if err != nil {
			if m.state[name] != "unavailable: "+err.Error() {
				log.Warn("mptcpify unavailable: start the application with `mptcp-pm run --policy "+name+"` instead",
					"policy", name, "cgroup", p.Match.Cgroup, "err", err)
			}
			m.state[name] = "unavailable: " + err.Error()
			continue
		}
		m.scopes[name], m.state[name] = s, "ebpf"
		log.Info("mptcpify: TCP sockets of the policy's cgroup are MPTCP", "policy", name, "cgroup", p.Match.Cgroup)
	}
}

// closeAll detaches every program.
func (m *mptcpifier) closeAll() {
	for name, s := range m.scopes {
		s.Close()
		delete(m.scopes, name)
	}
}
