package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordingFixture has two connections' lines of every kind: samples,
// a decision, a kernel event, a quality event, a dropped count.
const recordingFixture = `{"time":"2026-12-06T10:16:00.4Z","type":"SAMPLE","token":"5b06d65d","subflows":[{"local":"10.0.1.2:33853","remote":"10.0.3.2:5201","dev":"wlan0","backup":false,"bytes_acked":2301,"bytes_received":2300,"rtt_us":182,"total_retrans":0}]}
{"time":"2026-12-06T10:16:00.5Z","type":"SAMPLE","token":"5b06d65d","subflows":[{"local":"10.0.1.2:33853","remote":"10.0.3.2:5201","dev":"wlan0","backup":false,"bytes_acked":3301,"bytes_received":3300,"rtt_us":246,"total_retrans":1}]}
{"time":"2026-12-06T10:16:00.55Z","decision":"handover","token":"5b06d65d","from":"wlan0","to":"wwan0","local":"10.0.2.2","reason":"wlan0 link down","took_ms":0.687}
{"time":"2026-12-06T10:16:00.56Z","type":"SF_ESTABLISHED","token":"5b06d65d","family":2,"remid":0,"locid":1,"saddr4":"10.0.2.2","daddr4":"10.0.3.2","sport":36193,"dport":5201}
{"time":"2026-12-06T10:16:00.57Z","type":"RTO","token":"5b06d65d","local":"10.0.1.2:33853","remote":"10.0.3.2:5201","srtt_us":50}
{"time":"2026-12-06T10:16:00.6Z","type":"SAMPLE","token":"5b06d65d","subflows":[{"local":"10.0.2.2:36193","remote":"10.0.3.2:5201","dev":"wwan0","backup":false,"bytes_acked":100,"bytes_received":100,"rtt_us":200,"total_retrans":0}]}
{"time":"2026-12-06T10:16:00.6Z","decision":"dropped","dropped":3,"dropped_total":3}
{"time":"2026-12-06T10:16:00.7Z","type":"CREATED","token":"00000001","family":2}
`

func TestReadRecording(t *testing.T) {
	_, err := readRecording(strings.NewReader(recordingFixture), "rec", "")
	if err == nil || err.Error() != "rec: 2 connections in the recording (00000001, 5b06d65d): choose one with token TOKEN" {
		t.Errorf("two connections, no token: %v", err)
	}
	rec, err := readRecording(strings.NewReader(recordingFixture), "rec", "5b06d65d")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.samples) != 3 || len(rec.marks) != 3 {
		t.Fatalf("%d samples and %d marks, want 3 and 3", len(rec.samples), len(rec.marks))
	}
	want := []string{"handover wlan0 -> wwan0 took 0.7ms: wlan0 link down", "SF_ESTABLISHED 10.0.2.2:36193 -> 10.0.3.2:5201",
		"RTO 10.0.1.2:33853 -> 10.0.3.2:5201"}
	for i, m := range rec.marks {
		if m.Text != want[i] || m.Decision != (i == 0) {
			t.Errorf("mark %d: %+v, want %q", i, m, want[i])
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`{"type":"SAMPLE","token":"1"}`, `rec:1: no "time" (a recording is made with -j by connection trace or a monitor that stamps its lines)`},
		{"{\"time\":\"2026-12-06T10:16:00Z\",\"token\":\"1\"}\nnot json", `rec:1: neither a sample, a decision nor an event (no "type" or "decision")`},
		{"\n{\"time\":\"2026-12-06T10:16:00Z\"}\n[", `rec:3: not a JSON object of a recording: unexpected end of JSON input`},
		{"", "rec: no connection in the recording"},
	} {
		if _, err := readRecording(strings.NewReader(tc.in), "rec", ""); err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.in, err, tc.want)
		}
	}
}

// A kernel event line is read as monitor -j prints it (the name under
// "event", the token as "0x…") and as --json-legacy does.
func TestRecordingEventForms(t *testing.T) {
	in := `{"time":"2026-12-06T10:00:00.000000Z","event":"CREATED","token":"0x5b06d65d","saddr4":"10.0.1.2","daddr4":"10.0.3.2","sport":33853,"dport":5201}
{"time":"2026-12-06T10:00:01Z","type":"CLOSED","token":"5b06d65d"}
`
	rec, err := readRecording(strings.NewReader(in), "rec", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range rec.marks {
		got = append(got, m.Token+" "+m.Text)
	}
	if want := []string{"5b06d65d CREATED 10.0.1.2:33853 -> 10.0.3.2:5201", "5b06d65d CLOSED"}; !slices.Equal(got, want) {
		t.Errorf("marks %q, want %q", got, want)
	}
}

// connection trace --from draws valid SVG and HTML naming both paths.
func TestTraceFrom(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rec.jsonl")
	if err := os.WriteFile(in, []byte(recordingFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	svg, html := filepath.Join(dir, "t.svg"), filepath.Join(dir, "t.html")
	cli(t, "connection", "trace", "token", "5b06d65d", "--from", in, "--svg", svg, "--html", html)
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
		}
	}
	for _, w := range []string{"wlan0 10.0.1.2:33853", "wwan0 10.0.2.2:36193", "handover wlan0 -> wwan0"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("the SVG names no %q", w)
		}
	}
	if h, err := os.ReadFile(html); err != nil || !strings.Contains(string(h), "<svg") || strings.Contains(string(h), "<?xml") {
		t.Errorf("HTML: %v\n%.300s", err, h)
	}
}
