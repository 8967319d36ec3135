package tests

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/tests/testbed"
)

// svgText parses an SVG with encoding/xml and returns its text and how
// many elements have each class.
func svgText(t *testing.T, path string) (string, map[string]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	classes := map[string]int{}
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					classes[a.Value]++
				}
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	return text.String(), classes
}

// checkTrace checks a trace's picture: both paths named, a line per
// subflow, and the handover marked.
func checkTrace(t *testing.T, path string) {
	t.Helper()
	text, classes := svgText(t, path)
	for _, w := range []string{"wlan0", "wwan0", "handover", "SF_ESTABLISHED"} {
		if !strings.Contains(text, w) {
			t.Errorf("%s names no %q; its text:\n%s", path, w, text)
		}
	}
	if classes["series"] < 2*3 || classes["mark"] == 0 {
		t.Errorf("%s: %d series lines and %d marks, want a line per subflow in each of 3 panels, and marks", path, classes["series"], classes["mark"])
	}
}

// A trace of a connection through a Wi-Fi cut draws both paths with the
// handover marked, live and again from its recording.
func TestIntegrationTraceHandover(t *testing.T) {
	t.Parallel()
	tb, d, _ := newDaemonBed(t, handoverConfig, nil)
	s := startStream(t, tb, testbed.ClientWifi4, netip.AddrPortFrom(testbed.Server4, 5201))
	c := d.conn(s.conn.LocalAddr(), activeOn("wlan0"))
	dir := t.TempDir()
	svg, html, rec := filepath.Join(dir, "trace.svg"), filepath.Join(dir, "trace.html"), filepath.Join(dir, "trace.jsonl")
	cmd := exec.Command(binary, "-n", tb.Client, "-j", "connection", "trace", "token", c.Token, "--for", "2500ms",
		"--svg", svg, "--html", html, "--control", d.control)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Its first sample comes once it reads the kernel and the daemon.
	var recording bytes.Buffer
	r := bufio.NewReader(out)
	first, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("trace: no first line: %v; stderr: %s", err, stderr.String())
	}
	recording.Write(first)
	time.Sleep(300 * time.Millisecond)
	tb.Impair(t, testbed.PathWifi, "cut")
	d.conn(s.conn.LocalAddr(), activeOn("wwan0"))
	if _, err := io.Copy(&recording, r); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil || stderr.Len() > 0 {
		t.Fatalf("trace: %v; stderr: %s", err, stderr.String())
	}
	s.wait(t)
	checkTrace(t, svg)
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Errorf("trace --html: %v, %.200q", err, b)
	}
	if err := os.WriteFile(rec, recording.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(recording.Bytes(), []byte(`"decision":"`+control.DecisionHandover+`"`)) {
		t.Errorf("the recording has no handover:\n%s", recording.String())
	}

	// From the recording, with no daemon nor kernel: the same picture.
	again := filepath.Join(dir, "again.svg")
	if b, err := exec.Command(binary, "connection", "trace", "--from", rec, "--svg", again).CombinedOutput(); err != nil {
		t.Fatalf("trace --from: %v: %s", err, b)
	}
	checkTrace(t, again)
}
