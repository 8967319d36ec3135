package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mptcp-pm/mptcp-pm/internal/testutil"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// cli runs one command line against fakes and returns its output.
func cli(t *testing.T, line ...string) string {
	t.Helper()
	e, out, _ := testEnv(&fakePM{}, nil)
	if err := run(e, line); err != nil {
		t.Fatalf("mptcp-pm %s: %v", strings.Join(line, " "), err)
	}
	return out.String()
}

// runScript runs a program with its input and returns its output; a
// failure or anything on stderr fails the test.
func runScript(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdin = strings.NewReader(stdin)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

var (
	sgr       = regexp.MustCompile("\x1b\\[[0-9;]*m")
	overprint = regexp.MustCompile(".\x08")
)

func TestManPage(t *testing.T) {
	man := cli(t, "doc", "man")
	// Every object's usage, verbatim and in the table's order.
	last := -1
	for _, o := range objects {
		if o.usage == "" {
			continue
		}
		i := strings.Index(man, ".SS "+o.name+"\n.RS 4\n"+roffVerbatim(o.usage))
		if i < 0 {
			t.Errorf("no section for %s with its usage verbatim", o.name)
		} else if i < last {
			t.Errorf("%s is out of the table's order", o.name)
		}
		last = i
	}
	for _, s := range []string{".TH MPTCP-PM 8 ", ".SH NAME\n", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH OPTIONS\n",
		".SH COMMANDS\n", ".SH FILES\n", ".SH SEE ALSO\n", ".BR ip\\-mptcp (8)"} {
		if !strings.Contains(man, s) {
			t.Errorf("no %q in the page", s)
		}
	}

	groff := testutil.LookPath(t, "groff")
	var out, errb bytes.Buffer
	c := exec.Command(groff, "-man", "-Tutf8", "-ww")
	c.Stdin = strings.NewReader(man)
	c.Stdout, c.Stderr = &out, &errb
	c.Env = append(os.Environ(), "MANWIDTH=", "GROFF_SGR=")
	if err := c.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("groff -man -Tutf8 -ww: %v, warnings:\n%s", err, errb.String())
	}
	text := overprint.ReplaceAllString(sgr.ReplaceAllString(out.String(), ""), "")
	// Every line of every usage text is on a line of the rendered page.
	lines := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = true
	}
	check := func(what, usage string) {
		for _, l := range strings.Split(usage, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" && !lines[l] {
				t.Errorf("%s: the rendered page has no line %q", what, l)
			}
		}
	}
	synopsis, _, _ := strings.Cut(globalUsage, "\n\n")
	check("synopsis", synopsis)
	for _, o := range objects {
		check(o.name, o.usage)
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, s := range []string{"-j, --json print JSON", "-n, --netns NAME act in the network namespace NAME",
		`Keywords may be shortened to a prefix, as with ip(8): "mptcp-pm endp sh".`,
		"/etc/mptcp-pm/config.yaml", "/etc/mptcp-pm/policies.d/", "/run/mptcp-pm/control.sock", "ip-mptcp(8)"} {
		if !strings.Contains(flat, s) {
			t.Errorf("the rendered page has no %q:\n%s", s, text)
		}
	}
}

func TestRoffText(t *testing.T) {
	for in, want := range map[string]string{
		`a\b`:         `a\(rsb`,
		".x\n'y\n z.": "\\&.x\n\\(aqy\n z.",
		"--json `x`":  `\-\-json \(gax\(ga`,
	} {
		if got := roffText(in); got != want {
			t.Errorf("roffText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDocErrors(t *testing.T) {
	for _, l := range []string{"doc", "doc frob", "doc man x", "doc completion", "doc completion tcsh", "doc completion bash zsh"} {
		e, _, _ := testEnv(&fakePM{}, nil)
		if err := run(e, strings.Fields(l)); err == nil {
			t.Errorf("%s: no error", l)
		}
	}
	if got := cli(t, "doc", "comp", "b"); !strings.Contains(got, "complete -F _mptcp_pm mptcp-pm") {
		t.Errorf("doc comp b is not the bash script:\n%s", got)
	}
}

// keywordWord matches one keyword of a grammar line once brackets and
// alternatives are split off: "port", "--log-level", "-c".
var keywordWord = regexp.MustCompile(`^-{0,2}[a-z][a-z_-]*$`)

// grammar returns, for each grammar line of usage ("Usage: mptcp-pm OBJECT
// …" and the "       mptcp-pm OBJECT …" under it), its words after
// "mptcp-pm OBJECT".
func grammar(usage, object string) [][]string {
	var r [][]string
	for _, l := range strings.Split(usage, "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "Usage: ")
		if rest, ok := strings.CutPrefix(l, "mptcp-pm "+object); ok && (rest == "" || rest[0] == ' ') {
			r = append(r, strings.Fields(rest))
		}
	}
	return r
}

// keywords are the lower-case keywords among words: "[port" "PORT]" and
// "backup|nobackup" give port, backup and nobackup.
func keywords(words []string) []string {
	var r []string
	for _, w := range words {
		for _, a := range strings.Split(strings.Trim(w, "[]{}"), "|") {
			if keywordWord.MatchString(a) {
				r = append(r, a)
			}
		}
	}
	return r
}

// TestCompletionRegistry keeps the completion tables (objectVerbs,
// commandKeywords, keywordArgs) in step with the commands: the verbs are
// those verb() accepts, and every keyword is in its object's usage, which
// is what "OBJECT help" prints.
func TestCompletionRegistry(t *testing.T) {
	names := map[string]bool{}
	for _, o := range objects {
		names[o.name] = true
	}
	usage := map[string]string{}
	for _, o := range objects {
		if o.usage == "" {
			continue
		}
		usage[o.name] = cli(t, o.name, "help")
		if usage[o.name] != o.usage {
			t.Errorf("%s help does not print its usage", o.name)
		}
	}
	word := func(text, w string) bool {
		return regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(w) + `($|[^\w-])`).MatchString(text)
	}

	for obj, verbs := range objectVerbs {
		if usage[obj] == "" {
			t.Errorf("objectVerbs: no object %q", obj)
			continue
		}
		// verb() names the verbs it accepts, in order, in its error.
		e, _, _ := testEnv(&fakePM{}, nil)
		err := run(e, []string{obj, "no-such-verb"})
		if want := "(expected " + strings.Join(verbs, ", ") + ")"; err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("objectVerbs[%q] = %v, but %s no-such-verb says: %v", obj, verbs, obj, err)
		}
	}

	used := map[string]bool{}
	for key, kws := range commandKeywords {
		obj, verb, hasVerb := strings.Cut(key, " ")
		if usage[obj] == "" {
			t.Errorf("commandKeywords[%q]: no object %q", key, obj)
			continue
		}
		if hasVerb != (objectVerbs[obj] != nil) || hasVerb && !slices.Contains(objectVerbs[obj], verb) {
			t.Errorf("commandKeywords[%q]: %q is not a command of %s (verbs %v)", key, key, obj, objectVerbs[obj])
		}
		for _, k := range kws {
			used[k] = true
			if !word(usage[obj], k) {
				t.Errorf("commandKeywords[%q]: keyword %q is not in the usage of %s:\n%s", key, k, obj, usage[obj])
			}
			if arg, ok := keywordArgs[k]; ok && !strings.HasPrefix(arg, "@") {
				for _, v := range strings.Fields(arg) {
					if !word(usage[obj], v) {
						t.Errorf("keywordArgs[%q]: value %q is not in the usage of %s", k, v, obj)
					}
				}
			}
		}
	}
	for k, arg := range keywordArgs {
		if !used[k] {
			t.Errorf("keywordArgs[%q]: no command has that keyword", k)
		}
		if strings.HasPrefix(arg, "@") && !slices.Contains([]string{"@ifname", "@token", "@file"}, arg) {
			t.Errorf("keywordArgs[%q]: unknown kind %q", k, arg)
		}
	}
	for c, kind := range freeWords {
		obj, verb, hasVerb := strings.Cut(c, " ")
		if usage[obj] == "" || hasVerb != (objectVerbs[obj] != nil) || hasVerb && !slices.Contains(objectVerbs[obj], verb) {
			t.Errorf("freeWords: %q is not a command", c)
		}
		if kind != "@file" && kind != "@command" {
			t.Errorf("freeWords[%q]: unknown kind %q", c, kind)
		}
	}

	// The other way: every verb and keyword of every grammar line is in
	// the tables.
	for _, o := range objects {
		if o.usage == "" {
			continue
		}
		lines := grammar(o.usage, o.name)
		if len(lines) == 0 {
			t.Errorf("%s: no grammar line in its usage", o.name)
		}
		seen := map[string]bool{}
		for _, words := range lines {
			key := o.name
			if verbs := objectVerbs[o.name]; verbs != nil {
				if len(words) == 0 || !slices.Contains(verbs, words[0]) {
					t.Errorf("%s: grammar line %q starts with no verb of objectVerbs (%v)", o.name, words, verbs)
					continue
				}
				seen[words[0]] = true
				key += " " + words[0]
				words = words[1:]
			}
			for i := 0; i < len(words); i++ {
				for _, k := range keywords(words[i : i+1]) {
					if !slices.Contains(commandKeywords[key], k) {
						t.Errorf("%s: keyword %q of its usage is not in commandKeywords[%q]", o.name, k, key)
					}
					arg, ok := keywordArgs[k]
					if !ok || i+1 == len(words) {
						continue
					}
					// Its value: "PORT", or the words it may be ("auto|bpf").
					i++
					for _, v := range keywords(words[i : i+1]) {
						if !slices.Contains(strings.Fields(arg), v) {
							t.Errorf("%s: value %q of %s is not in keywordArgs[%q]", o.name, v, k, k)
						}
					}
				}
			}
		}
		for _, v := range objectVerbs[o.name] {
			if !seen[v] {
				t.Errorf("%s: verb %q has no grammar line in the usage", o.name, v)
			}
		}
	}
}

// script writes the completion script for shell to a file.
func script(t *testing.T, shell string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mptcp-pm."+shell)
	if err := os.WriteFile(p, []byte(cli(t, "doc", "completion", shell)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// completionCases are command lines, the last word the one being
// completed, and candidates the completion must offer; for zsh, those
// zsh completes itself (files, commands) are @file and @command.
func completionCases(dir string) []struct {
	words     []string
	want, zsh []string
} {
	return []struct {
		words     []string
		want, zsh []string
	}{
		{[]string{"mptcp-pm", "endp"}, []string{"endpoint"}, nil},
		{[]string{"mptcp-pm", "endpoint", ""}, []string{"add", "delete", "change", "show", "flush"}, nil},
		{[]string{"mptcp-pm", ""}, []string{"endpoint", "limits", "subflow", "daemon", "doc", "help"}, nil},
		{[]string{"mptcp-pm", "--j"}, []string{"--json"}, nil},
		{[]string{"mptcp-pm", "-j", "sub", "a", ""}, []string{"token", "local", "remote", "port", "backup"}, nil},
		{[]string{"mptcp-pm", "endp", "add", "10.0.1.2", "dev", "l"}, []string{"lo"}, nil},
		{[]string{"mptcp-pm", "daemon", "--log-level", ""}, []string{"debug", "info", "warn", "error"}, nil},
		{[]string{"mptcp-pm", "doc", "completion", ""}, []string{"bash", "zsh", "fish"}, nil},
		{[]string{"mptcp-pm", "policy", "check", filepath.Join(dir, "vo")}, []string{filepath.Join(dir, "voice.yaml")}, []string{"@file"}},
		{[]string{"mptcp-pm", "run", "--method", ""}, []string{"auto", "bpf", "godebug", "preload"}, nil},
		{[]string{"mptcp-pm", "-n", "x", "run", "--quiet", "--", "ech"}, []string{"echo"}, []string{"@command"}},
		{[]string{"mptcp-pm", "run", "echo", filepath.Join(dir, "vo")}, []string{filepath.Join(dir, "voice.yaml")}, []string{"@file"}},
	}
}

func policyDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "voice.yaml"), []byte("name: voice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func checkCandidates(t *testing.T, words []string, got string, want []string) {
	t.Helper()
	cands := strings.Fields(got)
	for _, w := range want {
		if !slices.Contains(cands, w) {
			t.Errorf("%q: candidates %q, want %q among them", words, cands, w)
		}
	}
}

func TestBashCompletion(t *testing.T) {
	bash := testutil.LookPath(t, "bash")
	p := script(t, "bash")
	runScript(t, "", bash, "-n", p)
	dir := policyDir(t)
	for _, c := range completionCases(dir) {
		var q []string
		for _, w := range c.words {
			q = append(q, "'"+w+"'")
		}
		got := runScript(t, "", bash, "-c", `source "$1"
COMP_WORDS=(`+strings.Join(q, " ")+`)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_mptcp_pm 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`, "bash", p)
		checkCandidates(t, c.words, got, c.want)
		cur := c.words[len(c.words)-1]
		for _, g := range strings.Fields(got) {
			if !strings.HasPrefix(g, cur) {
				t.Errorf("%q: candidate %q does not start with %q", c.words, g, cur)
			}
		}
	}
}

func TestZshCompletion(t *testing.T) {
	zsh := testutil.LookPath(t, "zsh")
	p := script(t, "zsh")
	runScript(t, "", zsh, "-n", p)
	// The function that computes the candidates (the one bash uses too),
	// run by zsh: zsh does not split words as bash does.
	dir := policyDir(t)
	for _, c := range completionCases(dir) {
		var q []string
		for _, w := range c.words {
			q = append(q, "'"+w+"'")
		}
		got := runScript(t, "", zsh, "-fc", `autoload -Uz compinit && compinit -u -D
source "$1"
_mptcp_pm_candidates `+strconv.Itoa(len(c.words))+" "+strings.Join(q, " "), "zsh", p)
		want := c.want
		if c.zsh != nil {
			want = c.zsh
		}
		checkCandidates(t, c.words, got, want)
	}
}

func TestFishCompletion(t *testing.T) {
	fish := testutil.LookPath(t, "fish")
	p := script(t, "fish")
	runScript(t, "", fish, "-n", p)
	dir := policyDir(t)
	for _, c := range completionCases(dir) {
		got := runScript(t, "", fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, p, strings.Join(c.words, " "))
		var cands []string
		for _, l := range strings.Split(got, "\n") {
			cand, _, _ := strings.Cut(l, "\t")
			cands = append(cands, cand)
		}
		checkCandidates(t, c.words, strings.Join(cands, "\n"), c.want)
	}
}

// TestMakeInstall stages "make install" into a directory and checks the
// tree, that a second install keeps the configuration, and that uninstall
// leaves only the configuration.
func TestMakeInstall(t *testing.T) {
	mk := testutil.LookPath(t, "make")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dest, build := t.TempDir(), t.TempDir()
	makeRun := func(target string) string {
		t.Helper()
		c := exec.Command(mk, "-C", root, "--no-print-directory", target, "DESTDIR="+dest, "PREFIX=/usr", "BUILDDIR="+build)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	tree := func() []string {
		var files []string
		err := filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, strings.TrimPrefix(p, dest))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}

	makeRun("install")
	want := []string{
		"/etc/mptcp-pm/config.yaml",
		"/etc/mptcp-pm/policies.d/example-voice.yaml.example",
		"/etc/systemd/system/mptcp-pm.service",
		"/etc/systemd/system/mptcp-pm@.service",
		"/etc/sysusers.d/mptcp-pm.conf",
		"/usr/bin/mptcp-pm",
		"/usr/share/bash-completion/completions/mptcp-pm",
		"/usr/share/fish/vendor_completions.d/mptcp-pm.fish",
		"/usr/share/man/man8/mptcp-pm.8",
		"/usr/share/zsh/site-functions/_mptcp-pm",
	}
	if got := tree(); !slices.Equal(got, want) {
		t.Fatalf("installed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	read := func(p string) string {
		b, err := os.ReadFile(dest + p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(read("/usr/share/man/man8/mptcp-pm.8"), "\n.TH MPTCP-PM 8 ") {
		t.Error("the man page is not mptcp-pm doc man")
	}
	for _, unit := range []string{"mptcp-pm.service", "mptcp-pm@.service"} {
		if !strings.Contains(read("/etc/systemd/system/"+unit), "ExecStart=/usr/bin/mptcp-pm daemon ") {
			t.Errorf("%s does not start /usr/bin/mptcp-pm", unit)
		}
	}
	if st, err := os.Stat(dest + "/usr/bin/mptcp-pm"); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v %v", st.Mode(), err)
	}

	const mine = "# the administrator's\n"
	for _, f := range []string{"/etc/mptcp-pm/config.yaml", "/etc/mptcp-pm/policies.d/example-voice.yaml.example"} {
		if err := os.WriteFile(dest+f, []byte(mine), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out := makeRun("install"); !strings.Contains(out, "kept "+dest+"/etc/mptcp-pm/config.yaml") {
		t.Errorf("second install does not say it kept the configuration:\n%s", out)
	}
	if read("/etc/mptcp-pm/config.yaml") != mine || read("/etc/mptcp-pm/policies.d/example-voice.yaml.example") != mine {
		t.Error("a second install overwrote the configuration")
	}

	makeRun("uninstall")
	want = []string{"/etc/mptcp-pm/config.yaml", "/etc/mptcp-pm/policies.d/example-voice.yaml.example"}
	if got := tree(); !slices.Equal(got, want) {
		t.Errorf("after uninstall (a changed example stays):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The user's documentation: the README is one page, docs/ the rest.
// These tests read it from the repository's root.
const repoRoot = "../.."

// docPages are the Markdown files whose links and examples are checked:
// the README, every page of docs/, and the READMEs of scripts/ and bpf/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "scripts", "README.md"),
		filepath.Join(repoRoot, "bpf", "README.md"))
	if len(pages) < 10 {
		t.Fatalf("found only %d pages: %v", len(pages), pages)
	}
	return pages
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlocks returns the fenced blocks of a Markdown text whose opening
// fence is exactly "```"+lang, without their fences.
func codeBlocks(text, lang string) []string {
	var blocks []string
	var cur strings.Builder
	in, other := false, false
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case !in && !other && strings.HasPrefix(t, "```"):
			if t == "```"+lang {
				in = true
			} else {
				other = true
			}
		case (in || other) && t == "```":
			if in {
				blocks = append(blocks, cur.String())
			}
			cur.Reset()
			in, other = false, false
		case in:
			cur.WriteString(l + "\n")
		}
	}
	return blocks
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
	slugDrop  = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// anchors are the anchors GitHub gives the headings of a Markdown text:
// lower case, punctuation dropped, spaces as hyphens.
func anchors(text string) map[string]bool {
	r := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		slug := strings.ReplaceAll(slugDrop.ReplaceAllString(strings.ToLower(m[1]), ""), " ", "-")
		r[slug] = true
	}
	return r
}

// TestDocLinks checks that every relative link of the documentation
// leads to a file of the repository, and its #anchor to a heading there.
func TestDocLinks(t *testing.T) {
	for _, page := range docPages(t) {
		text := readDoc(t, page)
		// Links inside code blocks are not links.
		for _, b := range codeBlocks(text, "") {
			text = strings.Replace(text, b, "", 1)
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %q: %v", page, link, err)
					continue
				}
			}
			if anchor != "" {
				if !strings.HasSuffix(target, ".md") {
					t.Errorf("%s: link %q: an anchor into a file that is not Markdown", page, link)
				} else if !anchors(readDoc(t, target))[anchor] {
					t.Errorf("%s: link %q: %s has no heading with anchor #%s", page, link, target, anchor)
				}
			}
		}
	}
}

// TestDocYAML checks that every YAML example of the documentation is a
// valid file: a policy when it has a top-level name, else a configuration
// (as policy check tells them apart).
func TestDocYAML(t *testing.T) {
	n := 0
	for _, page := range docPages(t) {
		for i, b := range codeBlocks(readDoc(t, page), "yaml") {
			n++
			name := page + " yaml block " + strconv.Itoa(i+1)
			var err error
			if regexp.MustCompile(`(?m)^name:`).MatchString(b) {
				_, err = policy.ParsePolicy(strings.NewReader(b), name)
			} else {
				_, err = policy.ParseConfig(strings.NewReader(b), name)
			}
			if err != nil {
				t.Errorf("%v\n%s", err, b)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d YAML examples, want the README's policy and those of docs/", n)
	}
}

// TestDocCommands checks that docs/cli.md's synopsis has every command
// of the command table with every keyword of commandKeywords, and that
// the README's synopsis is the same text.
func TestDocCommands(t *testing.T) {
	cliDoc := filepath.Join(repoRoot, "docs", "cli.md")
	blocks := codeBlocks(readDoc(t, cliDoc), "")
	if len(blocks) == 0 || !strings.HasPrefix(blocks[0], "mptcp-pm [") {
		t.Fatalf("%s does not open with the synopsis", cliDoc)
	}
	synopsis := strings.Split(strings.TrimSpace(blocks[0]), "\n")
	// lineFor finds the synopsis line of a command: "OBJECT [VERB]" right
	// after "mptcp-pm" and the global options.
	head := regexp.MustCompile(`^mptcp-pm(?: \[-[^\]]*\])* `)
	lineFor := func(cmd string) string {
		for _, l := range synopsis {
			rest := head.ReplaceAllString(l, "")
			if rest == cmd || strings.HasPrefix(rest, cmd+" ") {
				return l
			}
		}
		return ""
	}
	word := func(text, w string) bool {
		return regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(w) + `($|[^\w-])`).MatchString(text)
	}
	for _, o := range objects {
		if o.usage == "" {
			continue
		}
		cmds := []string{o.name}
		if verbs := objectVerbs[o.name]; verbs != nil {
			cmds = nil
			for _, v := range verbs {
				cmds = append(cmds, o.name+" "+v)
			}
		}
		for _, c := range cmds {
			l := lineFor(c)
			if l == "" {
				t.Errorf("%s: no synopsis line for %q", cliDoc, c)
				continue
			}
			for _, k := range commandKeywords[c] {
				if !word(l, k) {
					t.Errorf("%s: the synopsis of %q has no %q: %s", cliDoc, c, k, l)
				}
			}
		}
	}

	readme := filepath.Join(repoRoot, "README.md")
	text := readDoc(t, readme)
	_, after, ok := strings.Cut(text, "\n## Command line\n")
	if bs := codeBlocks(after, ""); !ok || len(bs) == 0 || bs[0] != blocks[0] {
		t.Errorf("%s: the synopsis under \"## Command line\" is not that of %s", readme, cliDoc)
	}
}

// TestDocMetrics checks that docs/metrics.md names every metric the
// daemon registers.
func TestDocMetrics(t *testing.T) {
	src := readDoc(t, filepath.Join(repoRoot, "daemon", "metrics.go"))
	doc := readDoc(t, filepath.Join(repoRoot, "docs", "metrics.md"))
	names := regexp.MustCompile(`(?:Name: |BuildFQName\(metricsNamespace, "", )"([a-z_]+)"`).FindAllStringSubmatch(src, -1)
	if len(names) < 10 {
		t.Fatalf("found %d metrics in daemon/metrics.go, want every one", len(names))
	}
	for _, m := range names {
		if name := "mptcp_pm_" + m[1]; !strings.Contains(doc, "`"+name) {
			t.Errorf("docs/metrics.md does not name %s", name)
		}
	}
}

// TestDocTestCommand checks that the README gives, in a block of its own,
// the test command .ci/run runs.
func TestDocTestCommand(t *testing.T) {
	ci := readDoc(t, filepath.Join(repoRoot, ".ci", "run"))
	var cmd string
	for _, l := range strings.Split(ci, "\n") {
		if strings.HasPrefix(l, "go test ") {
			cmd = l
		}
	}
	if cmd == "" {
		t.Fatal(".ci/run runs no go test command")
	}
	if !slices.Contains(codeBlocks(readDoc(t, filepath.Join(repoRoot, "README.md")), "sh"), cmd+"\n") {
		t.Errorf("the README has no sh block that is .ci/run's test command %q", cmd)
	}
}
