// Package plot draws SVG charts with the standard library only: the
// document, a canvas that draws top to bottom, the colours, axis steps,
// and time-series panels. tools/plotbench draws the handover benchmark
// with it and `mptcp-pm connection trace` a connection over time.
//
// Out of scope: reading any data format (the callers do), and raster
// output.
package plot

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Palette colours series in the order they first appear (Okabe–Ito
// colours, readable by colour-blind readers).
var Palette = []string{"#999999", "#E69F00", "#0072B2", "#56B4E9", "#009E73", "#CC79A7", "#D55E00", "#F0E442"}

// Font is the font attribute of a document.
const Font = `font-family="DejaVu Sans, Verdana, Arial, sans-serif"`

// NiceStep is a 1, 2 or 5 × 10^k step giving about n ticks up to max.
func NiceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// Esc escapes s for SVG text and attributes.
func Esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Num prints v with as few digits as it needs (a tick label).
func Num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Canvas is an SVG body being drawn, top to bottom. It is not safe for
// concurrent use.
type Canvas struct {
	b strings.Builder
	// Y is the bottom of what is drawn so far.
	Y int
}

// Add adds a line to the body.
func (c *Canvas) Add(format string, args ...any) { fmt.Fprintf(&c.b, format+"\n", args...) }

// WriteTo writes the canvas as an SVG document width wide and as high as
// what is drawn, on a white background.
func (c *Canvas) WriteTo(w io.Writer, width int) (int64, error) {
	y := c.Y
	n, err := fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s>
<rect width="100%%" height="100%%" fill="#fff"/>
%s</svg>
`, width, y, width, y, Font, c.b.String())
	return int64(n), err
}
