package policy

import "testing"

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "voice.yaml", Line: 5, Column: 14, Field: "handover.hold_down", Msg: `invalid duration "5" (want e.g. 500ms, 5s)`},
			`voice.yaml:5:14: handover.hold_down: invalid duration "5" (want e.g. 500ms, 5s)`},
		{Error{File: "voice.yaml", Line: 7, Column: 3, Msg: `unknown field "hanover" (did you mean "handover"?)`},
			`voice.yaml:7:3: unknown field "hanover" (did you mean "handover"?)`},
		{Error{File: "voice.yaml", Line: 2, Msg: "m"}, "voice.yaml:2: m"},
		{Error{File: "voice.yaml", Column: 2, Msg: "m"}, "voice.yaml: m"},
		{Error{File: "voice.yaml", Msg: "empty file"}, "voice.yaml: empty file"},
		{Error{Field: "mode", Msg: "m"}, "mode: m"},
		{Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
