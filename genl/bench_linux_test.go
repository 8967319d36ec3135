//go:build linux

package genl

import (
	"testing"

	"github.com/mdlayher/genetlink"
)

// BenchmarkParseEvent decodes a server-side CREATED event as 6.18 sends
// it (go test -bench ParseEvent -benchmem ./genl/).
func BenchmarkParseEvent(b *testing.B) {
	tt := eventTests[0]
	m := genetlink.Message{Header: genetlink.Header{Command: tt.cmd}, Data: marshal(tt.attrs...)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEvent(m); err != nil {
			b.Fatal(err)
		}
	}
}
