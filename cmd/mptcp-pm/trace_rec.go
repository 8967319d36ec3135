package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
)

// A recording is what `connection trace -j` prints and `--from` reads: one
// JSON object per line, each with its "time". Three kinds of lines:
//
//   - a sample of the connection's subflows: {"type": "SAMPLE", "token",
//     "subflows": [...]}, written by connection trace;
//   - a decision of the daemon: {"decision": KIND, ...}, as monitor
//     decisions -j prints it;
//   - a kernel event: {"type": "SF_ESTABLISHED", "token", ...}, as monitor
//     -j prints it (and a quality event of monitor quality -j).

// sampleType is the "type" of a sample line.
const sampleType = "SAMPLE"

// traceSubflow is one subflow in a sample.
type traceSubflow struct {
	Local         string `json:"local"`
	Remote        string `json:"remote"`
	Dev           string `json:"dev,omitempty"`
	Backup        bool   `json:"backup"`
	BytesAcked    uint64 `json:"bytes_acked"`
	BytesReceived uint64 `json:"bytes_received"`
	RTTus         int64  `json:"rtt_us"`
	TotalRetrans  uint32 `json:"total_retrans"`
}

// traceSample is the connection's subflows at one time.
type traceSample struct {
	Time     time.Time      `json:"time"`
	Type     string         `json:"type"`
	Token    string         `json:"token"`
	Subflows []traceSubflow `json:"subflows"`
}

// traceMark is a decision or an event, marked on the picture.
type traceMark struct {
	Time     time.Time
	Token    string
	Text     string // without the token
	Decision bool
}

// recording is one connection's trace.
type recording struct {
	token   string
	samples []traceSample
	marks   []traceMark
}

// recLine is what every line of a recording has.
type recLine struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Event    string    `json:"event"` // a kernel event as monitor -j prints it (iproute2 7.1's key)
	Decision string    `json:"decision"`
	Token    string    `json:"token"`
}

// eventLine is what a mark shows of a kernel (or quality) event line.
type eventLine struct {
	Type   string  `json:"type"`  // --json-legacy
	Event  string  `json:"event"` // monitor -j
	Saddr4 string  `json:"saddr4"`
	Saddr6 string  `json:"saddr6"`
	Daddr4 string  `json:"daddr4"`
	Daddr6 string  `json:"daddr6"`
	Sport  *uint16 `json:"sport"`
	Dport  *uint16 `json:"dport"`
	Local  string  `json:"local"` // quality events
	Remote string  `json:"remote"`
	Error  *uint8  `json:"error"`
}

func (l eventLine) String() string {
	local, remote := l.Local, l.Remote
	if local == "" {
		local = hostPort(l.Saddr4+l.Saddr6, l.Sport)
		remote = hostPort(l.Daddr4+l.Daddr6, l.Dport)
	}
	s := cmp.Or(l.Event, l.Type)
	if local != "" {
		s += " " + local + " -> " + remote
	}
	if l.Error != nil && *l.Error != 0 {
		s += fmt.Sprintf(" error %d", *l.Error)
	}
	return s
}

func hostPort(addr string, port *uint16) string {
	if addr == "" {
		return ""
	}
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	if port == nil {
		return addr
	}
	return fmt.Sprintf("%s:%d", addr, *port)
}

// readRecording reads a recording from r (named name in errors), keeping
// the lines of connection token ("" when the recording has one
// connection only).
func readRecording(r io.Reader, name, token string) (*recording, error) {
	rec := &recording{token: token}
	tokens := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := rec.add(line, tokens); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if rec.token == "" {
		switch ts := slices.Sorted(maps.Keys(tokens)); len(ts) {
		case 0:
			return nil, fmt.Errorf("%s: no connection in the recording", name)
		case 1:
			rec.token = ts[0]
		default:
			return nil, fmt.Errorf("%s: %d connections in the recording (%s): choose one with token TOKEN", name, len(ts), strings.Join(ts, ", "))
		}
	}
	rec.keep(rec.token)
	if len(rec.samples) == 0 && len(rec.marks) == 0 {
		return nil, fmt.Errorf("%s: nothing recorded of connection %s", name, rec.token)
	}
	return rec, nil
}

// add takes in one line; tokens collects the connections seen.
func (rec *recording) add(line []byte, tokens map[string]bool) error {
	var h recLine
	if err := json.Unmarshal(line, &h); err != nil {
		return fmt.Errorf("not a JSON object of a recording: %w", err)
	}
	if h.Time.IsZero() {
		return fmt.Errorf("no \"time\" (a recording is made with -j by connection trace or a monitor that stamps its lines)")
	}
	if h.Token == "" {
		return nil // a line of no connection (a dropped count, a listener)
	}
	// monitor -j names a kernel event under "event" and writes its token
	// as "0x…" (as ip -j mptcp monitor does); --json-legacy, the samples
	// and the decisions use "type" and eight hex digits.
	h.Type = cmp.Or(h.Type, h.Event)
	if t, ok := strings.CutPrefix(h.Token, "0x"); ok {
		if v, err := strconv.ParseUint(t, 16, 32); err == nil {
			h.Token = fmt.Sprintf("%08x", v)
		}
	}
	tokens[h.Token] = true
	switch {
	case h.Decision != "":
		var d control.Decision
		if err := json.Unmarshal(line, &d); err != nil {
			return fmt.Errorf("decision: %w", err)
		}
		d.Token = ""
		rec.marks = append(rec.marks, traceMark{Time: h.Time, Token: h.Token, Text: d.String(), Decision: true})
	case h.Type == sampleType:
		var s traceSample
		if err := json.Unmarshal(line, &s); err != nil {
			return fmt.Errorf("sample: %w", err)
		}
		rec.samples = append(rec.samples, s)
	case h.Type != "":
		var ev eventLine
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("event %s: %w", h.Type, err)
		}
		rec.marks = append(rec.marks, traceMark{Time: h.Time, Token: h.Token, Text: ev.String()})
	default:
		return fmt.Errorf("neither a sample, a decision nor an event (no \"type\" or \"decision\")")
	}
	return nil
}

// keep drops what is not of connection token, and sorts by time.
func (rec *recording) keep(token string) {
	rec.samples = slices.DeleteFunc(rec.samples, func(s traceSample) bool { return s.Token != token })
	rec.marks = slices.DeleteFunc(rec.marks, func(m traceMark) bool { return m.Token != token })
	slices.SortStableFunc(rec.samples, func(a, b traceSample) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(rec.marks, func(a, b traceMark) int { return a.Time.Compare(b.Time) })
}

// readRecordingFile is readRecording of a file.
func readRecordingFile(path, token string) (*recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRecording(f, path, token)
}
