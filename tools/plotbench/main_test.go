package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a small benchmark result in the shape
// tests/bench_handover_test.go writes: keys in name order (as
// json.MarshalIndent writes a map), a failed run, an unknown impairment,
// the download and jitter workloads (not drawn).
const fixture = `{
  "blackhole": [
    {"name": "kernel PM, cellular endpoint backup", "median_ms": 430, "ratio_to_kernel_backup": 1, "runs_ms": [434.4, 427.1, 430]},
    {"name": "mptcp-pm handover", "median_ms": 138.4, "ratio_to_kernel_backup": 0.32, "runs_ms": [129.2, 138.4]}
  ],
  "cut": [
    {"name": "kernel PM, cellular endpoint backup", "median_ms": 426.4, "ratio_to_kernel_backup": 1, "runs_ms": [426.4, 434.9, 426.1]},
    {"name": "kernel PM, cellular endpoint subflow (both active)", "median_ms": 213.5, "ratio_to_kernel_backup": 0.5, "runs_ms": [220.1, 212, 213.5]},
    {"name": "mptcp-pm handover", "median_ms": 11.5, "ratio_to_kernel_backup": 0.027, "runs_ms": [11.5, 10.9], "failed_runs": ["lost record 17 <&>"]}
  ],
  "download": {"cut": [{"name": "mptcp-pm handover", "median_gap_ms": 302, "runs_gap_ms": [302]}]},
  "flap": [
    {"name": "mptcp-pm handover", "median_ms": 50, "ratio_to_kernel_backup": 0, "runs_ms": [50]}
  ],
  "jitter": [{"name": "mptcp-pm handover", "median_handovers": 0, "runs": [{"handovers": 0}]}],
  "runs": 3
}`

// element is what the test reads back of the SVG.
type element struct {
	name, class string
	text        string
}

func elements(t *testing.T, svg string) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var els []element
	var stack []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse as XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local}
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					e.class = a.Value
				}
			}
			stack = append(stack, len(els))
			els = append(els, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].text += string(tok)
			}
		}
	}
	return els
}

func TestPlot(t *testing.T) {
	res, err := parse(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range res.Panels {
		order = append(order, p.Impairment)
	}
	if got, want := strings.Join(order, " "), "cut blackhole flap"; got != want {
		t.Errorf("panels: got %q, want %q", got, want)
	}
	var b strings.Builder
	if err := plot(&b, res, "measured on <a test>"); err != nil {
		t.Fatal(err)
	}
	els := elements(t, b.String())
	if els[0].name != "svg" {
		t.Errorf("root element %q, want svg", els[0].name)
	}
	var bars, runs int
	var texts []string
	for _, e := range els {
		switch {
		case e.name == "rect" && e.class == "bar":
			bars++
		case e.name == "circle" && e.class == "run":
			runs++
		case e.name == "text":
			texts = append(texts, e.text)
		}
	}
	if bars != 6 {
		t.Errorf("%d bars, want one per row: 6", bars)
	}
	if runs != 14 {
		t.Errorf("%d run dots, want one per run: 14", runs)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{
		"Wi-Fi link down (cut)", "Wi-Fi blackhole", "Wi-Fi flap", // titles
		"kernel PM, cellular endpoint subflow (both active)",         // legend and labels
		"11.5 ms  (0.027×)  1 failed", "426 ms  (1.000×)", "50.0 ms", // medians
		"longest stall (ms)", "median of 3 runs", "measured on <a test>",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q in the SVG; texts:\n%s", want, all)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "b.json"), filepath.Join(dir, "b.svg")
	if err := os.WriteFile(in, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out, ""); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	elements(t, string(svg))

	for name, bad := range map[string]string{"empty": `{"runs": 3}`, "not JSON": `runs`, "bad rows": `{"cut": 3}`} {
		if err := os.WriteFile(in, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := run(in, out, ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
