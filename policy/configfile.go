package policy

import (
	"io"
	"path"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v4"

	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// ParseConfig reads the main configuration file, its pm and endpoints
// keys included. name is used in messages and kept as Config.Source.
// PolicyDir is kept as written (Load resolves it), and ControlSocket is ""
// when the file does not set it (Config.ControlPath resolves it). An empty
// file, or one with only comments, is a configuration with every default.
// Errors are reported as by ParsePolicy. ParseConfig is safe for
// concurrent use.
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

// Configuration file fields.
var (
	configKeys   = []string{"policy_dir", "set_pm_type", "control_socket", "control_group", "log_level", "interfaces", "default", "pm", "endpoints"}
	ruleKeys     = []string{"name", "class"}
	endpointKeys = []string{"interfaces", "flags", "backup", "limits"}
	limitsKeys   = []string{"subflows", "add_addr_accepted"}
)

var (
	configElsewhere = func() map[string]string {
		m := make(map[string]string)
		belongsUnder(m, "default", "mode", "paths", "handover", "accept_announcements", "announcements_from", "announce", "mptcpify")
		m["name"] = "a file with name: is a policy file; policies go in policy_dir"
		m["match"] = "a file with match: is a policy file; policies go in policy_dir"
		belongsUnder(m, "endpoints", "flags", "limits")
		belongsUnder(m, "endpoints.limits", limitsKeys...)
		return m
	}()
)

const (
	defaultPolicyDir = "policies.d"
	// maxSocketPath is sizeof(sockaddr_un.sun_path) minus the NUL.
	maxSocketPath = 107
	// maxIfName is IFNAMSIZ minus the NUL.
	maxIfName = 15
)

// parseConfig parses a configuration file. It returns the configuration
// (nil if the file is not a mapping; possibly incomplete when there are
// errors), the node of policy_dir if given, and the mistakes.
func parseConfig(data []byte, file string) (*Config, *yaml.Node, []error) {
	p := &parser{file: file, data: data}
	st := &configState{cfg: &Config{
		Source:    file,
		PolicyDir: defaultPolicyDir,
		LogLevel:  "info",
		PM:        PMUserspace,
		Endpoints: DefaultEndpointConfig(),
	}}
	root, empty := p.root()
	if root != nil {
		what := "a mapping of configuration fields (" + strings.Join(configKeys, ", ") + ")"
		ok := p.fields(root, "", what, configKeys, configElsewhere, func(key string, k, v *yaml.Node) {
			p.configField(st, key, v)
		})
		if !ok {
			return nil, nil, p.errs
		}
	} else if !empty {
		return nil, nil, p.errs
	}
	if st.defNode == nil {
		st.cfg.Default = Policy{
			Name:     "default",
			Source:   file,
			Mode:     ModeHandover,
			Paths:    Paths{Prefer: slices.Clone(DefaultPaths.Prefer), Backup: slices.Clone(DefaultPaths.Backup)},
			Handover: DefaultHandover,
		}
	}
	return st.cfg, st.dirNode, p.errs
}

// configState is what parseConfig builds and the nodes it remembers.
type configState struct {
	cfg     *Config
	dirNode *yaml.Node // policy_dir, if given
	defNode *yaml.Node // default, if given
}

// configField reads the value v of top-level key of a configuration file
// into st.
func (p *parser) configField(st *configState, key string, v *yaml.Node) {
	cfg := st.cfg
	switch key {
	case "policy_dir":
		if s, ok := p.str(v, key, "a directory"); ok {
			if s == "" {
				p.errorf(v, key, "empty path (leave the field out for %s)", defaultPolicyDir)
			} else {
				cfg.PolicyDir, st.dirNode = s, v
			}
		}
	case "set_pm_type":
		cfg.SetPMType, _ = p.boolean(v, key)
	case "control_socket":
		if s, ok := p.controlSocket(v, key); ok {
			cfg.ControlSocket = s
		}
	case "control_group":
		if s, ok := p.controlGroup(v, key); ok {
			cfg.ControlGroup = s
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
		st.defNode = v
		cfg.Default = Policy{Source: cfg.Source}
		p.policyBody(v, key, &cfg.Default, true)
	case "pm":
		if s, ok := p.str(v, key, "userspace or kernel"); ok {
			switch PM(s) {
			case PMUserspace, PMKernel:
				cfg.PM = PM(s)
			default:
				p.errorf(v, key, "unknown path manager %q (want userspace or kernel)", s)
			}
		}
	case "endpoints":
		cfg.HasEndpoints = true
		p.endpoints(v, key, cfg.Endpoints)
	}
}

// controlSocket reads the path of the control socket: absolute, and short
// enough for sockaddr_un.
func (p *parser) controlSocket(v *yaml.Node, key string) (string, bool) {
	s, ok := p.str(v, key, "an absolute path")
	switch {
	case !ok:
	case !strings.HasPrefix(s, "/"):
		p.errorf(v, key, "%q is not an absolute path (want e.g. %s)", s, DefaultControlSocket(""))
	case len(s) > maxSocketPath:
		p.errorf(v, key, "path is %d bytes long; a unix socket path has at most %d", len(s), maxSocketPath)
	default:
		return s, true
	}
	return "", false
}

// controlGroup reads the name of the control group ("" for none).
func (p *parser) controlGroup(v *yaml.Node, key string) (string, bool) {
	s, ok := p.str(v, key, "a group name")
	if !ok {
		return "", false
	}
	if s != "" && (len(s) > 32 || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' || r == '/' || r == ','
	})) {
		p.errorf(v, key, "invalid group name %q (want at most 32 characters, without spaces, ':', ',' or '/')", s)
		return "", false
	}
	return s, true
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
			p.endpointInterfaces(v, field, ec)
		case "flags":
			if flags, ok := p.endpointFlags(v, field); ok {
				ec.Flags = flags
			}
		case "backup":
			items, _ := p.list(v, field, "classes ("+classList()+")", true, true, "")
			for _, it := range items {
				if c, ok := p.class(it, ec.Backup, "never has endpoints"); ok {
					ec.Backup = append(ec.Backup, c)
				}
			}
		case "limits":
			p.endpointLimits(v, field, &ec.Limits)
		}
	})
}

// endpointInterfaces parses the allow-list of interface name patterns
// into ec.Interfaces.
func (p *parser) endpointInterfaces(v *yaml.Node, field string, ec *EndpointConfig) {
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
}

// endpointFlags parses the flags of the endpoints; false when any is
// wrong, or the combination is one the kernel refuses.
func (p *parser) endpointFlags(v *yaml.Node, field string) (genl.Flags, bool) {
	items, ok := p.list(v, field, "flags ("+strings.Join(endpointFlagNames, ", ")+")", true, false,
		"want at least one of "+strings.Join(endpointFlagNames, ", ")+"; leave the field out for subflow")
	if !ok {
		return 0, false
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
		return 0, false
	}
	if flags&genl.FlagSignal != 0 && flags&genl.FlagFullmesh != 0 {
		p.errorf(v, field, "signal and fullmesh together are refused by the kernel (a fullmesh endpoint opens subflows, a signal one is announced)")
		return 0, false
	}
	return flags, true
}

// endpointLimits parses the limits set at start into l.
func (p *parser) endpointLimits(v *yaml.Node, field string, l *genl.LimitsUpdate) {
	what := "a mapping of limits (" + strings.Join(limitsKeys, ", ") + "), e.g. {subflows: 2, add_addr_accepted: 2}"
	p.fields(v, field, what, limitsKeys, nil, func(key string, k, v *yaml.Node) {
		x, ok := p.integer(v, join2(field, key), 0, maxLimit)
		if !ok {
			return
		}
		u := uint32(x)
		if key == "subflows" {
			l.Subflows = &u
		} else {
			l.AddAddrAccepted = &u
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
