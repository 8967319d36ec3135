package ifmon

// Linux rtnetlink values used by the pure rules of dump.go.
//
// They are copied here, instead of taken from golang.org/x/sys/unix, so that
// dump.go and its tests build and run on every GOOS: x/sys/unix has no
// IFA_F_* or RTNH_F_* names off Linux, and some of the names it has there
// (AF_INET6) carry other values. uapi_linux_test.go checks each one against
// its x/sys/unix name, so a typo cannot survive a Linux test run. Sources:
// include/uapi/linux/rtnetlink.h, if_addr.h, if.h, if_arp.h, and
// include/linux/socket.h.
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6 (Linux's value)

	// RFC 2863 operational states (if.h; not in x/sys/unix).
	ifOperUnknown = 0 // IF_OPER_UNKNOWN
	ifOperUp      = 6 // IF_OPER_UP

	// Interface flags (if.h).
	iffUp       = 0x1     // IFF_UP
	iffLoopback = 0x8     // IFF_LOOPBACK
	iffLowerUp  = 0x10000 // IFF_LOWER_UP

	arphrdLoopback = 772 // ARPHRD_LOOPBACK (if_arp.h)

	// Address flags (if_addr.h).
	ifaFTemporary  = 0x01 // IFA_F_TEMPORARY (IPv6; IFA_F_SECONDARY for IPv4)
	ifaFDadfailed  = 0x08 // IFA_F_DADFAILED
	ifaFDeprecated = 0x20 // IFA_F_DEPRECATED
	ifaFTentative  = 0x40 // IFA_F_TENTATIVE

	// Route values (rtnetlink.h).
	rtnUnicast = 1 // RTN_UNICAST
	rtnLocal   = 2 // RTN_LOCAL
)
