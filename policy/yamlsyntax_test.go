package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// syntaxErrorTests are YAML syntax mistakes with the exact error: the line
// and column are where the mistake is, not where the parser gave up.
var syntaxErrorTests = []struct{ name, in, want string }{
	{"mapping value on line 3", "name: voice\nmatch: {ports: [443]}\nmode: handover: fast\n",
		"voice.yaml:3:15: mapping values are not allowed in this context"},
	{"bad indentation on line 4", "name: voice\nmatch:\n  ports: [443]\n uids: [1000]\nmode: handover\n",
		"voice.yaml:4:2: did not find expected key"},
	{"tab on line 4", "name: voice\nmatch:\n  ports: [443]\n\tuids: [1000]\nmode: handover\n",
		"voice.yaml:4:1: found character that cannot start any token (YAML indentation must use spaces, not tabs)"},
	{"tab in a block scalar", "name: voice\nmatch: {ports: [443]}\nmode: |\n\thandover\n",
		"voice.yaml:4:1: found a tab character where an indentation space is expected"},
	{"unclosed double quote", "name: \"voice\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:7: quoted string never closed (found unexpected end of stream)"},
	{"unclosed single quote on line 3", "name: voice\nmatch: {ports: [443]}\nmode: 'handover\n",
		"voice.yaml:3:7: quoted string never closed (found unexpected end of stream)"},
	{"unclosed [ at the end", "name: voice\nmode: handover\nmatch: {ports: [443\n",
		"voice.yaml:3:16: [ never closed (did not find expected ',' or ']' before the end of the file)"},
	{"unclosed { before more lines", "name: voice\nmatch: {ports: [443]\nmode: handover\n",
		"voice.yaml:3:1: did not find expected ',' or '}' (the { at line 2 column 8 is not closed, or a comma is missing)"},
	{"no space after the colon on the last line", "name: voice\nmatch: {ports: [443]}\nmode:handover\n",
		`voice.yaml:3:1: could not find expected ':' (a key is followed by ": ", as in "mode: handover")`},
	{"a word alone on line 2", "name: voice\nmode\nmatch: {ports: [443]}\n",
		`voice.yaml:2:1: could not find expected ':' (a key is followed by ": ", as in "mode: handover")`},
	{"an alias with no name at the end", "name: voice\nmatch: {ports: [443]}\nmode: *\n",
		"voice.yaml:3:7: did not find expected alphabetic or numeric character (while scanning an alias)"},
	{"duplicate key", "name: voice\nmatch: {ports: [443]}\nmode: handover\nmode: single\n",
		"voice.yaml:4:1: duplicate field \"mode\" (first at line 3)"},
	{"duplicate key in a flow mapping", "name: voice\nmatch: {ports: [443], uids: [1], ports: [80]}\nmode: handover\n",
		"voice.yaml:2:34: match: duplicate field \"ports\" (first at line 2)"},
	{"unknown alias", "name: voice\nmatch: {ports: *p}\nmode: handover\n",
		"voice.yaml:2:16: unknown anchor 'p' referenced"},
	{"bad escape", "name: \"vo\\qice\"\nmatch: {ports: [443]}\nmode: handover\n",
		"voice.yaml:1:10: found unknown escape character"},
	{"NUL byte on line 2", "name: voice\nmatch: {ports: [4\x0043]}\nmode: handover\n",
		"voice.yaml:2:18: control characters are not allowed (value: 0) (not a text file?)"},
	{"invalid UTF-8 on line 3", "name: voice\nmatch: {ports: [443]}\nmode: hand\xffover\n",
		"voice.yaml:3:11: invalid leading UTF-8 octet (value: 255) (not a text file?)"},
}

func TestSyntaxErrorPositions(t *testing.T) {
	for _, tt := range syntaxErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(strings.NewReader(tt.in), "voice.yaml")
			if err == nil {
				t.Fatalf("ParsePolicy = %+v, want error %q", p, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// laughs is a "billion laughs" document: 9 aliases of 9 aliases ... 26
// levels deep, 9^25 values if expanded.
func laughs() string {
	var b strings.Builder
	b.WriteString("name: voice\nmode: handover\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 26; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	b.WriteString("match: {ports: *a25}\n")
	return b.String()
}

// TestHostileFiles: files made to exhaust the parser are refused with a
// clear error; none is expanded, read whole or parsed past a limit.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// 40 MB of nothing: sparse, so the test writes next to nothing.
	if err := f.Truncate(40 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	binary := filepath.Join(dir, "binary.yaml")
	elf := []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00")
	if err := os.WriteFile(binary, elf, 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.yaml")
	if err := os.WriteFile(deep, []byte("name: voice\nmatch: {ports: "+strings.Repeat("[", 100000)+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deepBlock := filepath.Join(dir, "deep-block.yaml")
	if err := os.WriteFile(deepBlock, []byte("name: voice\nmatch:\n  ports:\n    "+strings.Repeat("- ", 20000)+"443\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lol := filepath.Join(dir, "laughs.yaml")
	if err := os.WriteFile(lol, []byte(laughs()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{big, big + ": file is larger than 1048576 bytes"},
		{binary, binary + ":1:5: control characters are not allowed (value: 2) (not a text file?)"},
		{deep, deep + ":2:10015: exceeded max depth of 10000"},
		{deepBlock, deepBlock + ":4:20001: exceeded max depth of 10000"},
		{lol, lol + ":3:1: unknown field \"x0\" (want name, match, mode, paths, handover, accept_announcements, announcements_from, announce, mptcpify)"},
	} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			err := Check(tt.file)
			if err == nil {
				t.Fatalf("Check(%s) = nil, want %s", tt.file, tt.want)
			}
			if got := strings.SplitN(err.Error(), "\n", 2)[0]; got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestLaughsNotExpanded: the aliases of a billion-laughs list are
// followed once, to the list they name, and its items judged as they
// are, not expanded.
func TestLaughsNotExpanded(t *testing.T) {
	in := "name: voice\nmode: handover\nmatch:\n  ports: &a0 [1, 1, 1]\n  uids: &a1 [*a0, *a0, *a0]\n  prefixes: [*a1, *a1]\n"
	_, err := ParsePolicy(strings.NewReader(in), "voice.yaml")
	// An alias is judged, and its mistakes placed, as the value it names.
	want := "voice.yaml:4:10: match.uids[0]: want a whole number 0..4294967294, got a list\n" +
		"voice.yaml:4:10: match.uids[1]: want a whole number 0..4294967294, got a list\n" +
		"voice.yaml:4:10: match.uids[2]: want a whole number 0..4294967294, got a list\n" +
		"voice.yaml:5:9: match.prefixes[0]: want an address or prefix like 10.0.0.0/8 or 2001:db8::/32, got a list\n" +
		"voice.yaml:5:9: match.prefixes[1]: want an address or prefix like 10.0.0.0/8 or 2001:db8::/32, got a list"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
}

// BenchmarkParseLongFlowList is the slowest file found within
// maxFileSize: one flow list of single-digit items filling the file
// (half a million items; the YAML library builds a node for each).
func BenchmarkParseLongFlowList(b *testing.B) {
	head := "name: voice\nmode: handover\nmatch: {ports: ["
	in := head + strings.Repeat("1,", (maxFileSize-len(head)-3)/2) + "1]}"
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		// The ports repeat, which is an error: the parse is what is measured.
		_, _ = ParsePolicy(strings.NewReader(in), "voice.yaml")
	}
}
