package policy

import (
	"slices"
	"testing"
)

func TestEditDistanceSuggestions(t *testing.T) {
	tests := []struct{ key, want string }{
		{"hanover", "handover"},
		{"handovr", "handover"},
		{"Handover", "handover"},
		{"hold-down", "hold_down"},
		{"holdDown", "hold_down"},
		{"hold", "hold_down"},
		{"loss", "loss_percent"},
		{"rtt", "rtt_ms"},
		{"uid", "uids"},
		{"x", ""},
		{"zz", ""},
		{"colour", ""},
	}
	known := append(append(slices.Clone(policyKeys), handoverKeys...), matchKeys...)
	for _, tt := range tests {
		if got := closest(tt.key, known); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
