package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestProbeHold(t *testing.T) {
	tests := []struct{ holdDown, want time.Duration }{
		{0, time.Second},
		{500 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{5 * time.Second, 5 * time.Second},
		{time.Hour, time.Hour},
	}
	for _, tt := range tests {
		if got := (Handover{HoldDown: tt.holdDown}).ProbeHold(); got != tt.want {
			t.Errorf("Handover{HoldDown: %v}.ProbeHold() = %v, want %v", tt.holdDown, got, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	conn := func(remote string, uid uint32, cgroup, process string) Conn {
		return Conn{Remote: netip.MustParseAddrPort(remote), UID: uid, Cgroup: cgroup, Process: process}
	}
	c := conn("192.0.2.1:443", 1000, "/user.slice/app", "firefox")
	tests := []struct {
		name string
		m    Match
		c    Conn
		want bool
	}{
		{"empty match never matches", Match{}, c, false},
		{"port", Match{Ports: []PortRange{{443, 443}}}, c, true},
		{"other port", Match{Ports: []PortRange{{80, 80}}}, c, false},
		{"any of the ports", Match{Ports: []PortRange{{80, 80}, {443, 443}}}, c, true},
		{"range start", Match{Ports: []PortRange{{443, 500}}}, c, true},
		{"range end", Match{Ports: []PortRange{{400, 443}}}, c, true},
		{"below range", Match{Ports: []PortRange{{444, 500}}}, c, false},
		{"above range", Match{Ports: []PortRange{{1, 442}}}, c, false},
		{"prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.0/24")}}, c, true},
		{"other prefix", Match{Prefixes: []netip.Prefix{pfx("198.51.100.0/24")}}, c, false},
		{"host prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.1/32")}}, c, true},
		{"v4-mapped remote, v4 prefix", Match{Prefixes: []netip.Prefix{pfx("192.0.2.0/24")}},
			conn("[::ffff:192.0.2.1]:443", 0, "", ""), true},
		{"v4 remote, v6 prefix", Match{Prefixes: []netip.Prefix{pfx("::/0")}}, c, false},
		{"v6 remote", Match{Prefixes: []netip.Prefix{pfx("2001:db8::/32")}}, conn("[2001:db8::1]:443", 0, "", ""), true},
		{"v6 remote, v4 prefix", Match{Prefixes: []netip.Prefix{pfx("0.0.0.0/0")}}, conn("[2001:db8::1]:443", 0, "", ""), false},
		{"uid", Match{UIDs: []uint32{1, 1000}}, c, true},
		{"other uid", Match{UIDs: []uint32{0}}, c, false},
		{"uid 0", Match{UIDs: []uint32{0}}, conn("192.0.2.1:1", 0, "", ""), true},
		{"cgroup itself", Match{Cgroup: "/user.slice/app"}, c, true},
		{"cgroup below", Match{Cgroup: "/user.slice"}, c, true},
		{"cgroup, not a name prefix", Match{Cgroup: "/user.slice/ap"}, c, false},
		{"cgroup above", Match{Cgroup: "/user.slice/app/tab"}, c, false},
		{"cgroup root", Match{Cgroup: "/"}, c, true},
		{"cgroup /a/b vs /a/b", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/b", ""), true},
		{"cgroup /a/b vs /a/b/c", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/b/c", ""), true},
		{"cgroup /a/b vs /a/bc", Match{Cgroup: "/a/b"}, conn("192.0.2.1:1", 0, "/a/bc", ""), false},
		{"cgroup unknown", Match{Cgroup: "/a"}, conn("192.0.2.1:1", 0, "", ""), false},
		{"process", Match{Process: "firefox"}, c, true},
		{"other process", Match{Process: "firefox-bin"}, c, false},
		{"process unknown", Match{Process: "firefox"}, conn("192.0.2.1:1", 0, "", ""), false},
		{"all conditions hold", Match{Ports: []PortRange{{443, 443}}, Prefixes: []netip.Prefix{pfx("192.0.2.0/24")},
			UIDs: []uint32{1000}, Cgroup: "/user.slice", Process: "firefox"}, c, true},
		{"and: port fails", Match{Ports: []PortRange{{80, 80}}, UIDs: []uint32{1000}, Process: "firefox"}, c, false},
		{"and: prefix fails", Match{Ports: []PortRange{{443, 443}}, Prefixes: []netip.Prefix{pfx("10.0.0.0/8")}}, c, false},
		{"and: uid fails", Match{Ports: []PortRange{{443, 443}}, UIDs: []uint32{0}}, c, false},
		{"and: cgroup fails", Match{Ports: []PortRange{{443, 443}}, Cgroup: "/system.slice"}, c, false},
		{"and: process fails", Match{Ports: []PortRange{{443, 443}}, Process: "curl"}, c, false},
	}
	for _, tt := range tests {
		if got := tt.m.Matches(tt.c); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	parse := func(in string) *Policy {
		t.Helper()
		p, err := ParsePolicy(strings.NewReader(in), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := ParseConfig(strings.NewReader("default: {mode: single}\n"), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{Config: cfg, Policies: []*Policy{
		parse("name: https-user\nmatch: {ports: [443], uids: [1000]}\nmode: interactive\n"),
		parse("name: https\nmatch: {ports: [443]}\nmode: aggregate\n"),
		parse("name: voice\nmatch: {process: voice-app}\nmode: handover\n"),
		parse("name: voice-late\nmatch: {process: voice-app, ports: [5060]}\nmode: single\n"),
	}}
	tests := []struct {
		name string
		c    Conn
		want string
	}{
		{"first file wins", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443"), UID: 1000}, "https-user"},
		{"next when the first fails", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443"), UID: 0}, "https"},
		{"earlier wins over more specific", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:5060"), Process: "voice-app"}, "voice"},
		{"default when none", Conn{Remote: netip.MustParseAddrPort("192.0.2.1:80"), UID: 1000}, "default"},
		{"default for the zero conn", Conn{}, "default"},
	}
	for _, tt := range tests {
		p := s.Lookup(tt.c)
		if p.Name != tt.want {
			t.Errorf("%s: Lookup = %s, want %s", tt.name, p.Name, tt.want)
		}
	}
	if p := s.Lookup(Conn{}); p != &s.Config.Default || p.Mode != ModeSingle {
		t.Errorf("Lookup did not return the configuration's default policy")
	}
	empty := &Set{Config: cfg}
	if p := empty.Lookup(Conn{Remote: netip.MustParseAddrPort("192.0.2.1:443")}); p != &cfg.Default {
		t.Errorf("Lookup on a Set without policies = %s, want default", p.Name)
	}
}

func TestControlPath(t *testing.T) {
	tests := []struct {
		name, in, netns, want string
	}{
		{"unset", "", "", "/run/mptcp-pm/control.sock"},
		{"unset, named namespace", "", "blue", "/run/mptcp-pm/netns-blue.sock"},
		{"unset, namespace given as a path", "", "/run/netns/blue", "/run/mptcp-pm/netns-blue.sock"},
		{"set", "control_socket: /run/x.sock\n", "", "/run/x.sock"},
		{"set, named namespace", "control_socket: /run/x.sock\n", "blue", "/run/x.sock"},
		{"the default spelled out", "control_socket: /run/mptcp-pm/control.sock\n", "", "/run/mptcp-pm/control.sock"},
		{"the default spelled out, named namespace", "control_socket: /run/mptcp-pm/control.sock\n", "blue", "/run/mptcp-pm/netns-blue.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(tt.in), "config.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ControlPath(tt.netns); got != tt.want {
				t.Errorf("ControlPath(%q) = %q, want %q", tt.netns, got, tt.want)
			}
		})
	}
	if got, want := DefaultControlSocket(""), "/run/mptcp-pm/control.sock"; got != want {
		t.Errorf("DefaultControlSocket(\"\") = %q, want %q", got, want)
	}
}

func TestMatchServiceSide(t *testing.T) {
	m := Match{Ports: []PortRange{{5201, 5201}}}
	client := Conn{Remote: netip.MustParseAddrPort("10.0.3.2:5201"), Local: netip.MustParseAddrPort("10.0.1.2:40000")}
	server := Conn{ServerSide: true, Local: netip.MustParseAddrPort("10.0.3.2:5201"), Remote: netip.MustParseAddrPort("10.0.1.2:40000")}
	serverOther := Conn{ServerSide: true, Local: netip.MustParseAddrPort("10.0.3.2:40000"), Remote: netip.MustParseAddrPort("10.0.1.2:5201")}
	if !m.Matches(client) || !m.Matches(server) || m.Matches(serverOther) {
		t.Errorf("service port: client %v, server %v, server on another port %v; want true, true, false",
			m.Matches(client), m.Matches(server), m.Matches(serverOther))
	}
}
