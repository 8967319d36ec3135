package daemon

import (
	"math"
	"strconv"
	"strings"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

// The reasons of a rebuild of the view from the kernel (resync), as the
// metric mptcp_pm_resyncs_total labels them.
const (
	resyncStart    = "start"
	resyncOverflow = "overflow"
	// resyncRecheck is the second rebuild, resyncAgain after an overflow.
	resyncRecheck = "overflow_recheck"
)

// kernelEvent counts one event received from the kernel.
func (m *metrics) kernelEvent(t genl.EventType) {
	if m == nil {
		return
	}
	m.events[t].Inc()
}

// resync counts one rebuild of the view, for reason.
func (m *metrics) resync(reason string) {
	if m == nil {
		return
	}
	m.resyncs.WithLabelValues(reason).Inc()
}

// overflow counts one overflow of the event socket.
func (m *metrics) overflow() {
	if m == nil {
		return
	}
	m.overflows.Inc()
}

// eventLabel is the label of event type t: its `ip mptcp monitor` name in
// lower case, "unknown" for a type this build does not know (one series
// for all of them: the label's values stay few).
func eventLabel(t genl.EventType) string {
	if !t.Known() {
		return "unknown"
	}
	return strings.ToLower(t.String())
}

// decadeBuckets are histogram bounds from lo to hi in steps of 1, 2 and 5
// times a power of ten, each the float64 nearest its decimal (parsed from
// it), so that they print as written: 0.0005, not the
// 0.0005000000000000001 that multiplying towards it gives. lo must be a
// power of ten; hi is the last bound (it need not be a power of ten).
func decadeBuckets(lo, hi float64) []float64 {
	var out []float64
	for exp := int(math.Round(math.Log10(lo))); ; exp++ {
		for _, m := range []int{1, 2, 5} {
			b, _ := strconv.ParseFloat(strconv.Itoa(m)+"e"+strconv.Itoa(exp), 64)
			if b > hi*(1+1e-9) {
				return out
			}
			out = append(out, b)
		}
	}
}
