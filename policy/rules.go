package policy

import "github.com/mptcp-pm/mptcp-pm/ifmon"

// Rules are the interfaces section of c as the interface monitor takes
// them: name patterns with the class they give.
func (c *Config) Rules() []ifmon.Rule {
	out := make([]ifmon.Rule, 0, len(c.Interfaces))
	for _, r := range c.Interfaces {
		out = append(out, ifmon.Rule{Pattern: r.Name, Class: r.Class})
	}
	return out
}
