package tests

// End-to-end tests of the daemon against hostile local users and peers
// (issue 14): descriptor exhaustion through the control socket and the
// metrics listener, a FIFO in the policy directory, a link swapped in for
// the control socket, a --control path that is not a socket, requests
// with keys in another case, and announcements of local addresses.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// openFDs counts the open descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// statusWithin asks for the daemon's status, retrying for up to timeout.
func statusWithin(d *daemonProc, timeout time.Duration) error {
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = control.Query(ctx, d.control, control.QueryStatus)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// TestIntegrationDaemonDescriptorExhaustion: with few descriptors left
// (RLIMIT_NOFILE lowered), clients that hold connections to the metrics
// listener and to the control socket never make the daemon exit. Metrics
// clients take at most 16 descriptors, and idle ones (before a request
// and between keep-alive requests) are closed; control clients beyond the
// descriptors are accepted once the silent ones time out; clients beyond
// 64 are told the daemon is busy. The daemon answers status throughout.
func TestIntegrationDaemonDescriptorExhaustion(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startDaemonWith(t, tb.Client, writeConfig(t, dpConfig("single", ""), nil), "--quality", "off", "--metrics", addr)
	pid := d.cmd.Process.Pid
	scrapeMetrics(t, addr) // the listener is up
	var orig unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &orig); err != nil {
		t.Fatal(err)
	}
	base := openFDs(t, pid)
	// The soft limit only: raising it again needs no privilege.
	lim := unix.Rlimit{Cur: uint64(base + 24), Max: orig.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon: %d descriptors open, RLIMIT_NOFILE lowered to %d", base, lim.Cur)

	// Metrics: a keep-alive client that idles after its request, then
	// 100 clients that send nothing.
	keep, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	if _, err := fmt.Fprintf(keep, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
		t.Fatal(err)
	}
	keepClosed := make(chan error, 1)
	go func() {
		_ = keep.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.Copy(io.Discard, keep) // returns at EOF: the daemon closed it
		keepClosed <- err
	}()
	var idle []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial metrics: %v", err)
		}
		idle = append(idle, c)
	}
	time.Sleep(500 * time.Millisecond) // all that will be accepted are
	if n := openFDs(t, pid); n > base+16+2 {
		t.Errorf("with 100 idle metrics clients the daemon has %d descriptors open, want at most %d (%d before, 16 clients)", n, base+18, base)
	}
	if err := statusWithin(d, 3*time.Second); err != nil {
		t.Fatalf("status while metrics clients are held: %v", err)
	}
	_ = idle[0].SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("an idle metrics client: read %v, want EOF (closed by the daemon)", err)
	}
	select {
	case err := <-keepClosed:
		if err != nil {
			t.Errorf("the idle keep-alive metrics client: %v, want closed by the daemon", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the idle keep-alive metrics client is still open after 30 s")
	}
	for _, c := range idle {
		c.Close()
	}
	// The clients in the backlog are accepted and see EOF at once.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape within 10 s of the idle clients leaving: %v", err)
		}
	}

	// Control: 200 silent clients, more than the descriptors left.
	var silent []net.Conn
	for range 200 {
		c, err := net.Dial("unix", d.control)
		if err != nil {
			t.Fatalf("dial control: %v", err)
		}
		silent = append(silent, c)
	}
	if !d.waitLog("control socket: accept failed; retrying", 5*time.Second) || !strings.Contains(d.log.String(), "too many open files") {
		t.Fatalf("the daemon never ran out of descriptors (no EMFILE in its log): the test tests nothing")
	}
	// Each gets its "no complete line" reply in turn (2 s per batch).
	for i, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, "no complete line") {
			t.Fatalf("silent control client %d: %q, %v", i, line, err)
		}
		c.Close()
	}
	if err := statusWithin(d, 5*time.Second); err != nil {
		t.Fatalf("status after the silent clients: %v", err)
	}
	if !alive(pid) {
		t.Fatalf("the daemon exited:\n%s", d.log.String())
	}

	// With descriptors enough, the 65th client on is told to come back.
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &orig, nil); err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	for range 64 {
		c, err := net.Dial("unix", d.control)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond) // all 64 accepted
	c, err := net.Dial("unix", d.control)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if want := `{"error":"busy: 64 clients are being served; try again"}` + "\n"; line != want {
		t.Errorf("65th control client: %q, %v; want %q at once", line, err, want)
	}
	for _, c := range held {
		c.Close()
	}
	if err := statusWithin(d, 5*time.Second); err != nil {
		t.Fatalf("status at the end: %v", err)
	}
}

// TestIntegrationDaemonPolicyFIFO: a FIFO in the policy directory, there
// at start or added before a reload, is skipped with a warning naming it;
// the daemon starts, reloads, answers status and stops on SIGTERM (the
// cleanup checks). policy check reports a FIFO as not a regular file.
func TestIntegrationDaemonPolicyFIFO(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, dpConfig("single", ""), map[string]string{
		"10-voice.yaml": dpPolicy("voice", "{ ports: [5060] }", "handover", ""),
	})
	fifo := filepath.Join(dir, "policies.d", "20-fifo.yaml")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, tb.Client, dir)
	if !d.waitLog("policy file skipped", time.Second) || !strings.Contains(d.log.String(), fifo+": not a regular file (a FIFO)") {
		t.Errorf("no warning naming %s in the daemon's log", fifo)
	}
	names := func() []string {
		var out []string
		for _, p := range d.status().Policies {
			out = append(out, p.Name)
		}
		return out
	}
	if got := names(); !strings.Contains(strings.Join(got, ","), "voice") {
		t.Errorf("policies %v, want voice among them", got)
	}

	late := filepath.Join(dir, "policies.d", "30-late.yaml")
	if err := unix.Mkfifo(late, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies.d", "15-video.yaml"), []byte(dpPolicy("video", "{ ports: [8080] }", "aggregate", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, "", "reload", "--control", d.control); r.code != 0 {
		t.Fatalf("reload: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(d.log.String(), late+": not a regular file (a FIFO)") {
		t.Errorf("no warning naming %s in the daemon's log after the reload", late)
	}
	if got := strings.Join(names(), ","); !strings.Contains(got, "voice") || !strings.Contains(got, "video") {
		t.Errorf("policies after the reload %v, want voice and video among them", got)
	}
	d.hup()
	if err := statusWithin(d, 5*time.Second); err != nil {
		t.Fatalf("status after SIGHUP: %v", err)
	}

	r := cli(t, "", "policy", "check", fifo)
	if r.code == 0 || !strings.Contains(r.stderr, fifo+": not a regular file (a FIFO)") {
		t.Errorf("policy check of a FIFO: exit %d, stderr %q", r.code, r.stderr)
	}
}

// runDaemonOnce runs the daemon in ns with the configuration in dir and
// --control path until it exits or for up to timeout (then it is
// stopped), and returns its exit code (-1 if stopped) and output.
func runDaemonOnce(t *testing.T, ns, dir, path string, timeout time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-n", ns, "daemon", "-c", filepath.Join(dir, "config.yaml"),
		"--set-pm-type", "--quality", "off", "--control", path)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return -1, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("daemon: %v", err)
	}
	return 0, string(out)
}

// TestIntegrationControlPathNotSocket: --control naming a regular file or
// an empty directory is refused with an error naming it, which is left as
// it was; a file put in the socket's place while the daemon runs is not
// removed when it stops.
func TestIntegrationControlPathNotSocket(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, dpConfig("single", ""), nil)
	file := filepath.Join(t.TempDir(), "important")
	if err := os.WriteFile(file, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runDaemonOnce(t, tb.Client, dir, file, 10*time.Second)
	if code != 1 || !strings.Contains(out, file+" exists and is not a socket (a regular file)") {
		t.Errorf("--control on a regular file: exit %d, output:\n%s", code, out)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me\n" {
		t.Errorf("the regular file after the refused start: %q, %v", b, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out = runDaemonOnce(t, tb.Client, dir, empty, 10*time.Second)
	if code != 1 || !strings.Contains(out, empty+" exists and is not a socket (a directory)") {
		t.Errorf("--control on an empty directory: exit %d, output:\n%s", code, out)
	}
	if fi, err := os.Stat(empty); err != nil || !fi.IsDir() {
		t.Errorf("the empty directory after the refused start: %v", err)
	}

	// Replaced while the daemon runs: left alone at exit.
	d := startDaemon(t, tb.Client, dir)
	theirs := d.control + ".theirs"
	if err := os.WriteFile(theirs, []byte("theirs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(theirs, d.control); err != nil {
		t.Fatal(err)
	}
	d.stop()
	if b, err := os.ReadFile(d.control); err != nil || string(b) != "theirs\n" {
		t.Errorf("the file put in the socket's place, after the daemon stopped: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(d.control)); len(ents) != 3 { // config.yaml, policies.d, control.sock
		t.Errorf("left in the control socket's directory: %v", ents)
	}
}

// TestIntegrationControlSocketLinkSwap: a user who may write to the
// control socket's directory swaps a symbolic link to a root-only file in
// for the socket the moment it appears; the daemon's chown and chmod must
// not reach that file. A few attempts, as the swap is a race.
func TestIntegrationControlSocketLinkSwap(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	dir := writeConfig(t, dpConfig("single", "control_group: nogroup\n"), nil)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	attack := t.TempDir() // the user's directory
	if err := os.Chmod(attack, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(attack, "control.sock")
	for attempt := range 5 {
		swapped := swapOnCreate(t, attack, "control.sock", secret)
		cmd := exec.Command(binary, "-n", tb.Client, "daemon", "-c", filepath.Join(dir, "config.yaml"),
			"--set-pm-type", "--quality", "off", "--control", path)
		log := &lockedLog{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-swapped:
		case <-time.After(10 * time.Second):
			t.Fatalf("attempt %d: no socket appeared at %s; log:\n%s", attempt, path, log)
		}
		time.Sleep(500 * time.Millisecond) // what the daemon does after the bind
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		fi, err := os.Stat(secret)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Gid != 0 || st.Uid != 0 {
			t.Fatalf("attempt %d: the file behind the link is now mode %v owner %d:%d, want 0600 0:0; log:\n%s",
				attempt, fi.Mode(), st.Uid, st.Gid, log)
		}
		if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSymlink {
			t.Errorf("attempt %d: the user's link was removed: %v", attempt, err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(attack); len(ents) != 0 {
			t.Fatalf("attempt %d: left in the directory: %v", attempt, ents)
		}
	}
}

// swapOnCreate watches dir and, as soon as name is created or moved in,
// renames a symbolic link to target over it. The channel is closed once
// it did.
func swapOnCreate(t *testing.T, dir, name, target string) <-chan struct{} {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	link := filepath.Join(dir, ".link-"+name)
	if err := os.Symlink(target, link); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer unix.Close(fd)
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				raw := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if string(bytes.TrimRight(raw, "\x00")) == name {
					_ = os.Rename(link, filepath.Join(dir, name))
					close(done)
					return
				}
			}
		}
	}()
	return done
}

// TestIntegrationControlStrictKeys: a request whose keys differ from the
// protocol's only in case is refused, naming the key, and does nothing
// (encoding/json would have taken "Query" for "query": a reload).
func TestIntegrationControlStrictKeys(t *testing.T) {
	t.Parallel()
	tb := testbed.New(t)
	d := startDaemon(t, tb.Client, writeConfig(t, dpConfig("single", ""), nil))
	for _, c := range []struct{ req, want string }{
		{`{"query":"status","Query":"reload"}`, `{"error":"bad request: unknown key \"Query\" (want \"query\", \"brief\", \"explain\" or \"netns_inode\")"}`},
		{`{"QUERY":"reload"}`, `{"error":"bad request: unknown key \"QUERY\" (want \"query\", \"brief\", \"explain\" or \"netns_inode\")"}`},
		{`{"query":"status","query":"reload"}`, `{"error":"bad request: key \"query\" given twice"}`},
	} {
		conn, err := net.Dial("unix", d.control)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte(c.req + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err != nil || line != c.want+"\n" {
			t.Errorf("%s: reply %q, %v; want %q", c.req, line, err, c.want)
		}
	}
	if strings.Contains(d.log.String(), "policies reloaded") {
		t.Errorf("a refused request reloaded the policies:\n%s", d.log.String())
	}
	// The exact keys work.
	conn, err := net.Dial("unix", d.control)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(`{"query":"status","brief":true}` + "\n")); err != nil {
		t.Fatal(err)
	}
	var r control.Reply
	if err := json.NewDecoder(conn).Decode(&r); err != nil || r.Error != "" || r.Status == nil {
		t.Errorf("exact keys: %+v, %v", r, err)
	}
}

// TestIntegrationDaemonAnnouncedLocal: with accept_announcements, the
// peer's announcements of a loopback address and of the client's own
// address are never followed; a routable one announced after them is.
func TestIntegrationDaemonAnnouncedLocal(t *testing.T) {
	t.Parallel()
	tb, d, ms := newDaemonBed(t, dpConfig("aggregate", ""), map[string]string{
		"accept.yaml": dpPolicy("accept", "{ ports: [5202] }", "aggregate", "accept_announcements: true\n"),
	})
	go func() {
		for range ms.events {
		}
	}()
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5202))
	both := []string{testbed.WifiDev, testbed.CellDev}
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5202))
	local := testutil.AddrPort(t, s.conn.LocalAddr()).String()
	d.conn(s.conn.LocalAddr(), dpIs("accept", "aggregate", both...))
	tok := dpServerToken(t, ms, uint16(s.conn.LocalAddr().(*net.TCPAddr).Port))

	mustCLI(t, tb.Server, "announce", "127.0.0.1", "id", "6", "token", tok)
	mustCLI(t, tb.Server, "announce", testbed.ClientCell4.String(), "id", "7", "token", tok)
	mustCLI(t, tb.Server, "announce", testbed.Server4b.String(), "id", "5", "token", tok)
	want := []string{"wlan0 -> 10.0.3.2:5202", "wlan0 -> 10.0.4.2:5202", "wwan0 -> 10.0.3.2:5202", "wwan0 -> 10.0.4.2:5202"}
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return strings.Join(dpRemotes(c), ",") == strings.Join(want, ",") })
	time.Sleep(300 * time.Millisecond)
	bad := []string{"-> 127.0.0.1:", "-> " + testbed.ClientCell4.String() + ":"}
	sfs, _ := dpKernelSubflows(t, tb.Client, local)
	for _, sf := range sfs {
		for _, b := range bad {
			if strings.Contains(sf, b) {
				t.Errorf("kernel: subflow to a local address: %q", sf)
			}
		}
	}
	for _, l := range strings.Split(d.log.String(), "\n") {
		for _, b := range bad {
			if strings.Contains(l, "create-subflow") && strings.Contains(l, b) {
				t.Errorf("daemon: a subflow to a local address was asked for: %s", l)
			}
		}
	}
	log := d.log.String()
	for _, w := range []string{"why=loopback", `why="an address of this host (wwan0)"`} {
		if !strings.Contains(log, "peer announcement refused") || !strings.Contains(log, w) {
			t.Errorf("no \"peer announcement refused\" line with %s in the daemon's log", w)
		}
	}
	t.Logf("stream: %v", s.wait(t))
}

// TestIntegrationDaemonAnnouncementsFrom: a policy's announcements_from
// keeps the client off announced addresses outside its prefixes; a reload
// to prefixes that take the address joins it, and one back leaves it.
func TestIntegrationDaemonAnnouncementsFrom(t *testing.T) {
	t.Parallel()
	accept := func(prefix string) string {
		return dpPolicy("accept", "{ ports: [5202] }", "aggregate", "accept_announcements: true\nannouncements_from: ["+prefix+"]\n")
	}
	tb, d, ms := newDaemonBed(t, dpConfig("aggregate", ""), map[string]string{"accept.yaml": accept("10.0.9.0/24")})
	go func() {
		for range ms.events {
		}
	}()
	echoServer(t, tb.Server, netip.AddrPortFrom(netip.IPv4Unspecified(), 5202))
	both := []string{testbed.WifiDev, testbed.CellDev}
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5202))
	local := testutil.AddrPort(t, s.conn.LocalAddr()).String()
	d.conn(s.conn.LocalAddr(), dpIs("accept", "aggregate", both...))
	tok := dpServerToken(t, ms, uint16(s.conn.LocalAddr().(*net.TCPAddr).Port))

	mustCLI(t, tb.Server, "announce", testbed.Server4b.String(), "id", "5", "token", tok)
	if !d.waitLog("peer announcement ignored (not in announcements_from)", 5*time.Second) {
		t.Fatalf("no \"not in announcements_from\" line in the daemon's log")
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		sfs, _ := dpKernelSubflows(t, tb.Client, local)
		for _, sf := range sfs {
			if strings.Contains(sf, "-> "+testbed.Server4b.String()+":") {
				t.Fatalf("kernel: subflow to an address outside announcements_from: %q", sfs)
			}
		}
	}

	reload := func(prefix string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(d.dir, "policies.d", "accept.yaml"), []byte(accept(prefix)), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := cli(t, "", "reload", "--control", d.control); r.code != 0 {
			t.Fatalf("reload: exit %d, stderr %q", r.code, r.stderr)
		}
	}
	reload("10.0.4.0/24")
	all := "wlan0 -> 10.0.3.2:5202,wlan0 -> 10.0.4.2:5202,wwan0 -> 10.0.3.2:5202,wwan0 -> 10.0.4.2:5202"
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return strings.Join(dpRemotes(c), ",") == all })
	dpKernelSubflowCount(t, tb.Client, local, 4, 300*time.Millisecond)

	reload("10.0.9.0/24")
	first := "wlan0 -> 10.0.3.2:5202,wwan0 -> 10.0.3.2:5202"
	d.conn(s.conn.LocalAddr(), func(c control.ConnStatus) bool { return strings.Join(dpRemotes(c), ",") == first })
	t.Logf("stream: %v", s.wait(t))
}
