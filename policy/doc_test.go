package policy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// The configuration reference, docs/configuration.md, is the one source
// for the files' keys: its two annotated examples (the first ```yaml
// block a configuration, the second a policy) are valid files, and every
// key the parser accepts is in them.
func TestDocExamples(t *testing.T) {
	const ref = "../docs/configuration.md"
	f, err := os.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !in && l == "```yaml":
			in = true
		case in && l == "```":
			blocks = append(blocks, cur.String())
			cur.Reset()
			in = false
		case in:
			cur.WriteString(l + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 2 {
		t.Fatalf("found %d example blocks in %s, want the configuration and a policy", len(blocks), ref)
	}
	if _, err := ParseConfig(strings.NewReader(blocks[0]), ref+" config"); err != nil {
		t.Errorf("configuration example: %v", err)
	}
	if _, err := ParsePolicy(strings.NewReader(blocks[1]), ref+" policy"); err != nil {
		t.Errorf("policy example: %v", err)
	}

	// Every key, as "key:" at the start of a line or after "{ " or ", ".
	documented := func(block, key string) bool {
		for _, l := range strings.Split(block, "\n") {
			l = strings.TrimLeft(l, " -")
			if strings.HasPrefix(l, key+":") || strings.Contains(l, "{ "+key+":") || strings.Contains(l, ", "+key+":") {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		block int
		what  string
		keys  []string
	}{
		{0, "configuration", configKeys},
		{0, "interfaces rule", ruleKeys},
		{0, "endpoints", endpointKeys},
		{0, "endpoints.limits", limitsKeys},
		{1, "policy", policyKeys},
		{1, "match", matchKeys},
		{1, "paths", pathsKeys},
		{1, "handover", handoverKeys},
	} {
		for _, k := range c.keys {
			if !documented(blocks[c.block], k) {
				t.Errorf("%s key %q is not in the %s example of %s", c.what, k, []string{"configuration", "policy"}[c.block], ref)
			}
		}
	}
}
