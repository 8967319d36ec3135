package policy

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// AddrKind is a kind of local address that subflows avoid unless a
// policy's addresses key lists it.
type AddrKind string

// Address kinds.
const (
	// AddrTemporary is an IPv6 temporary (privacy, RFC 8981) address:
	// short-lived by design, and meant to keep a host from being
	// followed, which a subflow the engine opens from it would defeat.
	AddrTemporary AddrKind = "temporary"
	// AddrDeprecated is an address whose preferred lifetime ended (RFC
	// 4862 §5.5.4): still valid, not for new communication.
	AddrDeprecated AddrKind = "deprecated"
	// AddrULA is an IPv6 unique local address (fc00::/7, RFC 4193), which
	// does not reach a global peer.
	AddrULA AddrKind = "ula"
)

// AddrKinds lists every address kind.
var AddrKinds = []AddrKind{AddrTemporary, AddrDeprecated, AddrULA}

// Addresses are the kinds of local address a policy lets the engine open
// subflows from; the zero value allows none of them. The address of a
// connection's initial subflow, which the application or the kernel
// chose, is always kept.
type Addresses struct {
	Temporary  bool
	Deprecated bool
	// ULA allows a unique local address towards a peer outside fc00::/7
	// (towards a ULA peer it is always allowed).
	ULA bool
}

// Allows reports whether kind k is allowed.
func (a Addresses) Allows(k AddrKind) bool {
	switch k {
	case AddrTemporary:
		return a.Temporary
	case AddrDeprecated:
		return a.Deprecated
	case AddrULA:
		return a.ULA
	}
	return false
}

func addrKindList() string {
	s := make([]string, len(AddrKinds))
	for i, k := range AddrKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// addresses reads the kinds of address a policy allows.
func (p *parser) addresses(n *yaml.Node, field string, out *Addresses) {
	*out = Addresses{}
	items, _ := p.list(n, field, "address kinds ("+addrKindList()+")", true, true, "")
	var seen []AddrKind
	for _, it := range items {
		s, ok := p.str(it.n, it.field, "an address kind ("+addrKindList()+")")
		if !ok {
			continue
		}
		k := AddrKind(s)
		switch {
		case !slices.Contains(AddrKinds, k):
			p.errorf(it.n, it.field, "unknown address kind %q (want %s)", s, addrKindList())
		case slices.Contains(seen, k):
			p.errorf(it.n, it.field, "address kind %s is listed twice", k)
		default:
			seen = append(seen, k)
		}
	}
	out.Temporary = slices.Contains(seen, AddrTemporary)
	out.Deprecated = slices.Contains(seen, AddrDeprecated)
	out.ULA = slices.Contains(seen, AddrULA)
}
