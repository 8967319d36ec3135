// Command plotbench draws the handover benchmark's results
// (scripts/bench-handover.sh -o FILE) as an SVG bar chart: one panel per
// impairment, one bar per path manager at its median stall, every run as a
// dot. It uses the standard library only.
//
//	go run ./tools/plotbench -i docs/handover-benchmark.json -o docs/handover-benchmark.svg [-note TEXT]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	svg "github.com/mptcp-pm/mptcp-pm/internal/plot"
)

// row is one path manager's result, as tests/bench_handover_test.go writes it.
type row struct {
	Name     string    `json:"name"`
	MedianMS float64   `json:"median_ms"`
	Ratio    float64   `json:"ratio_to_kernel_backup"`
	RunsMS   []float64 `json:"runs_ms"`
	Failed   []string  `json:"failed_runs"`
}

// results is the benchmark's JSON: {"runs": N, IMPAIRMENT: [rows], …}.
type results struct {
	Runs   int
	Panels []panel
}

type panel struct {
	Impairment string
	Rows       []row
}

// impairments are the known impairments in the order they are drawn, and
// their titles; others follow in name order.
var impairments = []struct{ key, title string }{
	{"cut", "Wi-Fi link down (cut)"},
	{"blackhole", "Wi-Fi blackhole: every packet dropped, link up"},
	{"loss", "Wi-Fi 30% random loss each way"},
}

func parse(r io.Reader) (*results, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	res := &results{}
	if v, ok := raw["runs"]; ok {
		if err := json.Unmarshal(v, &res.Runs); err != nil {
			return nil, fmt.Errorf("runs: %w", err)
		}
		delete(raw, "runs")
	}
	// The download and jitter workloads' results (bench-handover.sh -w)
	// are not drawn.
	delete(raw, "download")
	delete(raw, "jitter")
	var keys []string
	for _, im := range impairments {
		if _, ok := raw[im.key]; ok {
			keys = append(keys, im.key)
		}
	}
	var other []string
	for k := range raw {
		if !slices.Contains(keys, k) {
			other = append(other, k)
		}
	}
	slices.Sort(other)
	for _, k := range append(keys, other...) {
		p := panel{Impairment: k}
		if err := json.Unmarshal(raw[k], &p.Rows); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if len(p.Rows) > 0 {
			res.Panels = append(res.Panels, p)
		}
	}
	if len(res.Panels) == 0 {
		return nil, fmt.Errorf("no results in the file")
	}
	return res, nil
}

func title(impairment string) string {
	for _, im := range impairments {
		if im.key == impairment {
			return im.title
		}
	}
	return "Wi-Fi " + impairment
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

var esc = svg.Esc

// Layout, in pixels.
const (
	width     = 1000
	labelW    = 360 // path manager names
	plotX     = labelW + 10
	plotW     = 500
	barH      = 24
	barGap    = 10
	panelHead = 34
	axisH     = 34
)

// plot writes the chart as SVG.
func plot(w io.Writer, res *results, note string) error {
	ch := &chart{}
	for _, p := range res.Panels {
		for _, r := range p.Rows {
			if !slices.Contains(ch.names, r.Name) {
				ch.names = append(ch.names, r.Name)
			}
		}
	}
	ch.head(res.Runs)
	for _, p := range res.Panels {
		ch.panel(p)
	}
	ch.foot(note)
	_, err := ch.WriteTo(w, width)
	return err
}

// chart is the SVG being drawn, top to bottom (ch.Y: the bottom of what
// is drawn so far).
type chart struct {
	svg.Canvas
	names []string // the path managers, in the order they first appear
}

// color is the colour of a path manager.
func (ch *chart) color(name string) string {
	return svg.Palette[slices.Index(ch.names, name)%len(svg.Palette)]
}

// head draws the title, the subtitle (runs: how many runs) and the legend.
func (ch *chart) head(runs int) {
	ch.Y += 30
	ch.Add(`<text x="%d" y="%d" font-size="20" font-weight="bold">Handover stall: the longest gap between two echoes, per path manager</text>`, 20, ch.Y)
	ch.Y += 22
	sub := "A 100-byte record every 10 ms, echoed; the Wi-Fi path is impaired at 3 s. Bar: median"
	if runs > 0 {
		sub += fmt.Sprintf(" of %d runs", runs)
	}
	sub += "; dots: the runs. Lower is better."
	ch.Add(`<text x="%d" y="%d" font-size="13" fill="#444">%s</text>`, 20, ch.Y, esc(sub))
	ch.Y += 16
	legendRows := (len(ch.names) + 1) / 2
	for i, n := range ch.names {
		lx := 20 + (i%2)*480
		ly := ch.Y + 8 + (i/2)*20
		ch.Add(`<rect x="%d" y="%d" width="14" height="14" fill="%s"/>`, lx, ly, ch.color(n))
		ch.Add(`<text x="%d" y="%d" font-size="13">%s</text>`, lx+20, ly+12, esc(n))
	}
	ch.Y += 8 + legendRows*20 + 4
	ch.Add(`<circle cx="%d" cy="%d" r="4" fill="#222" stroke="#fff" stroke-width="1"/>`, 27, ch.Y+7)
	ch.Add(`<text x="%d" y="%d" font-size="13">one run</text>`, 40, ch.Y+12)
	ch.Y += 24
}

// panel draws one impairment's panel: its title, the axis and a bar per
// path manager.
func (ch *chart) panel(p panel) {
	max := 0.0
	for _, r := range p.Rows {
		max = math.Max(max, r.MedianMS)
		for _, v := range r.RunsMS {
			max = math.Max(max, v)
		}
	}
	step := svg.NiceStep(max, 5)
	top := math.Ceil(max/step) * step
	if top == 0 {
		top = step
	}
	x := func(v float64) float64 { return plotX + v/top*plotW }

	ch.Y += panelHead
	ch.Add(`<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`, 20, ch.Y-10, esc(title(p.Impairment)))
	plotTop := ch.Y
	plotBottom := ch.Y + len(p.Rows)*(barH+barGap) + barGap
	// Grid and ticks.
	for t := 0.0; t <= top+step/2; t += step {
		gx := x(t)
		ch.Add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd" stroke-width="1"/>`, gx, plotTop, gx, plotBottom)
		ch.Add(`<text x="%.1f" y="%d" font-size="12" text-anchor="middle" fill="#444">%s</text>`, gx, plotBottom+16, strconv.FormatFloat(t, 'f', -1, 64))
	}
	ch.Add(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="1"/>`, plotX, plotBottom, plotX+plotW, plotBottom)
	ch.Add(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="1"/>`, plotX, plotTop, plotX, plotBottom)
	ch.Add(`<text x="%d" y="%d" font-size="12" text-anchor="middle" fill="#444">longest stall (ms)</text>`, plotX+plotW/2, plotBottom+30)

	for i, r := range p.Rows {
		ch.bar(r, plotTop+barGap+i*(barH+barGap), x)
	}
	ch.Y = plotBottom + axisH
}

// bar draws one path manager's bar at by: the median, a dot per run and
// the label; x maps milliseconds to the plot.
func (ch *chart) bar(r row, by int, x func(float64) float64) {
	name := r.Name
	ch.Add(`<text x="%d" y="%d" font-size="13" text-anchor="end">%s</text>`, labelW, by+barH/2+5, esc(name))
	ch.Add(`<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: median %s ms</title></rect>`,
		plotX, by, x(r.MedianMS)-plotX, barH, ch.color(r.Name), esc(name), ms(r.MedianMS))
	end := x(r.MedianMS)
	for j, v := range r.RunsMS {
		dy := float64(by) + float64(barH)*(float64(j)+1)/float64(len(r.RunsMS)+1)
		ch.Add(`<circle class="run" cx="%.1f" cy="%.1f" r="4" fill="#222" stroke="#fff" stroke-width="1"><title>%s ms</title></circle>`, x(v), dy, ms(v))
		end = math.Max(end, x(v))
	}
	label := ms(r.MedianMS) + " ms"
	if r.Ratio > 0 {
		label += fmt.Sprintf("  (%.3f×)", r.Ratio)
	}
	if n := len(r.Failed); n > 0 {
		label += fmt.Sprintf("  %d failed", n)
	}
	ch.Add(`<text x="%.1f" y="%d" font-size="13" font-weight="bold">%s</text>`, end+8, by+barH/2+5, esc(label))
}

// foot draws the footnote (note first, if any).
func (ch *chart) foot(note string) {
	ch.Y += 12
	foot := "×: ratio to the kernel PM with a backup endpoint. Data: scripts/bench-handover.sh; chart: tools/plotbench."
	if note != "" {
		foot = note + " " + foot
	}
	ch.Add(`<text x="%d" y="%d" font-size="11" fill="#666">%s</text>`, 20, ch.Y, esc(foot))
	ch.Y += 10
}

func main() {
	in := flag.String("i", "docs/handover-benchmark.json", "the benchmark's JSON results (scripts/bench-handover.sh -o)")
	out := flag.String("o", "docs/handover-benchmark.svg", "the SVG to write (- for stdout)")
	note := flag.String("note", "", "where and when it was measured, printed under the chart")
	flag.Parse()
	if err := run(*in, *out, *note); err != nil {
		fmt.Fprintf(os.Stderr, "plotbench: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out, note string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	var b strings.Builder
	if err := plot(&b, res, note); err != nil {
		return err
	}
	if out == "-" {
		_, err = io.WriteString(os.Stdout, b.String())
		return err
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
