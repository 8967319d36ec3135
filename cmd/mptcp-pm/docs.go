package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

const docUsage = `Usage: mptcp-pm doc man
       mptcp-pm doc completion { bash | zsh | fish }

Prints documentation generated from the command line's own help texts:
"man" the manual page mptcp-pm(8) in troff, "completion" a completion
script for the shell. "make install" installs both; to try them:
  man -l <(mptcp-pm doc man)
  source <(mptcp-pm doc completion bash)
`

func runDoc(e *env, args []string) error {
	return verb(e, "doc", docUsage, args, "", []command{
		{name: "man", run: func(e *env, args []string) error {
			if len(args) > 0 {
				return (&scanner{cmd: "doc man"}).unknown(args[0], "nothing")
			}
			return writeMan(e.stdout)
		}},
		{name: "completion", run: func(e *env, args []string) error {
			shells := []string{"bash", "zsh", "fish"}
			if len(args) != 1 {
				return usagef("doc completion: want one shell (%s)", strings.Join(shells, ", "))
			}
			sh, ok := match(args[0], shells...)
			if !ok {
				return (&scanner{cmd: "doc completion"}).unknown(args[0], shells...)
			}
			return writeCompletion(e.stdout, sh)
		}},
	})
}

// The completion scripts know the grammar from three tables. The objects
// come from the command table itself; the verbs and keywords below are
// checked against every object's usage text and against the verbs that
// verb() accepts by TestCompletionRegistry, so they cannot drift silently.

// objectVerbs are the verbs of the objects that dispatch with verb(), in
// the order of their verb() call.
var objectVerbs = map[string][]string{
	"endpoint":   {"add", "delete", "change", "show", "flush"},
	"limits":     {"set", "show"},
	"subflow":    {"add", "delete", "set"},
	"connection": {"show", "trace", "watch"},
	"policy":     {"check", "explain"},
	"doc":        {"man", "completion"},
}

// commandKeywords are the keywords that may follow a command: the key is
// "OBJECT VERB", or "OBJECT" for an object without verbs.
var commandKeywords = map[string][]string{
	"endpoint add":    {"port", "dev", "id", "signal", "subflow", "backup", "fullmesh", "laminar"},
	"endpoint delete": {"id"},
	"endpoint change": {"id", "port", "backup", "nobackup", "fullmesh", "nofullmesh"},
	"endpoint show":   {"id", "token"},
	"limits set":      {"subflows", "add_addr_accepted"},
	"monitor":         {"quality", "decisions", "--control", "--json-legacy"},
	"announce":        {"id", "token", "port", "dev"},
	"remove":          {"id", "token"},
	"subflow add":     {"token", "local", "id", "port", "remote", "dev", "backup"},
	"subflow delete":  {"token", "local", "port", "remote"},
	"subflow set":     {"token", "local", "port", "remote", "backup", "nobackup"},
	"connection show": {"token", "--control"},
	"daemon":          {"-c", "--set-pm-type", "--endpoints", "--force", "--dry-run", "--control", "--log-level", "--quality", "--metrics", "--event-buffer", "--audit-interval", "--user"},
	"status":          {"--brief", "--control"},
	"reload":          {"--control"},
	"policy check":    {"-c", "--endpoints"},
	"run":             {"--method", "--policy", "-c", "--quiet"},
	"policy explain":  {"token", "port", "dest", "uid", "cgroup", "process", "--control"},
	"doc completion":  {"bash", "zsh", "fish"},
}

// keywordArgs are the keywords that take a value, and what the scripts
// complete it with: "" nothing (a number, an address), "@ifname" the
// interfaces of the namespace, "@token" the tokens `connection show`
// lists, "@file" file names, else the words the value may be.
var keywordArgs = map[string]string{
	"port":              "",
	"id":                "",
	"local":             "",
	"remote":            "",
	"subflows":          "",
	"add_addr_accepted": "",
	"dev":               "@ifname",
	"token":             "@token",
	"dest":              "",
	"uid":               "",
	"cgroup":            "",
	"process":           "",
	"-c":                "@file",
	"--control":         "@file",
	"--log-level":       "debug info warn error",
	"--quality":         "auto bpf sockdiag off",
	"--metrics":         "",
	"--event-buffer":    "",
	"--audit-interval":  "",
	"--user":            "",
	"--method":          "auto bpf godebug preload",
	"--policy":          "",
	"--for":             "",
	"--svg":             "@file",
	"--html":            "@file",
	"--from":            "@file",
	"--interval":        "",
}

// freeWords are what the words that are not keywords are completed with:
// "@file" file names, "@command" a command (then the files of its
// arguments).
var freeWords = map[string]string{
	"policy check": "@file",
	"run":          "@command",
}

// globalOptions are what run() reads before the object.
var globalOptions = []string{"-j", "--json", "-t", "--timestamp", "-n", "--netns", "-h", "--help"}

// caseArm is one arm of a generated shell switch.
type caseArm struct {
	Key   string
	Words []string
}

func (a caseArm) Joined() string { return strings.Join(a.Words, " ") }

func arms(m map[string][]string, order []string) []caseArm {
	var r []caseArm
	for _, k := range order {
		if w, ok := m[k]; ok {
			r = append(r, caseArm{k, w})
		}
	}
	return r
}

// completionData is what the script templates read, in table order.
func completionData() map[string]any {
	var names, keys []string
	for _, o := range objects {
		names = append(names, o.name)
		keys = append(keys, o.name)
		for _, v := range objectVerbs[o.name] {
			keys = append(keys, o.name+" "+v)
		}
	}
	argKeys := make([]string, 0, len(keywordArgs))
	for k := range keywordArgs {
		argKeys = append(argKeys, k)
	}
	slices.Sort(argKeys)
	var args []caseArm
	for _, k := range argKeys {
		args = append(args, caseArm{k, strings.Fields(keywordArgs[k])})
	}
	var free []caseArm
	for _, k := range keys {
		if f, ok := freeWords[k]; ok {
			free = append(free, caseArm{k, []string{f}})
		}
	}
	return map[string]any{
		"Objects":  strings.Join(names, " "),
		"Options":  strings.Join(globalOptions, " "),
		"Verbs":    arms(objectVerbs, names),
		"Keywords": arms(commandKeywords, keys),
		"Args":     args,
		"Free":     free,
	}
}

var completionTemplates = template.Must(template.New("").Parse(`
{{- define "header" -}}
# {{.}} completion for mptcp-pm(8), generated by "mptcp-pm doc completion {{.}}"
# from the command's own tables: do not edit, regenerate it.
{{end}}

{{- /* Shell functions that bash and zsh share. */ -}}
{{- define "posix" -}}
# _mptcp_pm_match WORD KEYWORD...: the first keyword WORD is a prefix of,
# as mptcp-pm matches them ("endp" is "endpoint").
_mptcp_pm_match() {
	local w=$1 c
	shift
	[ -n "$w" ] || return 1
	for c in "$@"; do
		case $c in "$w"*) printf '%s\n' "$c"; return 0 ;; esac
	done
	return 1
}

# _mptcp_pm_verbs OBJECT: its verbs; status 1 for an object without verbs.
_mptcp_pm_verbs() {
	case $1 in
{{- range .Verbs}}
	{{.Key}}) printf '%s\n' "{{.Joined}}" ;;
{{- end}}
	*) return 1 ;;
	esac
}

# _mptcp_pm_keywords "OBJECT [VERB]": the keywords of that command.
_mptcp_pm_keywords() {
	case $1 in
{{- range .Keywords}}
	"{{.Key}}") printf '%s\n' "{{.Joined}}" ;;
{{- end}}
	esac
}

# _mptcp_pm_arg KEYWORD: what its value is completed with (see
# keywordArgs in cmd/mptcp-pm/docs.go); status 1 when it takes no value.
_mptcp_pm_arg() {
	case $1 in
{{- range .Args}}
	{{.Key}}) printf '%s\n' "{{.Joined}}" ;;
{{- end}}
	*) return 1 ;;
	esac
}

# _mptcp_pm_free "OBJECT [VERB]": what its words that are not keywords
# are: @file, @command, or nothing.
_mptcp_pm_free() {
	case $1 in
{{- range .Free}}
	"{{.Key}}") echo {{.Joined}} ;;
{{- end}}
	esac
}

_mptcp_pm_netns() {
	{
		ip netns list 2>/dev/null | cut -d' ' -f1
		ls -1 /var/run/netns 2>/dev/null
	} | sort -u
}

# _mptcp_pm_ifnames [NETNS]
_mptcp_pm_ifnames() {
	if [ -n "$1" ]; then
		ip -n "$1" -o link show 2>/dev/null
	else
		ip -o link show 2>/dev/null
	fi | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

# _mptcp_pm_tokens PROGRAM [NETNS]: the tokens of the connections.
_mptcp_pm_tokens() {
	if [ -n "$2" ]; then
		"$1" -n "$2" -j connection show 2>/dev/null
	else
		"$1" -j connection show 2>/dev/null
	fi | grep -o '"token":"[0-9a-f]*"' | cut -d'"' -f4
}

# _mptcp_pm_candidates CWORD WORD...: what may come as word CWORD (1 is
# the program) of the command line WORD..., one per line; a line "@file"
# asks for file names, "@command" for command names; "@ifname" and "@token"
# are expanded here.
_mptcp_pm_candidates() {
	local cword=$1 i=2 netns="" obj verbs ctx w k expect="" kind kws free
	shift
	[ -z "${ZSH_VERSION:-}" ] || setopt localoptions shwordsplit
	# Global options, before the object.
	while [ "$i" -lt "$cword" ]; do
		eval "w=\${$i}"
		case $w in
		-n|-netns|--netns)
			if [ "$((i + 1))" -eq "$cword" ]; then
				_mptcp_pm_netns
				return
			fi
			eval "netns=\${$((i + 1))}"
			i=$((i + 2))
			;;
		-*) i=$((i + 1)) ;;
		*) break ;;
		esac
	done
	if [ "$i" -ge "$cword" ]; then
		eval "w=\${$cword}"
		case $w in
		-*) printf '%s\n' {{.Options}} ;;
		*) printf '%s\n' {{.Objects}} ;;
		esac
		return
	fi
	eval "w=\${$i}"
	obj=$(_mptcp_pm_match "$w" {{.Objects}}) || return
	i=$((i + 1))
	ctx=$obj
	if verbs=$(_mptcp_pm_verbs "$obj"); then
		if [ "$i" -ge "$cword" ]; then
			printf '%s\n' $verbs help
			return
		fi
		eval "w=\${$i}"
		k=$(_mptcp_pm_match "$w" $verbs) || return
		ctx="$obj $k"
		i=$((i + 1))
	fi
	if [ "$i" -ge "$cword" ]; then
		echo help
	fi
	# The keywords before the cursor: is the last one waiting for its value?
	kws=$(_mptcp_pm_keywords "$ctx")
	free=$(_mptcp_pm_free "$ctx")
	while [ "$i" -lt "$cword" ]; do
		eval "w=\${$i}"
		i=$((i + 1))
		if [ -n "$expect" ]; then
			expect=""
		elif [ "$free" = @command ] && [ "$w" = -- ]; then
			kws=""
		elif k=$(_mptcp_pm_match "$w" $kws); then
			if _mptcp_pm_arg "$k" >/dev/null; then
				expect=$k
			fi
		elif [ "$free" = @command ]; then
			# The command: then its arguments.
			echo @file
			return
		fi
	done
	if [ -n "$expect" ]; then
		kind=$(_mptcp_pm_arg "$expect")
		case $kind in
		@ifname) _mptcp_pm_ifnames "$netns" ;;
		@token) _mptcp_pm_tokens "$1" "$netns" ;;
		@file) echo @file ;;
		*) printf '%s\n' $kind ;;
		esac
		return
	fi
	printf '%s\n' $kws $free
}
{{end}}

{{- define "bash" -}}
{{template "header" "bash"}}# Install it as /usr/share/bash-completion/completions/mptcp-pm, or source it.

{{template "posix" .}}
_mptcp_pm() {
	local cur=${COMP_WORDS[COMP_CWORD]} c files="" commands=""
	local -a cands
	COMPREPLY=()
	# The program, the words before the cursor and the one at it.
	cands=($(_mptcp_pm_candidates "$((COMP_CWORD + 1))" "${COMP_WORDS[@]:0:COMP_CWORD}" "$cur"))
	for c in "${cands[@]}"; do
		case $c in
		@file) files=1 ;;
		@command) commands=1 ;;
		"$cur"*) COMPREPLY+=("$c") ;;
		esac
	done
	if [ -n "$commands" ]; then
		COMPREPLY+=($(compgen -c -- "$cur"))
	fi
	if [ -n "$files" ]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY+=($(compgen -f -- "$cur"))
	fi
}
complete -F _mptcp_pm mptcp-pm
{{end}}

{{- define "zsh" -}}
#compdef mptcp-pm
{{template "header" "zsh"}}# Install it as _mptcp-pm in a directory of $fpath (site-functions).

{{template "posix" .}}
_mptcp-pm() {
	local -a cands
	cands=(${(f)"$(_mptcp_pm_candidates "$CURRENT" "${(@)words[1,CURRENT]}")"})
	(( ${cands[(I)@command]} )) && _command_names -e
	(( ${cands[(I)@file]} )) && _files
	cands=(${cands:#@*})
	(( ${#cands} )) && compadd -- "${cands[@]}"
	return 0
}

if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
	_mptcp-pm "$@"
else
	compdef _mptcp-pm mptcp-pm
fi
{{end}}

{{- define "fish" -}}
{{template "header" "fish"}}# Install it as mptcp-pm.fish in fish's vendor_completions.d.

function __mptcp_pm_match
	set -l w $argv[1]
	test -n "$w"; or return 1
	for c in $argv[2..-1]
		if test (string sub -l (string length -- "$w") -- $c) = "$w"
			echo $c
			return 0
		end
	end
	return 1
end

function __mptcp_pm_verbs
	switch $argv[1]
{{- range .Verbs}}
		case {{.Key}}
			printf '%s\n' {{.Joined}}
{{- end}}
		case '*'
			return 1
	end
end

function __mptcp_pm_keywords
	switch $argv[1]
{{- range .Keywords}}
		case '{{.Key}}'
			printf '%s\n' {{.Joined}}
{{- end}}
	end
end

function __mptcp_pm_arg
	switch $argv[1]
{{- range .Args}}
		case '{{.Key}}'
			{{if .Words}}printf '%s\n' {{.Joined}}{{else}}return 0{{end}}
{{- end}}
		case '*'
			return 1
	end
end

function __mptcp_pm_free
	switch $argv[1]
{{- range .Free}}
		case '{{.Key}}'
			echo {{.Joined}}
{{- end}}
	end
end

function __mptcp_pm_netns
	begin
		ip netns list 2>/dev/null | string replace -r ' .*' ''
		ls -1 /var/run/netns 2>/dev/null
	end | sort -u
end

function __mptcp_pm_complete
	set -l words (commandline -opc)
	set -l cur (commandline -ct)
	set -l n (count $words)
	set -l i 2
	set -l netns
	while test $i -le $n
		switch $words[$i]
			case -n -netns --netns
				if test $i -eq $n
					__mptcp_pm_netns
					return
				end
				set netns -n $words[(math $i + 1)]
				set i (math $i + 2)
			case '-*'
				set i (math $i + 1)
			case '*'
				break
		end
	end
	if test $i -gt $n
		if string match -q -- '-*' "$cur"
			printf '%s\n' {{.Options}}
		else
			printf '%s\n' {{.Objects}}
		end
		return
	end
	set -l obj (__mptcp_pm_match $words[$i] {{.Objects}}); or return
	set i (math $i + 1)
	set -l ctx $obj
	set -l verbs (__mptcp_pm_verbs $obj)
	if test $status -eq 0
		if test $i -gt $n
			printf '%s\n' $verbs help
			return
		end
		set -l v (__mptcp_pm_match $words[$i] $verbs); or return
		set ctx "$obj $v"
		set i (math $i + 1)
	end
	if test $i -gt $n
		echo help
	end
	set -l kws (__mptcp_pm_keywords $ctx)
	set -l free (__mptcp_pm_free $ctx)
	set -l expect
	while test $i -le $n
		set -l w $words[$i]
		set i (math $i + 1)
		if test -n "$expect"
			set expect
		else if test "$free" = @command -a "$w" = --
			set kws
		else if set -l k (__mptcp_pm_match $w $kws)
			if __mptcp_pm_arg $k >/dev/null
				set expect $k
			end
		else if test "$free" = @command
			__fish_complete_path $cur
			return
		end
	end
	if test -n "$expect"
		set -l kind (__mptcp_pm_arg $expect)
		switch "$kind"
			case @ifname
				ip $netns -o link show 2>/dev/null | string replace -r '^[0-9]+: ([^:@]+).*' '$1'
			case @token
				$words[1] $netns -j connection show 2>/dev/null | string match -ar '"token":"[0-9a-f]*"' | string sub -s 10 -e -1
			case @file
				__fish_complete_path $cur
			case '*'
				printf '%s\n' $kind
		end
		return
	end
	printf '%s\n' $kws
	switch "$free"
		case @file
			__fish_complete_path $cur
		case @command
			__fish_complete_command
	end
end

complete -c mptcp-pm -f -a '(__mptcp_pm_complete)'
{{end}}`))

// writeCompletion writes the completion script for shell (bash, zsh or
// fish).
func writeCompletion(w io.Writer, shell string) error {
	return completionTemplates.ExecuteTemplate(w, shell, completionData())
}

// manDescription opens the manual's DESCRIPTION; the rest of the page
// comes from the usage texts.
const manDescription = `mptcp-pm is a path manager for the Linux kernel's MPTCP stack and an
"ip mptcp"-style command line for its generic netlink interface.
As a daemon ("mptcp-pm daemon") it runs the kernel's userspace path
manager (net.mptcp.pm_type=1): it matches every new MPTCP connection to an
application policy and opens, closes and prioritises its subflows per the
policy's mode (handover, interactive, aggregate or single), acting on
interface events and on the measured quality of each path.
The other commands show and change the in-kernel path manager's endpoints
and limits (as ip-mptcp(8) does), act on userspace-PM connections, list
connections and print events.
`

// manSee are the pages of SEE ALSO.
var manSee = []string{"ip-mptcp(8)", "ip(8)", "ip-netns(8)", "systemd.service(5)"}

// roffText escapes text for troff: backslashes, hyphens (as \- so that
// options can be copied), quotes, and a control character (. or ') that
// starts a line.
func roffText(s string) string {
	s = strings.NewReplacer(`\`, `\(rs`, `-`, `\-`, `'`, `\(aq`, "`", `\(ga`).Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffVerbatim is text printed line for line (in .nf) as it is.
func roffVerbatim(s string) string {
	return ".nf\n" + roffText(strings.TrimRight(s, "\n")) + "\n.fi\n"
}

// optionLine is one line of the options paragraph of globalUsage:
// "  -j, --json          description".
var optionLine = regexp.MustCompile(`^\s+(-\w+), (--[\w-]+)(?: ([A-Z]+))?\s{2,}(\S.*)$`)

// writeMan writes the manual page mptcp-pm(8) from globalUsage and every
// object's usage, in the table's order.
func writeMan(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`.\" Generated by "mptcp-pm doc man" from the command's own help texts:
.\" do not edit, change the usage texts in cmd/mptcp-pm and regenerate.
.TH MPTCP-PM 8 "" "mptcp-pm" "System Manager's Manual"
.nh
.ad l
.SH NAME
mptcp-pm \- an MPTCP path manager and ip\-mptcp\-style command line
`)
	paras := strings.Split(strings.TrimRight(globalUsage, "\n"), "\n\n")
	b.WriteString(".SH SYNOPSIS\n" + roffVerbatim(paras[0]))

	var opts, notes []string
	for _, p := range paras[1:] {
		isOpts := true
		for _, l := range strings.Split(p, "\n") {
			isOpts = isOpts && optionLine.MatchString(l)
		}
		if isOpts {
			opts = append(opts, strings.Split(p, "\n")...)
		} else {
			notes = append(notes, p)
		}
	}
	b.WriteString(".SH DESCRIPTION\n" + roffText(manDescription))
	for _, n := range notes {
		b.WriteString(".PP\n" + roffText(n) + "\n")
	}
	b.WriteString(".SH OPTIONS\n")
	for _, l := range opts {
		m := optionLine.FindStringSubmatch(l)
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR, \\fB%s\\fR", roffText(m[1]), roffText(m[2]))
		if m[3] != "" {
			fmt.Fprintf(&b, " \\fI%s\\fR", m[3])
		}
		fmt.Fprintf(&b, "\n%s\n", roffText(m[4]))
	}
	fmt.Fprintf(&b, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR, \\fBhelp\\fR\n%s\n",
		roffText("print the usage; after an object or a command, its grammar"))

	b.WriteString(".SH COMMANDS\n")
	for _, o := range objects {
		if o.usage == "" {
			continue
		}
		fmt.Fprintf(&b, ".SS %s\n.RS 4\n%s.RE\n", o.name, roffVerbatim(o.usage))
	}

	b.WriteString(`.SH FILES
.TP
.I ` + roffText(defaultConfig) + `
The main configuration (every key optional).
.TP
.I /etc/mptcp\-pm/policies.d/
The application policies, one per file (*.yaml, *.yml), tried in file
name order; the first policy that matches a connection wins.
\fBmake install\fR installs an example as \fI*.yaml.example\fR, which the
daemon does not read.
.TP
.I /run/mptcp\-pm/control.sock
The daemon's control socket, used by \fBstatus\fR, \fBreload\fR and
\fBconnection show\fR
(\fI/run/mptcp\-pm/netns\-NETNS.sock\fR with \fB\-n\fR \fINETNS\fR).
.SH SEE ALSO
`)
	for i, s := range manSee {
		name, sec, _ := strings.Cut(strings.TrimSuffix(s, ")"), "(")
		sep := ","
		if i == len(manSee)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, ".BR %s (%s)%s\n", roffText(name), sec, sep)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
