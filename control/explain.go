package control

// ExplainRequest asks the daemon why a connection has the policy and the
// paths it has (Token set: a connection the daemon manages), or would
// have them (a connection this host would open: the other fields, every
// one optional).
type ExplainRequest struct {
	// Token is a managed connection's token, eight hexadecimal digits.
	Token string `json:"token,omitempty"`
	// Port is the service's port: the remote port of the connection.
	Port uint16 `json:"port,omitempty"`
	// Dest is the destination address (default: an IPv4 address in no
	// prefix, for which the paths are worked out).
	Dest string `json:"dest,omitempty"`
	// UID owns the socket; nil: not given.
	UID *uint32 `json:"uid,omitempty"`
	// Cgroup is a cgroup v2 path, Process a process name (comm).
	Cgroup  string `json:"cgroup,omitempty"`
	Process string `json:"process,omitempty"`
}

// Explanation is the daemon's answer to an ExplainRequest.
type Explanation struct {
	// Token, Local and Remote name the connection (Token only for a
	// managed one; Local only when known).
	Token  string `json:"token,omitempty"`
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote"`
	// Matched is what the connection is matched on, as "field value"
	// ("port 443", "uid 1000"); fields not known are left out.
	Matched []string `json:"matched"`
	// Policy is the connection's policy, Mode its mode, Source its file.
	Policy string `json:"policy"`
	Mode   string `json:"mode"`
	Source string `json:"source"`
	// Rules are the policies tried in order, up to the one that matched
	// (or all of them, then the default).
	Rules []RuleExplanation `json:"rules"`
	// Paths are the interfaces and what the connection does with each
	// now: the subflows the daemon wants, and why the others get none.
	Paths []PathExplanation `json:"paths"`
	// Notes are what else the answer depends on ("no uid given: ...").
	Notes []string `json:"notes,omitempty"`
}

// RuleExplanation is one policy tried for a connection.
type RuleExplanation struct {
	Policy  string `json:"policy"`
	Source  string `json:"source"`
	Matched bool   `json:"matched"`
	// Field is the condition that did not hold (port, destination, uid,
	// cgroup, process; "" for a policy with no condition), Why in words.
	Field string `json:"field,omitempty"`
	Why   string `json:"why"`
}

// PathExplanation is one interface and its use by a connection.
type PathExplanation struct {
	Interface string `json:"interface"`
	Class     string `json:"class"`
	Used      bool   `json:"used"`
	Backup    bool   `json:"backup,omitempty"`
	Local     string `json:"local,omitempty"`
	Remote    string `json:"remote,omitempty"`
	Why       string `json:"why"`
}
