package plot

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Series is one line of a time panel: Y[i] at X[i] seconds. A NaN in Y
// breaks the line (no data there).
type Series struct {
	Name, Color string
	X, Y        []float64
}

// Mark is a moment marked across the panels of a time chart: a vertical
// line at X seconds, with a short Label drawn at its top and a Text listed
// under the chart.
type Mark struct {
	X           float64
	Label, Text string
	Color       string
}

// TimePanel is one chart of values over time.
type TimePanel struct {
	Title  string // what the values are, with their unit
	Series []Series
}

// TimeChart places time panels on a canvas: each spans [X0, X1] seconds
// over Width pixels from Left, Height pixels high, with the Marks on it.
type TimeChart struct {
	Left, Width, Height int
	X0, X1              float64
	Marks               []Mark
}

// markLabelGap is the least room between two marks' labels, in pixels.
const markLabelGap = 14

// tick prints tick value v with the decimals its step needs: 0.1 × 3 is
// 0.30000000000000004 in floating point.
func tick(v, step float64) string {
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// x maps seconds to pixels.
func (t TimeChart) x(s float64) float64 {
	span := t.X1 - t.X0
	if span <= 0 {
		span = 1
	}
	return float64(t.Left) + (s-t.X0)/span*float64(t.Width)
}

// Text adds a line of text at the left edge, size points, and moves down.
func (c *Canvas) Text(size int, bold bool, fill, text string) {
	c.Y += size + 8
	weight := ""
	if bold {
		weight = ` font-weight="bold"`
	}
	c.Add(`<text x="20" y="%d" font-size="%d"%s fill="%s">%s</text>`, c.Y, size, weight, fill, Esc(text))
}

// Legend draws a swatch and name per series, two to a row.
func (c *Canvas) Legend(series []Series) {
	for i, s := range series {
		lx := 20 + (i%2)*480
		ly := c.Y + 8 + (i/2)*20
		c.Add(`<rect x="%d" y="%d" width="14" height="14" fill="%s"/>`, lx, ly, s.Color)
		c.Add(`<text x="%d" y="%d" font-size="13">%s</text>`, lx+20, ly+12, Esc(s.Name))
	}
	c.Y += 8 + (len(series)+1)/2*20 + 4
}

// TimePanel draws p on ch: its title, the grid, each series as a line
// and the marks, then moves down past its time axis.
func (c *Canvas) TimePanel(ch TimeChart, p TimePanel) {
	top := 0.0
	for _, s := range p.Series {
		for _, v := range s.Y {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	step := NiceStep(top, 4)
	top = math.Max(math.Ceil(top/step)*step, step)
	c.Y += 26
	c.Add(`<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`, ch.Left, c.Y-8, Esc(p.Title))
	y0, y1 := c.Y, c.Y+ch.Height
	y := func(v float64) float64 { return float64(y1) - v/top*float64(ch.Height) }
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		c.Add(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd" stroke-width="1"/>`, ch.Left, y(v), ch.Left+ch.Width, y(v))
		c.Add(`<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#444">%s</text>`, ch.Left-6, y(v)+4, tick(v, step))
	}
	tstep := NiceStep(ch.X1-ch.X0, 8)
	for i := math.Ceil(ch.X0 / tstep); i*tstep <= ch.X1+tstep/100; i++ {
		s := i * tstep
		c.Add(`<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#444">%ss</text>`, ch.x(s), y1+14, tick(s, tstep))
	}
	c.Add(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444" stroke-width="1"/>`, ch.Left, y0, ch.Width, ch.Height)
	labelled := math.Inf(-1) // where the last label was drawn
	for _, m := range ch.Marks {
		mx := ch.x(m.X)
		c.Add(`<line class="mark" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1" stroke-dasharray="4 3"><title>%s</title></line>`,
			mx, y0, mx, y1, m.Color, Esc(m.Text))
		if mx-labelled >= markLabelGap {
			// Marks closer than that share the first one's label.
			c.Add(`<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="%s">%s</text>`, mx, y0+10, m.Color, Esc(m.Label))
			labelled = mx
		}
	}
	for _, s := range p.Series {
		c.line(ch, s, y)
	}
	c.Y = y1 + 20
}

// line draws one series as polylines, broken where Y is NaN.
func (c *Canvas) line(ch TimeChart, s Series, y func(float64) float64) {
	var pts []string
	flush := func() {
		if len(pts) > 0 {
			c.Add(`<polyline class="series" fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`,
				s.Color, strings.Join(pts, " "), Esc(s.Name))
		}
		pts = pts[:0]
	}
	for i := range s.X {
		if i >= len(s.Y) || math.IsNaN(s.Y[i]) {
			flush()
			continue
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", ch.x(s.X[i]), y(s.Y[i])))
	}
	flush()
}

// MarkList lists the marks' texts under a chart, each with its label.
func (c *Canvas) MarkList(marks []Mark) {
	for _, m := range marks {
		c.Y += 16
		c.Add(`<text class="mark-text" x="20" y="%d" font-size="12" fill="%s">%s</text>`, c.Y, m.Color, Esc(m.Label+"  "+m.Text))
	}
	c.Y += 10
}
