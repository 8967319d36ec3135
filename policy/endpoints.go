package policy

import (
	"github.com/mptcp-pm/mptcp-pm/genl"
	"github.com/mptcp-pm/mptcp-pm/ifmon"
)

// PM is the path manager the daemon drives: the top-level pm key of the
// configuration file.
type PM string

// Path managers.
const (
	// PMUserspace is the default: the daemon is the userspace path
	// manager (net.mptcp.pm_type=1) and applies the policies.
	PMUserspace PM = "userspace"
	// PMKernel leaves the connections to the kernel's own path manager
	// (net.mptcp.pm_type=0) and only keeps its endpoints in line with the
	// interfaces (see EndpointConfig and package keeper), as NetworkManager does.
	PMKernel PM = "kernel"
)

// EndpointConfig is the endpoints section of the configuration file: which
// in-kernel endpoints the endpoint keeper keeps, one per usable address of
// the allowed interfaces. An EndpointConfig is not changed once parsed.
type EndpointConfig struct {
	// Interfaces is the allow-list of interface name patterns
	// (path.Match). Empty means every interface whose class is neither
	// loopback nor virtual. A pattern admits an interface of any class
	// but loopback: naming a veth "eth*" pattern is a deliberate choice.
	Interfaces []string
	// Flags are the flags of every endpoint: a combination of
	// genl.FlagSubflow, FlagSignal, FlagBackup, FlagFullmesh and
	// FlagLaminar (kernel 6.18), never signal with fullmesh (the kernel
	// refuses it). Default subflow.
	Flags genl.Flags
	// Backup lists the classes whose endpoints get genl.FlagBackup too.
	// Default none.
	Backup []ifmon.Class
	// Limits are set once at start; nil fields (the default) are left as
	// the kernel has them.
	Limits genl.LimitsUpdate
}

// DefaultEndpointFlags are the flags of the endpoints when the
// configuration does not say.
const DefaultEndpointFlags = genl.FlagSubflow

// DefaultEndpointConfig returns the endpoint configuration of a file
// without an endpoints section.
func DefaultEndpointConfig() *EndpointConfig {
	return &EndpointConfig{Flags: DefaultEndpointFlags}
}
