package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-pm/mptcp-pm/bpf"
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
	"golang.org/x/sys/unix"
)

// fakePM records every call as one line and answers from its fields.
type fakePM struct {
	calls  []string
	eps    []genl.Endpoint
	limits genl.Limits
	err    error
}

func (f *fakePM) rec(format string, args ...any) error {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakePM) AddEndpoint(ep genl.Endpoint) error { return f.rec("add %+v", ep) }
func (f *fakePM) DeleteEndpoint(id uint8, a netip.Addr) error {
	return f.rec("delete %d %v", id, a)
}
func (f *fakePM) Endpoint(id uint8) (genl.Endpoint, error) {
	for _, ep := range f.eps {
		if ep.ID == id {
			return ep, f.rec("get %d", id)
		}
	}
	return genl.Endpoint{}, f.rec("get %d", id)
}
func (f *fakePM) Endpoints() ([]genl.Endpoint, error) { return f.eps, f.rec("dump") }
func (f *fakePM) FlushEndpoints() error               { return f.rec("flush") }
func (f *fakePM) ChangeEndpoint(id uint8, ch genl.EndpointChange) error {
	s := func(b *bool) string {
		if b == nil {
			return "-"
		}
		return fmt.Sprint(*b)
	}
	return f.rec("change %d backup=%s fullmesh=%s", id, s(ch.Backup), s(ch.Fullmesh))
}
func (f *fakePM) Limits() (genl.Limits, error) { return f.limits, f.rec("limits") }
func (f *fakePM) SetLimits(u genl.LimitsUpdate) error {
	s := func(p *uint32) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return f.rec("setlimits subflows=%s add_addr_accepted=%s", s(u.Subflows), s(u.AddAddrAccepted))
}
func (f *fakePM) Announce(tok uint32, ep genl.Endpoint) error {
	return f.rec("announce %08x %+v", tok, ep)
}
func (f *fakePM) Remove(tok uint32, id uint8) error { return f.rec("remove %08x %d", tok, id) }
func (f *fakePM) CreateSubflow(tok uint32, l genl.Endpoint, r netip.AddrPort) error {
	return f.rec("create %08x %+v %v", tok, l, r)
}
func (f *fakePM) DestroySubflow(tok uint32, l, r netip.AddrPort) error {
	return f.rec("destroy %08x %v %v", tok, l, r)
}
func (f *fakePM) SetFlags(tok uint32, l, r netip.AddrPort, backup bool) error {
	return f.rec("setflags %08x %v %v %v", tok, l, r, backup)
}
func (f *fakePM) Close() error { return nil }

type fakeLinks map[string]int32

func (l fakeLinks) Name(i int32) string {
	for n, x := range l {
		if x == i {
			return n
		}
	}
	return ""
}
func (l fakeLinks) Index(n string) (int32, bool) { i, ok := l[n]; return i, ok }

func testEnv(pm *fakePM, conns []sockdiag.Conn) (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{
		ctx: context.Background(), stdout: &out, stderr: &errb,
		dialPM:     func(*env) (pmClient, error) { return pm, nil },
		dialEvents: func(*env) (eventSource, error) { return nil, errors.New("no events in unit tests") },
		dumpLinks:  func(*env) (linkTable, error) { return fakeLinks{"wlan0": 3, "wwan0": 4}, nil },
		dumpConns:  func(*env) ([]connection, error) { return conns, nil },
	}, &out, &errb
}

func TestCommands(t *testing.T) {
	tests := []struct {
		args string
		want []string
	}{
		{"endpoint add 10.0.1.2 dev wlan0 subflow backup", []string{"add {ID:0 Addr:10.0.1.2 Port:0 Flags:subflow backup IfIndex:3}"}},
		{"endp a 10.0.1.2 port 1000 id 7 signal", []string{"add {ID:7 Addr:10.0.1.2 Port:1000 Flags:signal IfIndex:0}"}},
		{"endpoint add fd00:1::2 fullmesh subflow", []string{"add {ID:0 Addr:fd00:1::2 Port:0 Flags:subflow fullmesh IfIndex:0}"}},
		{"endpoint delete id 3", []string{"delete 3 invalid IP"}},
		{"endpoint del id 0 10.0.1.2", []string{"delete 0 10.0.1.2"}},
		{"endpoint change id 2 backup", []string{"change 2 backup=true fullmesh=-"}},
		{"endpoint change id 2 nofullmesh nobackup", []string{"change 2 backup=false fullmesh=false"}},
		{"endpoint flush", []string{"flush"}},
		{"endpoint show", []string{"dump"}},
		{"endpoint", []string{"dump"}},
		{"endpoint sh id 9", []string{"get 9"}},
		{"limits set subflow 2 add_addr_accepted 3", []string{"setlimits subflows=2 add_addr_accepted=3"}},
		{"limits set add 1", []string{"setlimits subflows=- add_addr_accepted=1"}},
		{"limits", []string{"limits"}},
		{"announce 10.0.2.2 id 5 token 0x0a0B0c0D port 4000 dev wwan0", []string{"announce 0a0b0c0d {ID:5 Addr:10.0.2.2 Port:4000 Flags: IfIndex:4}"}},
		{"remove id 5 token deadbeef", []string{"remove deadbeef 5"}},
		{"remove token 1 id 0", []string{"remove 00000001 0"}},
		{"subflow add token 84715662 local 10.0.2.2 id 5 remote 10.0.3.2 port 5201 dev wwan0 backup",
			[]string{"create 84715662 {ID:5 Addr:10.0.2.2 Port:0 Flags:backup IfIndex:4} 10.0.3.2:5201"}},
		{"subflow add token 1 local 10.0.2.2 port 4444 remote 10.0.3.2 port 5201",
			[]string{"create 00000001 {ID:0 Addr:10.0.2.2 Port:4444 Flags: IfIndex:0} 10.0.3.2:5201"}},
		{"subflow delete token 1 local fd00:2::2 port 4444 remote fd00:3::2 port 80", []string{"destroy 00000001 [fd00:2::2]:4444 [fd00:3::2]:80"}},
		{"subflow set token 1 local 10.0.2.2 port 4444 remote 10.0.3.2 port 80 backup", []string{"setflags 00000001 10.0.2.2:4444 10.0.3.2:80 true"}},
		{"subflow set token 1 remote 10.0.3.2 port 80 nobackup local 10.0.2.2 port 4444", []string{"setflags 00000001 10.0.2.2:4444 10.0.3.2:80 false"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			pm := &fakePM{eps: []genl.Endpoint{{ID: 9}}}
			e, _, _ := testEnv(pm, nil)
			if err := run(e, strings.Fields(tt.args)); err != nil {
				t.Fatalf("run: %v", err)
			}
			if diff := cmp.Diff(tt.want, pm.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct{ args, want string }{
		{"", "no object given"},
		{"frobnicate", `unknown object "frobnicate" (expected endpoint, limits, monitor, announce, remove, subflow, connection, daemon, status, policy, reload, run, doc, version, help)`},
		{"--bogus limits", `unknown option "--bogus" (try "mptcp-pm help")`},
		{"-n", "option -n needs a namespace name"},
		{"endpoint zap", `endpoint: unknown command "zap" (expected add, delete, change, show, flush)`},
		{"endpoint add", "endpoint add: missing ADDR"},
		{"endpoint add 10.0.0.300", `endpoint add: invalid address "10.0.0.300" (expected ADDR, port, dev, id, signal, subflow, backup, fullmesh)`},
		{"endpoint add 10.0.0.1 10.0.0.2", `endpoint add: unknown argument "10.0.0.2" (expected ADDR once, port, dev, id, signal, subflow, backup, fullmesh)`},
		{"endpoint add 10.0.0.1 id 256", `endpoint add: invalid id "256": want a number from 0 to 255`},
		{"endpoint add 10.0.0.1 id", `endpoint add: missing value after "id"`},
		{"endpoint add 10.0.0.1 port 0 signal", `endpoint add: invalid port "0": want a number from 1 to 65535`},
		{"endpoint add 10.0.0.1 dev eth9", `endpoint add: device "eth9" does not exist`},
		{"endpoint delete 10.0.0.1", "endpoint delete: missing id ID"},
		{"endpoint delete id 0", "endpoint delete: id 0 needs the address (id 0 is the initial subflow's address)"},
		{"endpoint change id 1", "endpoint change: missing one of backup, nobackup, fullmesh, nofullmesh"},
		{"endpoint change backup", "endpoint change: missing id ID"},
		{"endpoint change id 1 signal", `endpoint change: unknown argument "signal" (expected id, backup, nobackup, fullmesh, nofullmesh)`},
		{"endpoint flush now", `endpoint flush: unknown argument "now" (expected nothing)`},
		{"limits set", "limits set: missing subflows N or add_addr_accepted N"},
		{"limits set subflows -1", `limits set: invalid subflows "-1": want a number from 0 to 4294967295`},
		{"announce 10.0.0.1 id 1", "announce: missing token TOKEN"},
		{"announce id 1 token 1", "announce: missing ADDR"},
		{"announce 10.0.0.1 id 0 token 1", "announce: invalid id 0: an announced address needs an ID from 1 to 255"},
		{"announce 10.0.0.1 id 1 token 123456789", `announce: invalid token "123456789": want up to 8 hexadecimal digits, as ` + "`mptcp-pm monitor`" + ` prints it`},
		{"announce 10.0.0.1 id 1 token 0x", `announce: invalid token "0x": want up to 8 hexadecimal digits, as ` + "`mptcp-pm monitor`" + ` prints it`},
		{"remove id 1", "remove: missing token TOKEN"},
		{"remove token abc", "remove: missing id ID"},
		{"subflow", "subflow: missing command (expected add, delete, set)"},
		{"subflow add token 1 local 10.0.0.1 remote 10.0.0.2", "subflow add: missing remote port PORT"},
		{"subflow add token 1 port 5 local 10.0.0.1 remote 10.0.0.2 port 1", `subflow add: "port" must follow "local ADDR" or "remote ADDR"`},
		{"subflow add local 10.0.0.1 remote fd00::1 port 1 token 1", "subflow add: local 10.0.0.1 and remote fd00::1 are not of the same address family"},
		{"subflow add token 1 local 10.0.0.1 remote 10.0.0.2 port 1 id 3", `subflow add: "id" must follow "local ADDR"`},
		{"subflow delete token 1 local 10.0.0.1 remote 10.0.0.2 port 1", "subflow delete: missing local port PORT"},
		{"subflow delete token 1 local 10.0.0.1 port 2 remote 10.0.0.2 port 1 backup", `subflow delete: unknown argument "backup" (expected token, local, remote, port)`},
		{"subflow set token 1 local 10.0.0.1 port 2 remote 10.0.0.2 port 1", "subflow set: missing backup or nobackup"},
		{"subflow set token 1 local 10.0.0.x port 2", `subflow set: invalid local address "10.0.0.x"`},
		{"connection show token", `connection show: missing value after "token"`},
		{"monitor now", `monitor: unknown argument "now" (expected quality)`},
		{"monitor quality now", `monitor: unknown argument "now" (expected quality)`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			pm := &fakePM{}
			e, _, _ := testEnv(pm, nil)
			err := run(e, strings.Fields(tt.args))
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run: got %v, want a usage error", err)
			}
			if got := message(err); got != tt.want {
				t.Errorf("message:\n got %s\nwant %s", got, tt.want)
			}
			if len(pm.calls) != 0 {
				t.Errorf("bad input reached the kernel: %v", pm.calls)
			}
		})
	}
}

func TestKernelErrorMessage(t *testing.T) {
	pm := &fakePM{err: &genl.Error{Op: "set limits", Message: "limit greater than maximum (8)", Err: unix.EINVAL}}
	e, _, _ := testEnv(pm, nil)
	err := run(e, strings.Fields("limits set subflows 9"))
	if got, want := message(err), "set limits: limit greater than maximum (8) (invalid argument)"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
}

func TestHelpEverywhere(t *testing.T) {
	var lines []string
	for _, o := range objects {
		lines = append(lines, o.name+" help", o.name+" -h")
	}
	lines = append(lines, "-h", "--help", "help",
		"endpoint add help", "endpoint delete -h", "endpoint change --help", "endpoint show -h", "endpoint flush -h",
		"limits set -h", "limits show help", "subflow add -h", "subflow delete -h", "subflow set help", "connection show -h")
	for _, l := range lines {
		t.Run(l, func(t *testing.T) {
			pm := &fakePM{}
			e, out, _ := testEnv(pm, nil)
			if err := run(e, strings.Fields(l)); err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.HasPrefix(out.String(), "Usage: mptcp-pm") {
				t.Errorf("output does not start with a usage line:\n%s", out)
			}
			if len(pm.calls) != 0 {
				t.Errorf("help reached the kernel: %v", pm.calls)
			}
		})
	}
}

func TestEndpointShowFormat(t *testing.T) {
	pm := &fakePM{eps: []genl.Endpoint{
		{ID: 1, Addr: netip.MustParseAddr("10.0.1.2"), Flags: genl.FlagSubflow | genl.FlagBackup | genl.FlagFullmesh, IfIndex: 3},
		{ID: 7, Addr: netip.MustParseAddr("10.0.2.2"), Port: 1234, Flags: genl.FlagSignal},
		{ID: 8, Addr: netip.MustParseAddr("fd00::1"), Flags: genl.FlagSubflow, IfIndex: 99},
	}}
	e, out, _ := testEnv(pm, nil)
	if err := run(e, []string{"endpoint", "show"}); err != nil {
		t.Fatal(err)
	}
	// The format of iproute2 6.1, trailing space included.
	want := "10.0.1.2 id 1 subflow backup fullmesh dev wlan0 \n" +
		"10.0.2.2 port 1234 id 7 signal \n" +
		"fd00::1 id 8 subflow dev if99 \n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	e, out, _ = testEnv(pm, nil)
	if err := run(e, []string{"-j", "endpoint", "show"}); err != nil {
		t.Fatal(err)
	}
	want = `[{"address":"10.0.1.2","id":1,"subflow":true,"backup":true,"fullmesh":true,"dev":"wlan0"},` +
		`{"address":"10.0.2.2","port":1234,"id":7,"signal":true},{"address":"fd00::1","id":8,"subflow":true,"dev":"if99"}]` + "\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
}

func TestLimitsShowFormat(t *testing.T) {
	pm := &fakePM{limits: genl.Limits{Subflows: 2, AddAddrAccepted: 1}}
	e, out, _ := testEnv(pm, nil)
	if err := run(e, []string{"limits", "show"}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "add_addr_accepted 1 subflows 2 \n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConnectionShow(t *testing.T) {
	conns := []sockdiag.Conn{
		{Token: 0x84715662, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: 1,
			Subflows: []sockdiag.Subflow{
				{Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: 1, RTT: 1500 * time.Microsecond, RTTVar: 250 * time.Microsecond, RTO: 204 * time.Millisecond},
				{Local: netip.MustParseAddrPort("10.0.2.2:41000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201"), State: 1, LocID: 5, Backup: true, IfIndex: 4, TotalRetrans: 3},
			}},
		{Token: 0x1, Local: netip.MustParseAddrPort("[fd00:3::2]:5201"), Remote: netip.MustParseAddrPort("[fd00:1::2]:40001"), State: 10},
	}
	e, out, _ := testEnv(&fakePM{}, conns)
	if err := run(e, strings.Fields("connection show")); err != nil {
		t.Fatal(err)
	}
	want := "token 84715662 10.0.1.2:40000 -> 10.0.3.2:5201 ESTAB uid 0 subflows 2\n" +
		"\tsubflow 10.0.1.2:40000 -> 10.0.3.2:5201 ESTAB locid 0 remid 0 rtt 1.500ms/0.250ms rto 204.000ms retrans 0/0 lost 0\n" +
		"\tsubflow 10.0.2.2:41000 -> 10.0.3.2:5201 ESTAB locid 5 remid 0 rtt 0.000ms/0.000ms rto 0.000ms retrans 0/3 lost 0 backup dev wwan0\n" +
		"token 00000001 [fd00:3::2]:5201 -> [fd00:1::2]:40001 LISTEN uid 0 subflows 0\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	e, out, _ = testEnv(&fakePM{}, conns)
	if err := run(e, strings.Fields("-j connection show token 00000001")); err != nil {
		t.Fatal(err)
	}
	want = `[{"token":"00000001","local":"[fd00:3::2]:5201","remote":"[fd00:1::2]:40001","state":"LISTEN","uid":0,"inode":0,"subflows":[]}]` + "\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		arg, want string
		ok        bool
	}{
		{"endp", "endpoint", true}, {"e", "endpoint", true}, {"sh", "show", true}, {"del", "delete", true},
		{"", "", false}, {"endpoints", "", false}, {"x", "", false},
	} {
		got, ok := match(tt.arg, "endpoint", "delete", "show")
		if got != tt.want || ok != tt.ok {
			t.Errorf("match(%q) = %q, %v; want %q, %v", tt.arg, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzRun feeds arbitrary command lines to the parser: it must never
// panic, and a command that reaches the fake kernel must have parsed.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"endpoint add 10.0.1.2 dev wlan0 subflow backup", "subflow add token 1 local 10.0.2.2 id 5 remote 10.0.3.2 port 5201",
		"subflow set token 1 local 10.0.2.2 port 4444 remote 10.0.3.2 port 80 backup", "announce fd00::1 id 5 token 0xdeadbeef port 1",
		"limits set subflows 2", "remove id 0 token 1", "-j connection show", "endpoint change id 3 nobackup fullmesh",
		"endpoint delete id 0 ::ffff:10.0.0.1", "-n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		pm := &fakePM{}
		e, _, _ := testEnv(pm, nil)
		e.netns = ""
		args := strings.Fields(line)
		for i, a := range args {
			if a == "-n" || a == "--netns" || strings.HasPrefix(a, "--netns=") || a == "-netns" {
				return // a namespace file on the host
			}
			if !strings.HasPrefix(a, "-") {
				// Objects that act on the host itself: run executes
				// programs, daemon starts one, status and reload talk to
				// one, policy reads files.
				if o, ok := match(args[i], objectNames()...); ok && slices.Contains([]string{"run", "daemon", "status", "reload", "policy"}, o) {
					return
				}
				break
			}
		}
		_ = run(e, args)
	})
}

// fakeEvents hands out the events of its channel, then blocks until the
// read deadline is set.
type fakeEvents struct {
	evs      chan []genl.Event
	deadline chan struct{}
}

func (f *fakeEvents) Receive() ([]genl.Event, error) {
	select {
	case evs := <-f.evs:
		return evs, nil
	case <-f.deadline:
		return nil, errors.New("deadline")
	}
}
func (f *fakeEvents) SetReadDeadline(time.Time) error { close(f.deadline); return nil }
func (f *fakeEvents) Close() error                    { return nil }

type fakeProbes struct{ ch chan bpf.Event }

func (f *fakeProbes) Events() <-chan bpf.Event { return f.ch }
func (f *fakeProbes) Close() error             { return nil }

func TestMonitorQuality(t *testing.T) {
	for _, tc := range []struct {
		json bool
		want string
	}{
		{false, "[             RTO] token=84715662 locid=0 remid=0 saddr=10.0.1.2:40000 daddr=10.0.3.2:5201 srtt=0.050ms rtos=1 retrans=2 lost=1\n" +
			"[           STATE] token=84715662 locid=0 remid=0 saddr=10.0.1.2:40000 daddr=10.0.3.2:5201 state=ESTAB->UNCONN srtt=0.050ms rtos=1 retrans=2 lost=1\n"},
		{true, `{"type":"RTO","token":"84715662","local":"10.0.1.2:40000","remote":"10.0.3.2:5201","locid":0,"remid":0,"state":"ESTAB","srtt_us":50,"rtos":1,"total_retrans":2,"lost":1}` + "\n" +
			`{"type":"STATE","token":"84715662","local":"10.0.1.2:40000","remote":"10.0.3.2:5201","locid":0,"remid":0,"state":"UNCONN","old_state":"ESTAB","srtt_us":50,"rtos":1,"total_retrans":2,"lost":1}` + "\n"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		e, _, _ := testEnv(&fakePM{}, nil)
		out := &syncBuffer{}
		e.ctx, e.stdout = ctx, out
		ev := &fakeEvents{evs: make(chan []genl.Event), deadline: make(chan struct{})}
		pr := &fakeProbes{ch: make(chan bpf.Event)}
		e.dialEvents = func(*env) (eventSource, error) { return ev, nil }
		e.dialProbes = func(*env) (probeSource, error) { return pr, nil }
		args := []string{"monitor", "qual"}
		if tc.json {
			args = append([]string{"-j"}, args...)
		}
		done := make(chan error, 1)
		go func() { done <- run(e, args) }()
		key := bpf.Key{Token: tok, Local: netip.MustParseAddrPort("10.0.1.2:40000"), Remote: netip.MustParseAddrPort("10.0.3.2:5201")}
		m := bpf.Metrics{SRTT: 50 * time.Microsecond, RTOs: 1, TotalRetrans: 2, Lost: 1}
		pr.ch <- bpf.Event{Kind: bpf.EventRTO, Key: key, Metrics: m, State: 1, OldState: 1}
		pr.ch <- bpf.Event{Kind: bpf.EventState, Key: key, Metrics: m, State: 7, OldState: 1}
		// Let the last line be written, then stop.
		deadline := time.Now().Add(2 * time.Second)
		for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("monitor: %v", err)
		}
		if diff := cmp.Diff(tc.want, out.String()); diff != "" {
			t.Errorf("json=%v (-want +got):\n%s", tc.json, diff)
		}
	}
}

const tok = 0x84715662

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func objectNames() []string {
	names := make([]string, len(objects))
	for i, o := range objects {
		names[i] = o.name
	}
	return names
}
