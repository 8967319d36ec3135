package sockdiag

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/netlink"
)

// Kernel ABI numbers. Sources: include/uapi/linux/inet_diag.h,
// include/uapi/linux/mptcp.h, include/uapi/linux/tcp.h.
// They are spelled out here (x/sys/unix has no inet_diag types) so that the
// decoders build and are tested on every GOOS.
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6

	ipprotoTCP   = 6   // IPPROTO_TCP
	ipprotoMPTCP = 262 // IPPROTO_MPTCP: does not fit inet_diag_req_v2's u8, see packRequest

	sizeofReqV2   = 56 // struct inet_diag_req_v2
	sizeofDiagMsg = 72 // struct inet_diag_msg

	inetDiagReqProtocol = 3 // INET_DIAG_REQ_PROTOCOL, u32 request attribute

	inetDiagInfo     = 2  // INET_DIAG_INFO: tcp_info or mptcp_info
	inetDiagULPInfo  = 19 // INET_DIAG_ULP_INFO, nested
	inetDiagCgroupID = 21 // INET_DIAG_CGROUP_ID, u64: the socket's cgroup v2 ID

	inetULPInfoName  = 1 // INET_ULP_INFO_NAME, string
	inetULPInfoMPTCP = 3 // INET_ULP_INFO_MPTCP, nested MPTCP_SUBFLOW_ATTR_*

	subflowAttrTokenRem = 1  // MPTCP_SUBFLOW_ATTR_TOKEN_REM, u32
	subflowAttrTokenLoc = 2  // MPTCP_SUBFLOW_ATTR_TOKEN_LOC, u32
	subflowAttrFlags    = 8  // MPTCP_SUBFLOW_ATTR_FLAGS, u32
	subflowAttrIDRem    = 9  // MPTCP_SUBFLOW_ATTR_ID_REM, u8
	subflowAttrIDLoc    = 10 // MPTCP_SUBFLOW_ATTR_ID_LOC, u8

	// Smallest accepted payloads: struct mptcp_info of 5.9 (up to
	// mptcpi_rcv_nxt) and struct tcp_info up to tcpi_total_retrans (2.6).
	minMPTCPInfo = 40
	minTCPInfo   = 104
)

var errShort = errors.New("message too short")

// diagMsg is an inet_diag_msg with the attributes this package uses.
type diagMsg struct {
	Family, State uint8
	Local, Remote netip.AddrPort
	IfIndex       uint32
	Cookie        uint64
	UID, Inode    uint32
	CgroupID      uint64 // INET_DIAG_CGROUP_ID, 0 if absent
	Info          []byte // INET_DIAG_INFO payload, nil if absent
	ULPName       string // INET_ULP_INFO_NAME, "" if absent
	ULP           []byte // INET_ULP_INFO_MPTCP payload, nil if absent
}

// packRequest returns an inet_diag_req_v2 dump request for all sockets of
// family and proto in the states of the bit mask, asking for INET_DIAG_INFO.
//
// sdiag_protocol is a u8, so IPPROTO_MPTCP (262) goes in the u32 attribute
// INET_DIAG_REQ_PROTOCOL, which the kernel prefers over the field
// (inet_diag_get_protocol in net/ipv4/inet_diag.c); the field is set to
// IPPROTO_TCP, as the kernel's selftest mptcp_diag.c does.
func packRequest(family uint8, proto uint32, states uint32) []byte {
	b := make([]byte, sizeofReqV2)
	b[0] = family
	b[1] = byte(proto)
	b[2] = 1 << (inetDiagInfo - 1) // idiag_ext; for TCP it also brings INET_DIAG_ULP_INFO
	binary.NativeEndian.PutUint32(b[4:], states)
	if proto > 255 {
		b[1] = ipprotoTCP
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(inetDiagReqProtocol, proto)
		attrs, _ := ae.Encode() // cannot fail: one fixed-size attribute
		b = append(b, attrs...)
	}
	return b
}

// packTokenRequest returns an inet_diag_req_v2 for one MPTCP socket, by
// its token: the MPTCP diag's exact lookup (mptcp_diag_dump_one in
// net/mptcp/mptcp_diag.c) reads the token from idiag_cookie[0].
func packTokenRequest(token uint32) []byte {
	b := packRequest(afInet, ipprotoMPTCP, ^uint32(0))
	binary.NativeEndian.PutUint32(b[48:52], token) // id.idiag_cookie[0]
	return b
}

// parseMsg decodes one inet_diag_msg and its attributes.
func parseMsg(b []byte) (diagMsg, error) {
	var m diagMsg
	if len(b) < sizeofDiagMsg {
		return m, fmt.Errorf("inet_diag_msg: %w (%d bytes)", errShort, len(b))
	}
	m.Family, m.State = b[0], b[1]
	id := b[4:52] // struct inet_diag_sockid
	var src, dst netip.Addr
	switch m.Family {
	case afInet:
		src, dst = netip.AddrFrom4([4]byte(id[4:8])), netip.AddrFrom4([4]byte(id[20:24]))
	case afInet6:
		src, dst = netip.AddrFrom16([16]byte(id[4:20])).Unmap(), netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	default:
		return m, fmt.Errorf("inet_diag_msg: unknown family %d", m.Family)
	}
	m.Local = netip.AddrPortFrom(src, binary.BigEndian.Uint16(id[0:2]))
	m.Remote = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(id[2:4]))
	m.IfIndex = binary.NativeEndian.Uint32(id[36:40])
	m.Cookie = uint64(binary.NativeEndian.Uint32(id[40:44])) | uint64(binary.NativeEndian.Uint32(id[44:48]))<<32
	m.UID = binary.NativeEndian.Uint32(b[64:68])
	m.Inode = binary.NativeEndian.Uint32(b[68:72])

	ad, err := netlink.NewAttributeDecoder(b[sizeofDiagMsg:])
	if err != nil {
		return m, fmt.Errorf("inet_diag_msg attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case inetDiagInfo:
			m.Info = ad.Bytes()
		case inetDiagCgroupID:
			m.CgroupID = ad.Uint64()
		case inetDiagULPInfo:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case inetULPInfoName:
						m.ULPName = nad.String()
					case inetULPInfoMPTCP:
						m.ULP = nad.Bytes()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return m, fmt.Errorf("inet_diag_msg attributes: %w", err)
	}
	return m, nil
}

// reader reads little fields at fixed offsets of a kernel struct whose
// length depends on the kernel version; fields past the end read as zero.
type reader []byte

func (r reader) u8(off int) uint8 {
	if off >= len(r) {
		return 0
	}
	return r[off]
}

func (r reader) u32(off int) uint32 {
	if off+4 > len(r) {
		return 0
	}
	return binary.NativeEndian.Uint32(r[off:])
}

func (r reader) u64(off int) uint64 {
	if off+8 > len(r) {
		return 0
	}
	return binary.NativeEndian.Uint64(r[off:])
}

// parseInfo decodes struct mptcp_info. Offsets are those of the 6.18 and
// 6.19 layout; the struct only grows at its end, so older kernels send a
// prefix of it.
func parseInfo(b []byte) (Info, error) {
	if len(b) < minMPTCPInfo {
		return Info{}, fmt.Errorf("mptcp_info: %w (%d bytes)", errShort, len(b))
	}
	r := reader(b)
	return Info{
		Subflows:           r.u8(0),
		AddAddrSignal:      r.u8(1),
		AddAddrAccepted:    r.u8(2),
		SubflowsMax:        r.u8(3),
		AddAddrSignalMax:   r.u8(4),
		AddAddrAcceptedMax: r.u8(5),
		Flags:              r.u32(8),
		Token:              r.u32(12),
		WriteSeq:           r.u64(16),
		SndUna:             r.u64(24),
		RcvNxt:             r.u64(32),
		LocalAddrUsed:      r.u8(40),
		LocalAddrMax:       r.u8(41),
		CsumEnabled:        r.u8(42),
		Retransmits:        r.u32(44),
		BytesRetrans:       r.u64(48),
		BytesSent:          r.u64(56),
		BytesReceived:      r.u64(64),
		BytesAcked:         r.u64(72),
		SubflowsTotal:      r.u8(80),
		EndpLaminarMax:     r.u8(81),
		EndpFullmeshMax:    r.u8(82),
		LastDataSent:       r.u32(84),
		LastDataRecv:       r.u32(88),
		LastAckRecv:        r.u32(92),
	}, nil
}

// parseTCPInfo decodes the fields of struct tcp_info that Subflow carries
// into sf. Offsets match unix.TCPInfo (checked by a Linux test).
func parseTCPInfo(b []byte, sf *Subflow) error {
	if len(b) < minTCPInfo {
		return fmt.Errorf("tcp_info: %w (%d bytes)", errShort, len(b))
	}
	r := reader(b)
	us := func(off int) time.Duration { return time.Duration(r.u32(off)) * time.Microsecond }
	sf.Retransmits = uint32(r.u8(2))
	sf.RTO = us(8)
	sf.Lost = r.u32(32)
	sf.RTT = us(68)
	sf.RTTVar = us(72)
	sf.SndCwnd = r.u32(80)
	sf.TotalRetrans = r.u32(100)
	sf.BytesAcked = r.u64(120)
	sf.BytesReceived = r.u64(128)
	sf.RcvRTT = us(92)
	sf.DataSegsIn = r.u32(152)
	sf.DataSegsOut = r.u32(156)
	sf.BytesRetrans = r.u64(208)
	sf.OutOfOrder = r.u32(224)
	return nil
}

// parseSubflowULP decodes the MPTCP_SUBFLOW_ATTR_* attributes of
// INET_ULP_INFO_MPTCP into sf.
func parseSubflowULP(b []byte, sf *Subflow) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return fmt.Errorf("mptcp subflow info: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case subflowAttrTokenRem:
			sf.TokenRem = ad.Uint32()
		case subflowAttrTokenLoc:
			sf.TokenLoc = ad.Uint32()
		case subflowAttrFlags:
			sf.Flags = ad.Uint32()
		case subflowAttrIDRem:
			sf.RemID = ad.Uint8()
		case subflowAttrIDLoc:
			sf.LocID = ad.Uint8()
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("mptcp subflow info: %w", err)
	}
	sf.Backup = sf.Flags&SubflowFlagBkupLoc != 0
	sf.BackupRemote = sf.Flags&SubflowFlagBkupRem != 0
	return nil
}

// newConn builds a Conn from an MPTCP socket's message.
func newConn(m diagMsg) (Conn, error) {
	c := Conn{
		Local:    m.Local,
		Remote:   m.Remote,
		State:    m.State,
		UID:      m.UID,
		Inode:    m.Inode,
		Cookie:   m.Cookie,
		CgroupID: m.CgroupID,
	}
	if m.Info != nil {
		info, err := parseInfo(m.Info)
		if err != nil {
			return c, err
		}
		c.Info, c.Token = info, info.Token
	}
	return c, nil
}

// newSubflow builds a Subflow from a TCP socket's message; ok is false if
// the socket is not an MPTCP subflow.
func newSubflow(m diagMsg) (sf Subflow, ok bool, err error) {
	if m.ULPName != "mptcp" || m.ULP == nil {
		return sf, false, nil
	}
	sf = Subflow{Local: m.Local, Remote: m.Remote, State: m.State, IfIndex: m.IfIndex, Cookie: m.Cookie}
	if err := parseSubflowULP(m.ULP, &sf); err != nil {
		return sf, false, err
	}
	if m.Info != nil {
		if err := parseTCPInfo(m.Info, &sf); err != nil {
			return sf, false, err
		}
	}
	return sf, true, nil
}

// group puts subflows under the connection with their local token, drops
// the others, and sorts both levels.
func group(conns []Conn, subflows []Subflow) []Conn {
	slices.SortFunc(conns, func(a, b Conn) int {
		return cmp.Or(cmp.Compare(a.Token, b.Token), cmp.Compare(a.Cookie, b.Cookie))
	})
	idx := make(map[uint32]int, len(conns))
	for i, c := range conns {
		if _, dup := idx[c.Token]; !dup && c.Token != 0 {
			idx[c.Token] = i
		}
	}
	for _, sf := range subflows {
		if i, ok := idx[sf.TokenLoc]; ok {
			conns[i].Subflows = append(conns[i].Subflows, sf)
		}
	}
	for _, c := range conns {
		slices.SortFunc(c.Subflows, func(a, b Subflow) int {
			return cmp.Or(cmp.Compare(a.LocID, b.LocID), a.Local.Compare(b.Local), a.Remote.Compare(b.Remote))
		})
	}
	return conns
}
