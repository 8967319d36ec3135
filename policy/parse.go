package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// Error is one mistake in a file. An Error is a value: it is never changed
// after it is returned and may be shared between goroutines.
type Error struct {
	File         string // the file name given to the parser (a path)
	Line, Column int    // 1-based; 0 when unknown
	// Field is the dotted path of the field the mistake is in, e.g.
	// "handover.hold_down" or "match.ports[1]"; "" for the file as a whole.
	Field string
	Msg   string
	// Err is the underlying error, if any (a failed read of the policy
	// directory), for errors.Is; nil for mistakes in the text.
	Err error
}

// Error formats e as "file:line:column: field: message", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// maxFileSize bounds what is read of one file; policy files are a few
// hundred bytes.
const maxFileSize = 1 << 20

// ParsePolicy reads one application policy file. name is used in messages
// (the file path). It reports every mistake found: the error is an *Error,
// or the errors.Join of several (use errors.As, or Unwrap() []error, to
// get at each). ParsePolicy is safe for concurrent use.
func ParsePolicy(r io.Reader, name string) (*Policy, error) {
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	pol, _, errs := parsePolicy(data, name)
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return pol, nil
}

// ParseConfig reads the main configuration file. name is used in messages
// and kept as Config.Source. PolicyDir is kept as written (Load resolves
// it). An empty file, or one with only comments, is a configuration with
// every default. Errors are reported as by ParsePolicy. ParseConfig is
// safe for concurrent use.
func ParseConfig(r io.Reader, name string) (*Config, error) {
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	cfg, _, errs := parseConfig(data, name)
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return cfg, nil
}

// Load reads the configuration file at path and every *.yaml / *.yml file
// of its PolicyDir, in file name order, and returns the Set. Files whose
// name starts with "." and directories are skipped; so are files that are
// not regular (a FIFO, a device, a socket), which are never opened for
// reading and are listed in Set.Warnings. Symbolic links are followed. A
// relative PolicyDir is taken from the configuration file's directory, and
// the returned Config holds the resolved path. A missing PolicyDir is an
// error naming it; an empty one is fine. Policy names must be unique
// across files. A configuration file that is not regular is an error
// (ErrNotRegular).
//
// Load returns every mistake found, not only the first (errors.Join), each
// an *Error naming file:line:column, or a *fs.PathError for a file that
// cannot be read; on error the Set is nil.
func Load(path string) (*Set, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	cfg, dirNode, errs := parseConfig(data, path)
	if cfg == nil {
		return nil, join(errs)
	}
	dir := cfg.PolicyDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	cfg.PolicyDir = dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		e := &Error{File: path, Field: "policy_dir", Err: err,
			Msg: fmt.Sprintf("policy directory %s: %s", dir, reason(err))}
		if dirNode != nil {
			e.Line, e.Column = dirNode.Line, dirNode.Column
		} else {
			e.Msg += " (policy_dir defaults to " + defaultPolicyDir + " next to the configuration file)"
		}
		return nil, join(append(errs, e))
	}
	var pols []*Policy
	var warnings []error
	names := newNameIndex()
	for _, ent := range entries {
		n := ent.Name()
		if strings.HasPrefix(n, ".") || !isYAMLName(n) {
			continue
		}
		file := filepath.Join(dir, n)
		typ, err := entryType(ent, file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case typ.IsDir():
			continue
		case !typ.IsRegular():
			warnings = append(warnings, notRegular(file, typ))
			continue
		}
		data, err := readFile(file)
		if errors.Is(err, ErrNotRegular) { // swapped since ReadDir
			warnings = append(warnings, err)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pol, nameNode, perrs := parsePolicy(data, file)
		errs = append(errs, perrs...)
		if nameNode != nil && pol != nil {
			if e := names.add(pol.Name, file, nameNode); e != nil {
				errs = append(errs, e)
			}
		}
		if len(perrs) == 0 {
			pols = append(pols, pol)
		}
	}
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return &Set{Config: cfg, Policies: pols, Warnings: warnings}, nil
}

// entryType is the type of the directory entry ent (at file), or of what
// it links to.
func entryType(ent fs.DirEntry, file string) (fs.FileMode, error) {
	if ent.Type()&fs.ModeSymlink == 0 {
		return ent.Type(), nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

// Check validates files without loading a policy directory: each path is
// a policy file if its top level has a name key, else a configuration
// file. Policy names must be unique across the policy files given. Check
// returns nil or every mistake found (errors.Join).
func Check(paths ...string) error {
	var errs []error
	names := newNameIndex()
	for _, file := range paths {
		data, err := readFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch fileKind(data) {
		case configFile:
			_, _, cerrs := parseConfig(data, file)
			errs = append(errs, cerrs...)
			continue
		case otherFile:
			p := &parser{file: file, data: data}
			if root, _ := p.root(); root != nil {
				p.errorf(root, "", "want a mapping of fields (a policy has name, match, mode, ...; a configuration policy_dir, interfaces, default, ...), got %s", describe(root))
			}
			errs = append(errs, p.errs...)
			continue
		}
		pol, nameNode, perrs := parsePolicy(data, file)
		errs = append(errs, perrs...)
		if nameNode != nil && pol != nil {
			if e := names.add(pol.Name, file, nameNode); e != nil {
				errs = append(errs, e)
			}
		}
	}
	return join(errs)
}

// nameIndex finds policy names used twice.
type nameIndex map[string]*Error

func newNameIndex() nameIndex { return make(nameIndex) }

// add records that file names a policy name at node n, and returns an
// error naming both files if an earlier file used it.
func (x nameIndex) add(name, file string, n *yaml.Node) error {
	if name == "" {
		return nil
	}
	here := &Error{File: file, Line: n.Line, Column: n.Column}
	if first, ok := x[name]; ok {
		here.Field = "name"
		here.Msg = fmt.Sprintf("duplicate policy name %q (first in %s)", name, position(first))
		return here
	}
	x[name] = here
	return nil
}

// position formats the place of e as "file:line:column".
func position(e *Error) string { return fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column) }

func isYAMLName(n string) bool {
	return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
}

// Kinds of file, for Check.
const (
	configFile = iota // a mapping without name, or empty
	policyFile        // a mapping with a top-level name
	otherFile         // not a mapping, or not YAML
)

// fileKind tells a policy file from a configuration file.
func fileKind(data []byte) int {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return otherFile
	}
	if len(doc.Content) == 0 {
		return configFile
	}
	root := deref(doc.Content[0])
	switch {
	case isNull(root):
		return configFile
	case root.Kind != yaml.MappingNode:
		return otherFile
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "name" {
			return policyFile
		}
	}
	return configFile
}

// reason is the cause of a failed file operation without the path, which
// the message already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ErrNotRegular is the error, under an *Error naming the file, for a
// configuration or policy file that is not a regular file (a FIFO, a
// device, a socket, a directory). Such a file is never read: opening or
// reading a FIFO would wait for a writer.
var ErrNotRegular = errors.New("not a regular file")

// readFile reads a regular file. It opens it with O_NONBLOCK, so that a
// FIFO (even one swapped in after a check of the name) cannot block the
// open, and checks the type of what it opened before reading.
func readFile(file string) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(file, fi.Mode())
	}
	return readAll(f, file)
}

// notRegular is the error for a file of type typ that is not regular.
func notRegular(file string, typ fs.FileMode) *Error {
	what := "of type " + typ.Type().String()
	switch {
	case typ&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case typ&fs.ModeSocket != 0:
		what = "a socket"
	case typ&fs.ModeDevice != 0:
		what = "a device"
	case typ.IsDir():
		what = "a directory"
	}
	return &Error{File: file, Err: ErrNotRegular, Msg: fmt.Sprintf("not a regular file (%s): not read", what)}
}

func readAll(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	return data, nil
}

// join is errors.Join that returns a lone error as itself.
func join(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

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

// yamlLine splits yaml.v3's "yaml: line N: message".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax records a YAML syntax error, keeping yaml.v3's line number.
func (p *parser) syntax(err error) {
	e := &Error{File: p.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		lines := bytes.Split(p.data, []byte("\n"))
		// yaml.v3 sometimes names the line before the mistake.
		for _, l := range []int{e.Line, e.Line + 1} {
			if l >= 1 && l <= len(lines) && bytes.ContainsRune(leadingSpace(lines[l-1]), '\t') {
				e.Msg += " (YAML indentation must use spaces, not tabs)"
				break
			}
		}
	}
	p.errs = append(p.errs, e)
}

func leadingSpace(l []byte) []byte {
	return l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
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

// Policy file fields.
var (
	policyKeys   = []string{"name", "match", "mode", "paths", "handover", "accept_announcements", "announcements_from", "announce", "mptcpify"}
	matchKeys    = []string{"ports", "prefixes", "uids", "cgroup", "process"}
	pathsKeys    = []string{"prefer", "backup"}
	handoverKeys = []string{"rto", "loss_percent", "rtt_ms", "hold_down", "warm_standby"}
	configKeys   = []string{"policy_dir", "set_pm_type", "control_socket", "control_group", "log_level", "interfaces", "default", "pm", "endpoints"}
	ruleKeys     = []string{"name", "class"}
	endpointKeys = []string{"interfaces", "flags", "backup", "limits"}
	limitsKeys   = []string{"subflows", "add_addr_accepted"}
)

// belongsUnder builds hints for keys of a section written one level up.
func belongsUnder(m map[string]string, section string, keys ...string) map[string]string {
	for _, k := range keys {
		m[k] = fmt.Sprintf("it belongs under %s:", section)
	}
	return m
}

var (
	policyElsewhere = func() map[string]string {
		m := make(map[string]string)
		belongsUnder(m, "match", matchKeys...)
		belongsUnder(m, "match", "port", "prefix", "uid", "user")
		belongsUnder(m, "paths", pathsKeys...)
		belongsUnder(m, "handover", handoverKeys...)
		for _, k := range configKeys {
			m[k] = "it is a key of the configuration file, not of a policy file"
		}
		return m
	}()
	configElsewhere = func() map[string]string {
		m := make(map[string]string)
		belongsUnder(m, "default", "mode", "paths", "handover", "accept_announcements", "announcements_from", "announce", "mptcpify")
		m["name"] = "a file with name: is a policy file; policies go in policy_dir"
		m["match"] = "a file with match: is a policy file; policies go in policy_dir"
		belongsUnder(m, "endpoints", "flags", "limits")
		belongsUnder(m, "endpoints.limits", limitsKeys...)
		return m
	}()
	defaultElsewhere = func() map[string]string {
		m := make(map[string]string)
		for _, k := range append(slices.Clone(matchKeys), "port", "prefix", "uid", "user") {
			m[k] = "the default policy has no match: it applies to the connections no application matches"
		}
		belongsUnder(m, "paths", pathsKeys...)
		belongsUnder(m, "handover", handoverKeys...)
		for _, k := range configKeys {
			m[k] = "it is a top-level key of the configuration file, not of default:"
		}
		return m
	}()
)

// nameRE is the syntax of a policy name.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

const (
	maxNameLen       = 64
	defaultPolicyDir = "policies.d"
	// defaultControlSocket is where the control socket is when the
	// configuration does not say.
	defaultControlSocket = "/run/mptcp-pm/control.sock"
	// maxSocketPath is sizeof(sockaddr_un.sun_path) minus the NUL.
	maxSocketPath = 107
	// maxComm is TASK_COMM_LEN minus the NUL: the kernel cuts process
	// names (comm) to 15 bytes.
	maxComm = 15
	// maxIfName is IFNAMSIZ minus the NUL.
	maxIfName   = 15
	maxHoldDown = time.Hour
)

// pathClasses are the classes a policy may name: every class but
// loopback, which never carries subflows.
var pathClasses = slices.DeleteFunc(slices.Clone(ifmon.Classes), func(c ifmon.Class) bool { return c == ifmon.ClassLoopback })

func classList() string {
	s := make([]string, len(pathClasses))
	for i, c := range pathClasses {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func modeList() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// parsePolicy parses a policy file. It returns the policy (possibly
// incomplete when there are errors), the node of its name, and the
// mistakes.
func parsePolicy(data []byte, file string) (*Policy, *yaml.Node, []error) {
	p := &parser{file: file, data: data}
	root, empty := p.root()
	if empty {
		p.errorf(nil, "", "empty file (want a policy: name, match, mode, ...)")
	}
	if root == nil {
		return nil, nil, p.errs
	}
	pol := &Policy{Source: file}
	nameNode := p.policyBody(root, "", pol, false)
	return pol, nameNode, p.errs
}

// policyBody parses the fields of a policy file, or of the default policy
// of the configuration (at "default", isDefault). It returns the node of
// the name, if valid.
func (p *parser) policyBody(n *yaml.Node, at string, pol *Policy, isDefault bool) *yaml.Node {
	elsewhere := policyElsewhere
	what := "a mapping of policy fields (" + strings.Join(policyKeys, ", ") + ")"
	if isDefault {
		elsewhere = defaultElsewhere
		what = "a mapping of policy fields (" + strings.Join(policyKeys[2:], ", ") + ")"
	}
	pol.Paths = Paths{Prefer: slices.Clone(DefaultPaths.Prefer), Backup: slices.Clone(DefaultPaths.Backup)}
	pol.Handover = DefaultHandover
	var nameNode, pathsNode, preferNode, mptcpifyNode, fromNode *yaml.Node
	pathsOK := true
	seen := make(map[string]bool)
	modeOK := false
	ok := p.fields(n, at, what, policyKeys, elsewhere, func(key string, k, v *yaml.Node) {
		seen[key] = true
		field := join2(at, key)
		switch {
		case isDefault && key == "name":
			p.errorf(k, field, "not allowed in the default policy, which is named \"default\"")
			return
		case isDefault && key == "match":
			p.errorf(k, field, "not allowed in the default policy: it applies to the connections no application matches")
			return
		}
		switch key {
		case "name":
			if s, ok := p.str(v, field, "a name like \"voice\""); ok && p.checkName(v, field, s) {
				pol.Name, nameNode = s, v
			}
		case "match":
			p.match(v, field, &pol.Match)
		case "mode":
			if s, ok := p.str(v, field, "one of "+modeList()); ok {
				if slices.Contains(Modes, Mode(s)) {
					pol.Mode, modeOK = Mode(s), true
				} else {
					p.errorf(v, field, "unknown mode %q (want %s)", s, modeList())
				}
			}
		case "paths":
			before := len(p.errs)
			pathsNode = v
			preferNode = p.paths(v, field, &pol.Paths)
			pathsOK = len(p.errs) == before
		case "handover":
			p.handover(v, field, &pol.Handover)
		case "accept_announcements":
			pol.AcceptAnnouncements, _ = p.boolean(v, field)
		case "announcements_from":
			fromNode = k
			p.announcementsFrom(v, field, &pol.AnnouncementsFrom)
		case "announce":
			p.announce(v, field, &pol.Announce)
		case "mptcpify":
			pol.Mptcpify, _ = p.boolean(v, field)
			mptcpifyNode = v
		}
	})
	if !ok {
		return nil
	}
	if isDefault {
		pol.Name = "default"
		if !seen["mode"] {
			pol.Mode, modeOK = ModeHandover, true
		}
	} else {
		if !seen["name"] {
			p.errorf(n, "name", "required field is missing (want a name like \"voice\")")
		}
		if !seen["match"] {
			p.errorf(n, "match", "required field is missing (an application needs at least one of %s)", strings.Join(matchKeys, ", "))
		}
		if !seen["mode"] {
			p.errorf(n, "mode", "required field is missing (want %s)", modeList())
		}
	}
	if fromNode != nil && !pol.AcceptAnnouncements {
		p.errorf(fromNode, join2(at, "announcements_from"), "has no effect without accept_announcements: true (announcements are ignored)")
	}
	if pol.Mptcpify && pol.Match.Cgroup == "" {
		p.errorf(mptcpifyNode, join2(at, "mptcpify"), "needs match.cgroup: the sockets made MPTCP are those of a cgroup")
	}
	if pathsNode != nil && pathsOK { // else the mistakes in paths were reported
		pp := pol.Paths
		switch {
		case len(pp.Prefer) == 0 && len(pp.Backup) == 0:
			p.errorf(pathsNode, join2(at, "paths"), "no class allowed (list at least one of %s in prefer or backup)", classList())
		case len(pp.Prefer) == 0 && modeOK && pol.Mode == ModeHandover:
			where := pathsNode
			if preferNode != nil {
				where = preferNode
			}
			p.errorf(where, join2(at, "paths.prefer"), "handover mode needs at least one preferred class")
		}
	}
	return nameNode
}

// announce parses the addresses server-side connections announce: ADDR,
// or ADDR:PORT ([ADDR]:PORT for IPv6).
func (p *parser) announce(n *yaml.Node, field string, out *[]netip.AddrPort) {
	items, ok := p.list(n, field, "addresses (ADDR or ADDR:PORT)", true, false, "leave the field out to announce nothing")
	if !ok {
		return
	}
	seen := make(map[netip.AddrPort]bool)
	for _, it := range items {
		s, ok := p.str(it.n, it.field, "an address, or ADDR:PORT ([ADDR]:PORT for IPv6)")
		if !ok {
			continue
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.errorf(it.n, it.field, "invalid address %q (want ADDR or ADDR:PORT, [ADDR]:PORT for IPv6)", s)
				continue
			}
			ap = netip.AddrPortFrom(a, 0)
		} else if ap.Port() == 0 {
			p.errorf(it.n, it.field, "port 0 in %q (leave the port out to announce the connection's own port)", s)
			continue
		}
		a := ap.Addr()
		switch {
		case a.Zone() != "":
			p.errorf(it.n, it.field, "%q: an address zone is not allowed", s)
		case a.Is4In6():
			p.errorf(it.n, it.field, "%q is IPv4-mapped IPv6 (write it as %s)", s, a.Unmap())
		case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast():
			p.errorf(it.n, it.field, "%q cannot be announced to a peer (unspecified, loopback or multicast)", s)
		case seen[ap]:
			p.errorf(it.n, it.field, "%q is listed twice", s)
		default:
			seen[ap] = true
			*out = append(*out, ap)
		}
	}
}

// announcementsFrom reads the prefixes announced addresses must be in.
func (p *parser) announcementsFrom(n *yaml.Node, field string, out *[]netip.Prefix) {
	items, _ := p.list(n, field, "prefixes", true, false, "leave the field out to accept announcements of any address")
	for _, it := range items {
		pfx, ok := p.prefix(it)
		switch {
		case !ok:
		case slices.Contains(*out, pfx):
			p.errorf(it.n, it.field, "%s is listed twice", pfx)
		default:
			*out = append(*out, pfx)
		}
	}
}

// checkName validates a policy name.
func (p *parser) checkName(n *yaml.Node, field, s string) bool {
	switch {
	case !nameRE.MatchString(s):
		p.errorf(n, field, "invalid name %q (want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit)", s)
	case len(s) > maxNameLen:
		p.errorf(n, field, "%d bytes long (want at most %d)", len(s), maxNameLen)
	case s == "default":
		p.errorf(n, field, "%q is the name of the configuration's default policy", s)
	default:
		return true
	}
	return false
}

// match parses the match section.
func (p *parser) match(n *yaml.Node, at string, m *Match) {
	what := "a mapping of conditions (" + strings.Join(matchKeys, ", ") + ")"
	ok := p.fields(n, at, what, matchKeys, nil, func(key string, k, v *yaml.Node) {
		field := join2(at, key)
		switch key {
		case "ports":
			items, _ := p.list(v, field, "ports", true, false, "leave the field out to match any port")
			for _, it := range items {
				if r, ok := p.port(it); ok {
					m.Ports = append(m.Ports, r)
				}
			}
		case "prefixes":
			items, _ := p.list(v, field, "prefixes", true, false, "leave the field out to match any address")
			for _, it := range items {
				if pfx, ok := p.prefix(it); ok {
					m.Prefixes = append(m.Prefixes, pfx)
				}
			}
		case "uids":
			items, _ := p.list(v, field, "uids", true, false, "leave the field out to match any user")
			for _, it := range items {
				if it.n.Kind == yaml.ScalarNode && it.n.ShortTag() == "!!str" {
					if _, err := strconv.ParseInt(strings.TrimSpace(it.n.Value), 10, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
						p.errorf(it.n, it.field, "invalid uid %q (want a number 0..%d; user names are not looked up)", it.n.Value, uint32(math.MaxUint32-1))
						continue
					}
				}
				if u, ok := p.integer(it.n, it.field, 0, math.MaxUint32-1); ok {
					m.UIDs = append(m.UIDs, uint32(u))
				}
			}
		case "cgroup":
			if s, ok := p.str(v, field, "a cgroup path like /system.slice/voice.service"); ok {
				if c, ok := p.cgroup(v, field, s); ok {
					m.Cgroup = c
				}
			}
		case "process":
			if s, ok := p.str(v, field, "a process name (comm) like \"voice-app\""); ok && p.checkProcess(v, field, s) {
				m.Process = s
			}
		}
	})
	if ok && len(n.Content) == 0 {
		p.errorf(n, at, "no condition (want at least one of %s)", strings.Join(matchKeys, ", "))
	}
}

// port parses a port or an "A-B" range.
func (p *parser) port(it item) (PortRange, bool) {
	n := it.n
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!str") {
		p.errorf(n, it.field, "want a port 1..65535 or a range \"A-B\", got %s", describe(n))
		return PortRange{}, false
	}
	s := strings.TrimSpace(n.Value)
	num := func(s string) (uint16, string) {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, "bad"
		}
		if err != nil || v < 1 || v > math.MaxUint16 {
			return 0, fmt.Sprintf("port %s out of range (want 1..65535)", strings.TrimSpace(s))
		}
		return uint16(v), ""
	}
	if a, b, isRange := strings.Cut(s, "-"); isRange && a != "" {
		from, ea := num(a)
		to, eb := num(b)
		switch {
		case ea == "bad" || eb == "bad":
			p.errorf(n, it.field, "invalid port range %q (want \"A-B\" with ports 1..65535)", s)
		case ea != "":
			p.errorf(n, it.field, "invalid port range %q: %s", s, ea)
		case eb != "":
			p.errorf(n, it.field, "invalid port range %q: %s", s, eb)
		case from > to:
			p.errorf(n, it.field, "invalid port range %q: start is after end (did you mean \"%d-%d\"?)", s, to, from)
		default:
			return PortRange{from, to}, true
		}
		return PortRange{}, false
	}
	v, e := num(s)
	switch e {
	case "":
		return PortRange{v, v}, true
	case "bad":
		p.errorf(n, it.field, "invalid port %q (want a number 1..65535 or a range \"A-B\")", s)
	default:
		p.errorf(n, it.field, "%s", e)
	}
	return PortRange{}, false
}

// prefix parses an address prefix or a bare address.
func (p *parser) prefix(it item) (netip.Prefix, bool) {
	n := it.n
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errorf(n, it.field, "want an address or prefix like 10.0.0.0/8 or 2001:db8::/32, got %s", describe(n))
		return netip.Prefix{}, false
	}
	s := strings.TrimSpace(n.Value)
	as, bs, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(as)
	if err != nil {
		p.errorf(n, it.field, "invalid address %q (want an address or prefix like 10.0.0.0/8 or 2001:db8::/32)", as)
		return netip.Prefix{}, false
	}
	if a.Zone() != "" {
		p.errorf(n, it.field, "%q: an address zone (%%%s) is not allowed in a prefix", s, a.Zone())
		return netip.Prefix{}, false
	}
	bits := a.BitLen()
	if hasBits {
		v, err := strconv.Atoi(bs)
		if err != nil || v < 0 || v > a.BitLen() || strings.TrimLeft(bs, "0123456789") != "" {
			p.errorf(n, it.field, "invalid prefix length %q in %q (want 0..%d)", bs, s, a.BitLen())
			return netip.Prefix{}, false
		}
		bits = v
	}
	pfx := netip.PrefixFrom(a, bits)
	if a.Is4In6() && bits >= 96 {
		v4 := netip.PrefixFrom(a.Unmap(), bits-96).Masked()
		want := v4.String()
		if !hasBits {
			want = v4.Addr().String()
		}
		p.errorf(n, it.field, "%s is IPv4-mapped IPv6 (write it as %s: connections are matched on their IPv4 form)", s, want)
		return netip.Prefix{}, false
	}
	if m := pfx.Masked(); m != pfx {
		p.errorf(n, it.field, "%s has host bits set (did you mean %s?)", s, m)
		return netip.Prefix{}, false
	}
	return pfx, true
}

// cgroup validates and cleans a cgroup v2 path.
func (p *parser) cgroup(n *yaml.Node, field, s string) (string, bool) {
	switch {
	case !strings.HasPrefix(s, "/"):
		p.errorf(n, field, "%q is not an absolute path (want e.g. /system.slice/voice.service)", s)
	case slices.Contains(strings.Split(s, "/"), ".."):
		p.errorf(n, field, "%q: \"..\" is not allowed in a cgroup path", s)
	case strings.HasPrefix(path.Clean(s), "/sys/fs/cgroup/"):
		p.errorf(n, field, "%q: write the path below the cgroup2 mount (did you mean %q?)", s, strings.TrimPrefix(path.Clean(s), "/sys/fs/cgroup"))
	case strings.ContainsFunc(s, unicode.IsControl):
		p.errorf(n, field, "%q contains a control character", s)
	default:
		return path.Clean(s), true
	}
	return "", false
}

// checkProcess validates a process name (comm).
func (p *parser) checkProcess(n *yaml.Node, field, s string) bool {
	switch {
	case s == "":
		p.errorf(n, field, "empty name (leave the field out to match any process)")
	case strings.Contains(s, "/"):
		p.errorf(n, field, "%q is a path (want the process name (comm), e.g. %q)", s, truncate(path.Base(s), maxComm))
	case strings.ContainsFunc(s, unicode.IsControl):
		p.errorf(n, field, "%q contains a control character", s)
	case len(s) > maxComm:
		p.errorf(n, field, "%q is %d bytes long; the kernel keeps only the first %d of a process name (did you mean %q?)", s, len(s), maxComm, truncate(s, maxComm))
	default:
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// paths parses the paths section into ps, replacing the defaults. It
// returns the node of prefer, if given.
func (p *parser) paths(n *yaml.Node, at string, ps *Paths) *yaml.Node {
	*ps = Paths{}
	var preferNode *yaml.Node
	what := "a mapping with prefer and backup, e.g. {prefer: [wifi], backup: [cellular]}"
	p.fields(n, at, what, pathsKeys, nil, func(key string, k, v *yaml.Node) {
		field := join2(at, key)
		items, _ := p.list(v, field, "classes ("+classList()+")", true, true, "")
		dst := &ps.Prefer
		if key == "prefer" {
			preferNode = v
		} else {
			dst = &ps.Backup
		}
		for _, it := range items {
			c, ok := p.class(it, *dst, "never carries subflows")
			switch {
			case !ok:
			case key == "backup" && slices.Contains(ps.Prefer, c):
				p.errorf(it.n, it.field, "class %s is also in prefer (a class is either preferred or backup)", c)
			case key == "prefer" && slices.Contains(ps.Backup, c):
				p.errorf(it.n, it.field, "class %s is also in backup (a class is either preferred or backup)", c)
			default:
				*dst = append(*dst, c)
			}
		}
	})
	return preferNode
}

// class reads one interface class of a list that already holds list;
// loopback says why loopback is no use there.
func (p *parser) class(it item, list []ifmon.Class, loopback string) (ifmon.Class, bool) {
	s, ok := p.str(it.n, it.field, "a class ("+classList()+")")
	if !ok {
		return "", false
	}
	c := ifmon.Class(s)
	switch {
	case c == ifmon.ClassLoopback:
		p.errorf(it.n, it.field, "class loopback %s (want %s)", loopback, classList())
	case !slices.Contains(pathClasses, c):
		p.errorf(it.n, it.field, "unknown class %q (want %s)", s, classList())
	case slices.Contains(list, c):
		p.errorf(it.n, it.field, "class %s is listed twice", s)
	default:
		return c, true
	}
	return "", false
}

// handover parses the handover section over the defaults in h.
func (p *parser) handover(n *yaml.Node, at string, h *Handover) {
	what := "a mapping of handover settings (" + strings.Join(handoverKeys, ", ") + ")"
	p.fields(n, at, what, handoverKeys, nil, func(key string, k, v *yaml.Node) {
		field := join2(at, key)
		switch key {
		case "rto":
			if x, ok := p.integer(v, field, 0, 100); ok {
				h.RTO = int(x)
			}
		case "loss_percent":
			if x, ok := p.percent(v, field); ok {
				h.LossPercent = x
			}
		case "rtt_ms":
			if d, ok := unitDuration(v); ok {
				p.errorf(v, field, "want a whole number of milliseconds 0..60000, got %q (did you mean %d?)", v.Value, d.Milliseconds())
				return
			}
			if x, ok := p.integer(v, field, 0, 60000); ok {
				h.RTT = time.Duration(x) * time.Millisecond
			}
		case "hold_down":
			if d, ok := p.duration(v, field, maxHoldDown); ok {
				h.HoldDown = d
			}
		case "warm_standby":
			h.WarmStandby, _ = p.boolean(v, field)
		}
	})
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

// parseConfig parses a configuration file. It returns the configuration
// (nil if the file is not a mapping; possibly incomplete when there are
// errors), the node of policy_dir if given, and the mistakes.
func parseConfig(data []byte, file string) (*Config, *yaml.Node, []error) {
	cfg, _, dirNode, errs := parseConfigPM(data, file)
	return cfg, dirNode, errs
}

// parseConfigPM is parseConfig that also returns the pm and endpoints keys
// (nil when the configuration is).
func parseConfigPM(data []byte, file string) (*Config, *PMConfig, *yaml.Node, []error) {
	p := &parser{file: file, data: data}
	pmc := &PMConfig{PM: PMUserspace, Endpoints: DefaultEndpointConfig()}
	cfg := &Config{
		Source:        file,
		PolicyDir:     defaultPolicyDir,
		ControlSocket: defaultControlSocket,
		LogLevel:      "info",
	}
	root, empty := p.root()
	var dirNode *yaml.Node
	var defNode *yaml.Node
	if root != nil {
		what := "a mapping of configuration fields (" + strings.Join(configKeys, ", ") + ")"
		ok := p.fields(root, "", what, configKeys, configElsewhere, func(key string, k, v *yaml.Node) {
			switch key {
			case "policy_dir":
				if s, ok := p.str(v, key, "a directory"); ok {
					if s == "" {
						p.errorf(v, key, "empty path (leave the field out for %s)", defaultPolicyDir)
					} else {
						cfg.PolicyDir, dirNode = s, v
					}
				}
			case "set_pm_type":
				cfg.SetPMType, _ = p.boolean(v, key)
			case "control_socket":
				if s, ok := p.str(v, key, "an absolute path"); ok {
					switch {
					case !strings.HasPrefix(s, "/"):
						p.errorf(v, key, "%q is not an absolute path (want e.g. %s)", s, defaultControlSocket)
					case len(s) > maxSocketPath:
						p.errorf(v, key, "path is %d bytes long; a unix socket path has at most %d", len(s), maxSocketPath)
					default:
						cfg.ControlSocket = s
					}
				}
			case "control_group":
				if s, ok := p.str(v, key, "a group name"); ok {
					if s != "" && (len(s) > 32 || strings.ContainsFunc(s, func(r rune) bool {
						return unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' || r == '/' || r == ','
					})) {
						p.errorf(v, key, "invalid group name %q (want at most 32 characters, without spaces, ':', ',' or '/')", s)
					} else {
						cfg.ControlGroup = s
					}
				}
			case "log_level":
				if s, ok := p.str(v, key, "one of debug, info, warn, error"); ok {
					if slices.Contains([]string{"debug", "info", "warn", "error"}, s) {
						cfg.LogLevel = s
					} else {
						p.errorf(v, key, "unknown log level %q (want debug, info, warn, error)", s)
					}
				}
			case "interfaces":
				cfg.Interfaces = p.interfaces(v, key)
			case "default":
				defNode = v
				cfg.Default = Policy{Source: file}
				p.policyBody(v, key, &cfg.Default, true)
			case "pm":
				if s, ok := p.str(v, key, "userspace or kernel"); ok {
					switch PM(s) {
					case PMUserspace, PMKernel:
						pmc.PM = PM(s)
					default:
						p.errorf(v, key, "unknown path manager %q (want userspace or kernel)", s)
					}
				}
			case "endpoints":
				pmc.HasEndpoints = true
				p.endpoints(v, key, pmc.Endpoints)
			}
		})
		if !ok {
			return nil, nil, nil, p.errs
		}
	} else if !empty {
		return nil, nil, nil, p.errs
	}
	if defNode == nil {
		cfg.Default = Policy{
			Name:     "default",
			Source:   file,
			Mode:     ModeHandover,
			Paths:    Paths{Prefer: slices.Clone(DefaultPaths.Prefer), Backup: slices.Clone(DefaultPaths.Backup)},
			Handover: DefaultHandover,
		}
	}
	return cfg, pmc, dirNode, p.errs
}

// maxLimit is the highest in-kernel path manager limit the kernel accepts
// (MPTCP_PM_ADDR_MAX in net/mptcp/pm_kernel.c).
const maxLimit = 8

// endpointFlagNames are the flags an endpoints section may give.
var endpointFlagNames = []string{"subflow", "signal", "backup", "fullmesh"}

// endpoints parses the endpoints section over the defaults in ec. An
// empty section (endpoints: with nothing) keeps every default.
func (p *parser) endpoints(n *yaml.Node, at string, ec *EndpointConfig) {
	if isNull(n) {
		return
	}
	what := "a mapping of endpoint settings (" + strings.Join(endpointKeys, ", ") + ")"
	p.fields(n, at, what, endpointKeys, nil, func(key string, k, v *yaml.Node) {
		field := join2(at, key)
		switch key {
		case "interfaces":
			items, _ := p.list(v, field, "interface name patterns like \"wlan*\"", true, false,
				"leave the field out for every interface that is not loopback or virtual")
			first := make(map[string]string)
			for _, it := range items {
				s, ok := p.str(it.n, it.field, "an interface name pattern like \"wlan*\"")
				switch {
				case !ok:
				case s == "":
					p.errorf(it.n, it.field, "empty pattern (want e.g. \"wlan*\")")
				case isBadPattern(s):
					p.errorf(it.n, it.field, "invalid pattern %q (want shell syntax: *, ?, [a-z], \\ to quote)", s)
				case !strings.ContainsAny(s, `*?[\`) && len(s) > maxIfName:
					p.errorf(it.n, it.field, "%q is longer than %d bytes, the longest interface name Linux allows", s, maxIfName)
				case first[s] != "":
					p.errorf(it.n, it.field, "pattern %q is already in %s", s, first[s])
				default:
					first[s] = it.field
					ec.Interfaces = append(ec.Interfaces, s)
				}
			}
		case "flags":
			items, ok := p.list(v, field, "flags ("+strings.Join(endpointFlagNames, ", ")+")", true, false,
				"want at least one of "+strings.Join(endpointFlagNames, ", ")+"; leave the field out for subflow")
			if !ok {
				return
			}
			var flags genl.Flags
			bad := false
			for _, it := range items {
				s, ok := p.str(it.n, it.field, "a flag ("+strings.Join(endpointFlagNames, ", ")+")")
				if !ok {
					bad = true
					continue
				}
				f, known := genl.ParseFlag(s)
				switch {
				case known && !slices.Contains(endpointFlagNames, s):
					p.errorf(it.n, it.field, "flag %s is set by the kernel, not by configuration (want %s)", s, strings.Join(endpointFlagNames, ", "))
					bad = true
				case !known:
					p.errorf(it.n, it.field, "unknown flag %q (want %s)", s, strings.Join(endpointFlagNames, ", "))
					bad = true
				case flags&f != 0:
					p.errorf(it.n, it.field, "flag %s is listed twice", s)
					bad = true
				default:
					flags |= f
				}
			}
			if bad {
				return
			}
			if flags&genl.FlagSignal != 0 && flags&genl.FlagFullmesh != 0 {
				p.errorf(v, field, "signal and fullmesh together are refused by the kernel (a fullmesh endpoint opens subflows, a signal one is announced)")
				return
			}
			ec.Flags = flags
		case "backup":
			items, _ := p.list(v, field, "classes ("+classList()+")", true, true, "")
			for _, it := range items {
				if c, ok := p.class(it, ec.Backup, "never has endpoints"); ok {
					ec.Backup = append(ec.Backup, c)
				}
			}
		case "limits":
			what := "a mapping of limits (" + strings.Join(limitsKeys, ", ") + "), e.g. {subflows: 2, add_addr_accepted: 2}"
			p.fields(v, field, what, limitsKeys, nil, func(key string, k, v *yaml.Node) {
				x, ok := p.integer(v, join2(field, key), 0, maxLimit)
				if !ok {
					return
				}
				u := uint32(x)
				if key == "subflows" {
					ec.Limits.Subflows = &u
				} else {
					ec.Limits.AddAddrAccepted = &u
				}
			})
		}
	})
}

// interfaces parses the interface rules.
func (p *parser) interfaces(n *yaml.Node, at string) []InterfaceRule {
	items, _ := p.list(n, at, "rules like {name: \"wlan*\", class: wifi}", false, true, "")
	var rules []InterfaceRule
	first := make(map[string]string)
	for _, it := range items {
		var r InterfaceRule
		var seenName, seenClass, bad bool
		ok := p.fields(it.n, it.field, "a rule like {name: \"wlan*\", class: wifi}", ruleKeys, nil, func(key string, k, v *yaml.Node) {
			field := it.field + "." + key
			switch key {
			case "name":
				seenName = true
				s, ok := p.str(v, field, "an interface name pattern like \"wlan*\"")
				switch {
				case !ok:
					bad = true
				case s == "":
					p.errorf(v, field, "empty pattern (want e.g. \"wlan*\")")
					bad = true
				case isBadPattern(s):
					p.errorf(v, field, "invalid pattern %q (want shell syntax: *, ?, [a-z], \\ to quote)", s)
					bad = true
				case !strings.ContainsAny(s, `*?[\`) && len(s) > maxIfName:
					p.errorf(v, field, "%q is longer than %d bytes, the longest interface name Linux allows", s, maxIfName)
					bad = true
				case first[s] != "":
					p.errorf(v, field, "pattern %q is already in %s (the first match wins, so this rule is never used)", s, first[s])
					bad = true
				default:
					r.Name = s
					first[s] = it.field
				}
			case "class":
				seenClass = true
				s, ok := p.str(v, field, "a class ("+classList()+")")
				switch {
				case !ok:
					bad = true
				case ifmon.Class(s) == ifmon.ClassLoopback:
					p.errorf(v, field, "class loopback is not allowed here (want %s)", classList())
					bad = true
				case !slices.Contains(pathClasses, ifmon.Class(s)):
					p.errorf(v, field, "unknown class %q (want %s)", s, classList())
					bad = true
				default:
					r.Class = ifmon.Class(s)
				}
			}
		})
		if !ok {
			continue
		}
		if !seenName {
			p.errorf(it.n, it.field+".name", "required field is missing (want a pattern like \"wlan*\")")
			bad = true
		}
		if !seenClass {
			p.errorf(it.n, it.field+".class", "required field is missing (want %s)", classList())
			bad = true
		}
		if !bad {
			rules = append(rules, r)
		}
	}
	return rules
}

// isBadPattern reports whether s is not valid path.Match syntax.
func isBadPattern(s string) bool {
	_, err := path.Match(s, "")
	return err != nil
}
