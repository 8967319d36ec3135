package policy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// The examples in the package documentation are valid files.
func TestDocExamples(t *testing.T) {
	f, err := os.Open("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "//\t"); ok {
			cur.WriteString(l + "\n")
			continue
		}
		if cur.Len() > 0 {
			blocks = append(blocks, cur.String())
			cur.Reset()
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("found %d example blocks in doc.go, want the configuration and a policy", len(blocks))
	}
	if _, err := ParseConfig(strings.NewReader(blocks[0]), "doc.go config"); err != nil {
		t.Errorf("configuration example: %v", err)
	}
	if _, err := ParsePolicy(strings.NewReader(blocks[1]), "doc.go policy"); err != nil {
		t.Errorf("policy example: %v", err)
	}
}
