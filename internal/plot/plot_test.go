package plot

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ max, want float64 }{{430, 100}, {963.8, 200}, {17.5, 5}, {0, 1}, {3219, 1000}} {
		if got := NiceStep(c.max, 5); got != c.want {
			t.Errorf("NiceStep(%v): got %v, want %v", c.max, got, c.want)
		}
	}
}

// A time chart is valid XML, has a line per series piece (a NaN breaks
// it) and each mark, and escapes its texts.
func TestTimePanel(t *testing.T) {
	var c Canvas
	c.Text(18, true, "#000", "trace <&>")
	s := []Series{
		{Name: "wlan0", Color: Palette[1], X: []float64{0, 1, 2, 3}, Y: []float64{1, 2, math.NaN(), 4}},
		{Name: "wwan0", Color: Palette[2], X: []float64{0, 1}, Y: []float64{0, 0}},
	}
	c.Legend(s)
	ch := TimeChart{Left: 80, Width: 800, Height: 120, X0: 0, X1: 3,
		Marks: []Mark{{X: 1.5, Label: "1", Text: "handover wlan0 -> wwan0", Color: "#c00"}}}
	c.TimePanel(ch, TimePanel{Title: "throughput (Mbit/s)", Series: s})
	c.MarkList(ch.Marks)
	var b strings.Builder
	if _, err := c.WriteTo(&b, 1000); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	lines, marks := 0, 0
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, b.String())
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				if a.Name.Local == "class" && a.Value == "series" {
					lines++
				}
				if a.Name.Local == "class" && a.Value == "mark" {
					marks++
				}
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
	if lines != 3 || marks != 1 {
		t.Errorf("%d series lines and %d marks, want 3 and 1", lines, marks)
	}
	for _, w := range []string{"trace <&>", "wlan0", "wwan0", "handover wlan0 -> wwan0", "throughput (Mbit/s)"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("no text %q in the chart", w)
		}
	}
}
