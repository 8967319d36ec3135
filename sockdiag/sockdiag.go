package sockdiag

import (
	"net/netip"
	"time"
)

// Config selects what a Client dumps.
type Config struct {
	// NetNS is a file descriptor of a network namespace (for example an
	// open /run/netns/NAME). The netlink socket is created inside that
	// namespace and stays bound to it; no thread of the caller is left in
	// it. Zero means the caller's own namespace.
	NetNS int

	// Listeners adds listening MPTCP sockets (state TCP_LISTEN) to the
	// result of Connections. They have no subflows and a zero token.
	Listeners bool
}

// Client is a NETLINK_SOCK_DIAG socket bound to one network namespace.
// It is not safe for concurrent use: use one Client per goroutine, or
// serialise calls.
type Client struct {
	c *client
}

// New opens a sock_diag netlink socket in the namespace cfg.NetNS. A nil cfg
// means the caller's namespace and no listeners. On systems other than Linux
// it returns an error matching os.ErrNotExist.
func New(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close closes the netlink socket.
func (c *Client) Close() error { return c.c.close() }

// Connections dumps the MPTCP connections of the namespace and their
// subflows. Connections are sorted by token, and subflows by local address
// ID, then local and remote address. A subflow whose connection is not in
// the dump (it appeared or the connection closed between the two dumps) is
// dropped. If the kernel has no MPTCP diag support (mptcp_diag missing), the
// error matches os.ErrNotExist.
func (c *Client) Connections() ([]Conn, error) { return c.c.connections(true) }

// Sockets dumps the MPTCP sockets only, without their subflows (Subflows
// is nil): one dump instead of two, for when only the connections'
// owners and addresses matter.
func (c *Client) Sockets() ([]Conn, error) { return c.c.connections(false) }

// Socket returns the MPTCP socket with local token token, without its
// subflows, with one exact lookup instead of a dump: what a daemon wants
// for each new connection. An unknown token is an error matching
// os.ErrNotExist.
func (c *Client) Socket(token uint32) (Conn, error) { return c.c.socket(token) }

// Conn is one MPTCP connection: an MPTCP socket (msk) as seen by its own
// host. Both ends of a connection inside one namespace are two Conns.
type Conn struct {
	Token    uint32         // local token (mptcpi_token)
	Local    netip.AddrPort // msk's local address (IPv4-mapped addresses are unmapped)
	Remote   netip.AddrPort // msk's remote address
	State    uint8          // TCP state number (TCP_ESTABLISHED = 1, …) of the msk
	UID      uint32         // owner (idiag_uid)
	Inode    uint32         // socket inode (idiag_inode), 0 for orphans
	Cookie   uint64         // socket cookie (idiag_cookie)
	CgroupID uint64         // cgroup v2 ID of the owner (INET_DIAG_CGROUP_ID; the cgroup directory's inode number), 0 if unknown
	Info     Info           // struct mptcp_info
	Subflows []Subflow      // TCP subflows, sorted by (LocID, Local, Remote)
}

// Info is struct mptcp_info (include/uapi/linux/mptcp.h) as sent by the
// kernel in INET_DIAG_INFO. Fields a kernel older than the one noted did
// not send are zero.
type Info struct {
	Subflows           uint8  // additional subflows (the initial one is not counted)
	AddAddrSignal      uint8  // addresses announced
	AddAddrAccepted    uint8  // peer announcements accepted
	SubflowsMax        uint8  // path manager limit
	AddAddrSignalMax   uint8  // path manager limit
	AddAddrAcceptedMax uint8  // path manager limit
	Flags              uint32 // InfoFlag* bits
	Token              uint32 // local token
	WriteSeq           uint64 // next data sequence number to write
	SndUna             uint64 // oldest unacknowledged data sequence number
	RcvNxt             uint64 // next expected data sequence number
	LocalAddrUsed      uint8  // 5.12
	LocalAddrMax       uint8  // 5.12
	CsumEnabled        uint8  // 5.14
	Retransmits        uint32 // 6.5
	BytesRetrans       uint64 // 6.5
	BytesSent          uint64 // 6.5
	BytesReceived      uint64 // 6.5
	BytesAcked         uint64 // 6.5
	SubflowsTotal      uint8  // 6.8: all subflows, the initial one included
	EndpLaminarMax     uint8  // 6.18: laminar endpoints limit
	EndpFullmeshMax    uint8  // 6.19: fullmesh endpoints limit
	LastDataSent       uint32 // 6.10: ms since data was last sent
	LastDataRecv       uint32 // 6.10: ms since data was last received
	LastAckRecv        uint32 // 6.10: ms since an ack was last received
}

// Info flag bits (MPTCP_INFO_FLAG_*).
const (
	InfoFlagFallback          = 1 << 0 // the connection fell back to plain TCP
	InfoFlagRemoteKeyReceived = 1 << 1 // the peer's key was received
)

// Subflow is one TCP subflow of a connection.
type Subflow struct {
	Local, Remote netip.AddrPort // IPv4-mapped addresses are unmapped
	State         uint8          // TCP state number
	IfIndex       uint32         // bound device (idiag_if), 0 if none
	Cookie        uint64         // socket cookie (idiag_cookie)

	// From INET_ULP_INFO_MPTCP (net/mptcp/diag.c). TokenLoc is the
	// connection's local token. TokenRem is the peer's token, which the
	// kernel only records on subflows this side opened with MP_JOIN; it is
	// 0 on the others.
	TokenLoc, TokenRem uint32
	LocID, RemID       uint8  // address IDs; the initial subflow has LocID 0
	Flags              uint32 // SubflowFlag* bits
	Backup             bool   // our side marked it backup (SubflowFlagBkupLoc)
	BackupRemote       bool   // the peer marked it backup (SubflowFlagBkupRem)

	// From struct tcp_info (include/uapi/linux/tcp.h).
	RTT, RTTVar, RTO time.Duration // smoothed RTT, its variance, retransmission timeout
	Retransmits      uint32        // consecutive retransmissions of the head (tcpi_retransmits)
	TotalRetrans     uint32        // segments retransmitted over the lifetime
	Lost             uint32        // segments currently considered lost
	SndCwnd          uint32        // congestion window, in segments
	DataSegsOut      uint32        // data segments sent
	BytesAcked       uint64        // bytes acknowledged (4.1)
	BytesRetrans     uint64        // bytes retransmitted (5.5)
	BytesReceived    uint64        // payload bytes received in order (4.1)
	DataSegsIn       uint32        // segments with payload received, out of order too (4.6)
	OutOfOrder       uint32        // segments received out of order (tcpi_rcv_ooopack, 5.4)
	RcvRTT           time.Duration // the receiver's RTT estimate (tcpi_rcv_rtt)
}

// Subflow flag bits (MPTCP_SUBFLOW_FLAG_* in include/uapi/linux/mptcp.h).
const (
	SubflowFlagMCapRem          = 1 << 0 // MP_CAPABLE received
	SubflowFlagMCapLoc          = 1 << 1 // MP_CAPABLE sent
	SubflowFlagJoinRem          = 1 << 2 // MP_JOIN received
	SubflowFlagJoinLoc          = 1 << 3 // MP_JOIN sent
	SubflowFlagBkupRem          = 1 << 4 // peer's backup flag
	SubflowFlagBkupLoc          = 1 << 5 // our backup flag
	SubflowFlagFullyEstablished = 1 << 6
	SubflowFlagConnected        = 1 << 7
	SubflowFlagMapValid         = 1 << 8
)
