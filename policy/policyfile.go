package policy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v4"

	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

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

// Policy file fields.
var (
	policyKeys   = []string{"name", "match", "mode", "paths", "handover", "accept_announcements", "announcements_from", "announce", "mptcpify"}
	matchKeys    = []string{"ports", "prefixes", "uids", "cgroup", "process"}
	pathsKeys    = []string{"prefer", "backup"}
	handoverKeys = []string{"rto", "loss_percent", "rtt_ms", "hold_down", "warm_standby"}
)

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
	maxNameLen = 64
	// maxComm is TASK_COMM_LEN minus the NUL: the kernel cuts process
	// names (comm) to 15 bytes.
	maxComm     = 15
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
	st := &policyState{at: at, pol: pol, isDefault: isDefault, pathsOK: true, seen: make(map[string]bool)}
	ok := p.fields(n, at, what, policyKeys, elsewhere, func(key string, k, v *yaml.Node) {
		p.policyField(st, key, k, v)
	})
	if !ok {
		return nil
	}
	p.policyRequired(st, n)
	p.policyCrossChecks(st)
	return st.nameNode
}

// policyState is what policyBody learns of a policy while it reads the
// fields, for the checks that span several of them.
type policyState struct {
	at        string
	pol       *Policy
	isDefault bool
	seen      map[string]bool
	// The nodes of fields, for the messages of the cross-field checks.
	nameNode, pathsNode, preferNode, mptcpifyNode, fromNode *yaml.Node
	pathsOK                                                 bool // no mistake inside paths
	modeOK                                                  bool // a valid mode was read
}

// policyField reads one field (key k, value v) of a policy into st.pol.
func (p *parser) policyField(st *policyState, key string, k, v *yaml.Node) {
	pol := st.pol
	st.seen[key] = true
	field := join2(st.at, key)
	switch {
	case st.isDefault && key == "name":
		p.errorf(k, field, "not allowed in the default policy, which is named \"default\"")
		return
	case st.isDefault && key == "match":
		p.errorf(k, field, "not allowed in the default policy: it applies to the connections no application matches")
		return
	}
	switch key {
	case "name":
		if s, ok := p.str(v, field, "a name like \"voice\""); ok && p.checkName(v, field, s) {
			pol.Name, st.nameNode = s, v
		}
	case "match":
		p.match(v, field, &pol.Match)
	case "mode":
		if s, ok := p.str(v, field, "one of "+modeList()); ok {
			if slices.Contains(Modes, Mode(s)) {
				pol.Mode, st.modeOK = Mode(s), true
			} else {
				p.errorf(v, field, "unknown mode %q (want %s)", s, modeList())
			}
		}
	case "paths":
		before := len(p.errs)
		st.pathsNode = v
		st.preferNode = p.paths(v, field, &pol.Paths)
		st.pathsOK = len(p.errs) == before
	case "handover":
		p.handover(v, field, &pol.Handover)
	case "accept_announcements":
		pol.AcceptAnnouncements, _ = p.boolean(v, field)
	case "announcements_from":
		st.fromNode = k
		p.announcementsFrom(v, field, &pol.AnnouncementsFrom)
	case "announce":
		p.announce(v, field, &pol.Announce)
	case "mptcpify":
		pol.Mptcpify, _ = p.boolean(v, field)
		st.mptcpifyNode = v
	}
}

// policyRequired reports the required fields of policy mapping n that are
// missing, and gives the default policy its name and default mode.
func (p *parser) policyRequired(st *policyState, n *yaml.Node) {
	if st.isDefault {
		st.pol.Name = "default"
		if !st.seen["mode"] {
			st.pol.Mode, st.modeOK = ModeHandover, true
		}
		return
	}
	if !st.seen["name"] {
		p.errorf(n, "name", "required field is missing (want a name like \"voice\")")
	}
	if !st.seen["match"] {
		p.errorf(n, "match", "required field is missing (an application needs at least one of %s)", strings.Join(matchKeys, ", "))
	}
	if !st.seen["mode"] {
		p.errorf(n, "mode", "required field is missing (want %s)", modeList())
	}
}

// policyCrossChecks reports the mistakes that span fields: settings
// without effect or need, and paths that leave the mode nothing to use.
func (p *parser) policyCrossChecks(st *policyState) {
	pol, at := st.pol, st.at
	if st.fromNode != nil && !pol.AcceptAnnouncements {
		p.errorf(st.fromNode, join2(at, "announcements_from"), "has no effect without accept_announcements: true (announcements are ignored)")
	}
	if pol.Mptcpify && pol.Match.Cgroup == "" {
		p.errorf(st.mptcpifyNode, join2(at, "mptcpify"), "needs match.cgroup: the sockets made MPTCP are those of a cgroup")
	}
	if st.pathsNode != nil && st.pathsOK { // else the mistakes in paths were reported
		pp := pol.Paths
		switch {
		case len(pp.Prefer) == 0 && len(pp.Backup) == 0:
			p.errorf(st.pathsNode, join2(at, "paths"), "no class allowed (list at least one of %s in prefer or backup)", classList())
		case len(pp.Prefer) == 0 && st.modeOK && pol.Mode == ModeHandover:
			where := st.pathsNode
			if st.preferNode != nil {
				where = st.preferNode
			}
			p.errorf(where, join2(at, "paths.prefer"), "handover mode needs at least one preferred class")
		}
	}
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
