package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// parser collects the mistakes of one file.
type parser struct {
	file string
	data []byte
	errs []error
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// root decodes the single YAML document of the file. It returns nil when
// the file is empty (no document, or a null one; empty is then true) or
// cannot be decoded (the mistake is recorded).
func (p *parser) root() (root *yaml.Node, empty bool) {
	dec := yaml.NewDecoder(bytes.NewReader(p.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, true
		}
		p.syntax(err)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		p.syntax(err)
		return nil, false
	default:
		p.errorf(&next, "", "a second YAML document (---): a file holds only one")
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	root = deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, true
	}
	return root, false
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// describe names what node n is, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			if n.Value == "" {
				return "nothing"
			}
			return n.Value
		case "!!int", "!!float", "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

func join2(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// standardTags are the tags a value may carry; others (!foo) are mistakes.
var standardTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq"}

// fields walks mapping n, whose field path is at, in file order. It calls
// set for each known key with the key's value (aliases followed), and
// reports unknown and duplicate keys. elsewhere maps keys that belong in
// another place to a hint. It returns false when n is not a mapping.
func (p *parser) fields(n *yaml.Node, at, what string, known []string, elsewhere map[string]string, set func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, at, "want %s, got %s", what, describe(n))
		return false
	}
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, at, "field names must be plain words, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			p.errorf(k, at, "merge keys (<<) are not supported")
			continue
		}
		if first, ok := seen[k.Value]; ok {
			p.errorf(k, at, "duplicate field %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if !slices.Contains(known, k.Value) {
			p.errorf(k, at, "unknown field %q (%s)", k.Value, unknownHint(k.Value, known, elsewhere))
			continue
		}
		if !slices.Contains(standardTags, v.ShortTag()) {
			p.errorf(v, join2(at, k.Value), "unsupported YAML tag %s", v.Tag)
			continue
		}
		set(k.Value, k, v)
	}
	return true
}

// unknownHint suggests what an unknown key was meant to be.
func unknownHint(key string, known []string, elsewhere map[string]string) string {
	if h, ok := elsewhere[key]; ok {
		return h
	}
	if s := closest(key, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "want " + strings.Join(known, ", ")
}

// closest returns the known word that key is a likely misspelling or
// abbreviation of, or "".
func closest(key string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	best, bestD := "", 3
	for _, w := range known {
		if norm(w) == norm(key) || len(key) >= 3 && strings.HasPrefix(w, strings.ToLower(key)) {
			return w
		}
		if d := editDistance(strings.ToLower(key), w); d < bestD && d < len(key) {
			best, bestD = w, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isNull reports whether n is an empty or null value.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// str returns the text of scalar n; want describes what is expected.
func (p *parser) str(n *yaml.Node, field, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errorf(n, field, "want %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

// integer returns the decimal whole number n in lo..hi. Quoted numbers
// are accepted: YAML typing is not the user's concern.
func (p *parser) integer(n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!str") {
		v, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64)
		if err == nil && v >= lo && v <= hi {
			return v, true
		}
		if err == nil || errors.Is(err, strconv.ErrRange) {
			p.errorf(n, field, "%s out of range (want %d..%d)", strings.TrimSpace(n.Value), lo, hi)
			return 0, false
		}
	}
	p.errorf(n, field, "want a whole number %d..%d, got %s", lo, hi, describe(n))
	return 0, false
}

// boolean returns the value of true or false.
func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		return strings.EqualFold(n.Value, "true"), true
	}
	p.errorf(n, field, "want true or false, got %s", describe(n))
	return false, false
}

// item is one element of a list field and its field path.
type item struct {
	n     *yaml.Node
	field string
}

// list returns the elements of a list field, or a lone scalar as a list
// of one. what names the elements ("ports"); allowEmpty says whether []
// is meaningful, else emptyHint says what to do instead.
func (p *parser) list(n *yaml.Node, field, what string, scalarOK, allowEmpty bool, emptyHint string) ([]item, bool) {
	switch {
	case n.Kind == yaml.SequenceNode:
		if len(n.Content) == 0 && !allowEmpty {
			p.errorf(n, field, "empty list (%s)", emptyHint)
			return nil, false
		}
		items := make([]item, len(n.Content))
		for i, c := range n.Content {
			items[i] = item{deref(c), fmt.Sprintf("%s[%d]", field, i)}
		}
		return items, true
	case scalarOK && n.Kind == yaml.ScalarNode && !isNull(n):
		return []item{{n, field}}, true
	}
	p.errorf(n, field, "want a list of %s, got %s", what, describe(n))
	return nil, false
}

// belongsUnder builds hints for keys of a section written one level up.
func belongsUnder(m map[string]string, section string, keys ...string) map[string]string {
	for _, k := range keys {
		m[k] = fmt.Sprintf("it belongs under %s:", section)
	}
	return m
}

// percent parses a number 0..100.
func (p *parser) percent(n *yaml.Node, field string) (float64, bool) {
	if n.Kind == yaml.ScalarNode {
		s := strings.TrimSpace(n.Value)
		if strings.HasSuffix(s, "%") {
			p.errorf(n, field, "want a number 0..100 without %%, got %q (did you mean %s?)", s, strings.TrimSpace(strings.TrimSuffix(s, "%")))
			return 0, false
		}
		switch n.ShortTag() {
		case "!!int", "!!float", "!!str":
			x, err := strconv.ParseFloat(s, 64)
			if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) && !strings.ContainsAny(s, "xXpP_") {
				if x < 0 || x > 100 {
					p.errorf(n, field, "%s out of range (want 0..100)", s)
					return 0, false
				}
				return x, true
			}
		}
	}
	p.errorf(n, field, "want a number 0..100, got %s", describe(n))
	return 0, false
}

// duration parses a Go duration 0..max.
func (p *parser) duration(n *yaml.Node, field string, max time.Duration) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) || n.ShortTag() == "!!bool" {
		p.errorf(n, field, "want a duration like 500ms or 5s, got %s", describe(n))
		return 0, false
	}
	s := strings.TrimSpace(n.Value)
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, field, "invalid duration %q (want e.g. 500ms, 5s)", s)
		return 0, false
	}
	if d < 0 || d > max {
		p.errorf(n, field, "%s out of range (want 0s..%s)", s, fmtDuration(max))
		return 0, false
	}
	return d, true
}

// unitDuration returns the value of n if it is a duration with a unit,
// such as "400ms" where a number of milliseconds is wanted.
func unitDuration(n *yaml.Node) (time.Duration, bool) {
	s := strings.TrimSpace(n.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return 0, false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// fmtDuration prints whole hours as "1h" rather than "1h0m0s".
func fmtDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
