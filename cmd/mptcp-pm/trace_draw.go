package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mptcp-pm/mptcp-pm/internal/plot"
)

// The picture of a trace, in pixels.
const (
	traceWidth  = 1000
	traceLeft   = 70
	tracePlotW  = 900
	tracePanelH = 140
)

// subflowName names a subflow in the picture: its interface, if known,
// and its addresses.
func subflowName(sf traceSubflow) string {
	n := sf.Local + " -> " + sf.Remote
	if sf.Dev != "" {
		n = sf.Dev + " " + n
	}
	return n
}

// traceSeries turns the samples into one series per subflow for each
// panel: throughput (Mbit/s, both ways), smoothed RTT (ms) and
// retransmissions (segments per second). t0 is the picture's time zero.
func traceSeries(rec *recording, t0 time.Time) (tput, rtt, retr []plot.Series) {
	type key struct{ local, remote string }
	index := map[key]int{}
	last := map[key]struct {
		at time.Time
		sf traceSubflow
	}{}
	add := func(sf traceSubflow) int {
		k := key{sf.Local, sf.Remote}
		i, ok := index[k]
		if !ok {
			i = len(tput)
			index[k] = i
			color := plot.Palette[(i+1)%len(plot.Palette)]
			name := subflowName(sf)
			tput = append(tput, plot.Series{Name: name, Color: color})
			rtt = append(rtt, plot.Series{Name: name, Color: color})
			retr = append(retr, plot.Series{Name: name, Color: color})
		}
		return i
	}
	for _, s := range rec.samples {
		x := s.Time.Sub(t0).Seconds()
		for _, sf := range s.Subflows {
			i, k := add(sf), key{sf.Local, sf.Remote}
			rtt[i].X, rtt[i].Y = append(rtt[i].X, x), append(rtt[i].Y, float64(sf.RTTus)/1000)
			tp, rt := math.NaN(), math.NaN()
			if p, ok := last[k]; ok {
				if dt := s.Time.Sub(p.at).Seconds(); dt > 0 {
					bytes := float64(sf.BytesAcked+sf.BytesReceived) - float64(p.sf.BytesAcked+p.sf.BytesReceived)
					tp = math.Max(bytes, 0) * 8 / dt / 1e6
					rt = math.Max(float64(sf.TotalRetrans)-float64(p.sf.TotalRetrans), 0) / dt
				}
			}
			tput[i].X, tput[i].Y = append(tput[i].X, x), append(tput[i].Y, tp)
			retr[i].X, retr[i].Y = append(retr[i].X, x), append(retr[i].Y, rt)
			last[k] = struct {
				at time.Time
				sf traceSubflow
			}{s.Time, sf}
		}
	}
	return tput, rtt, retr
}

// traceSpan is the time the recording covers.
func traceSpan(rec *recording) (t0, t1 time.Time) {
	for _, t := range append(sampleTimes(rec), markTimes(rec)...) {
		if t0.IsZero() || t.Before(t0) {
			t0 = t
		}
		if t.After(t1) {
			t1 = t
		}
	}
	return t0, t1
}

func sampleTimes(rec *recording) []time.Time {
	out := make([]time.Time, len(rec.samples))
	for i, s := range rec.samples {
		out[i] = s.Time
	}
	return out
}

func markTimes(rec *recording) []time.Time {
	out := make([]time.Time, len(rec.marks))
	for i, m := range rec.marks {
		out[i] = m.Time
	}
	return out
}

// drawTrace draws rec: a title, the subflows' legend, the three panels
// with the marks, and the list of marks.
func drawTrace(rec *recording) *plot.Canvas {
	t0, t1 := traceSpan(rec)
	tput, rtt, retr := traceSeries(rec, t0)
	var marks []plot.Mark
	for i, m := range rec.marks {
		color := "#777777"
		if m.Decision {
			color = "#D55E00"
		}
		at := m.Time.Sub(t0).Seconds()
		marks = append(marks, plot.Mark{X: at, Label: strconv.Itoa(i + 1), Color: color,
			Text: fmt.Sprintf("+%.3fs %s", at, m.Text)})
	}
	c := &plot.Canvas{}
	c.Text(18, true, "#000", "MPTCP connection "+rec.token)
	c.Text(12, false, "#444", fmt.Sprintf("%s to %s (%.1f s): per subflow, sampled every %v; orange: the daemon's decisions, grey: the kernel's events",
		t0.Local().Format("2006-01-02 15:04:05.000"), t1.Local().Format("15:04:05.000"), t1.Sub(t0).Seconds(), traceEvery))
	c.Legend(tput)
	ch := plot.TimeChart{Left: traceLeft, Width: tracePlotW, Height: tracePanelH, X1: t1.Sub(t0).Seconds(), Marks: marks}
	c.TimePanel(ch, plot.TimePanel{Title: "throughput, both ways (Mbit/s)", Series: tput})
	c.TimePanel(ch, plot.TimePanel{Title: "smoothed RTT (ms)", Series: rtt})
	c.TimePanel(ch, plot.TimePanel{Title: "retransmissions (segments/s)", Series: retr})
	c.MarkList(marks)
	return c
}
