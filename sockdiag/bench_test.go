package sockdiag

import "testing"

// BenchmarkParseSubflow decodes one TCP subflow's inet_diag message (with
// tcp_info and the MPTCP ULP info) captured from the kernel
// (go test -bench ParseSubflow -benchmem ./sockdiag/).
func BenchmarkParseSubflow(b *testing.B) {
	msg := mustHex(b, fixtureSubflowJoin)
	b.ReportAllocs()
	for b.Loop() {
		m, err := parseMsg(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := newSubflow(m); !ok || err != nil {
			b.Fatal("not a subflow", err)
		}
	}
}
