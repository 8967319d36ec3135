package policy

import (
	"testing"
	"time"
)

func TestProbeHold(t *testing.T) {
	tests := []struct{ holdDown, want time.Duration }{
		{0, time.Second},
		{500 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{5 * time.Second, 5 * time.Second},
		{time.Hour, time.Hour},
	}
	for _, tt := range tests {
		if got := (Handover{HoldDown: tt.holdDown}).ProbeHold(); got != tt.want {
			t.Errorf("Handover{HoldDown: %v}.ProbeHold() = %v, want %v", tt.holdDown, got, tt.want)
		}
	}
}
