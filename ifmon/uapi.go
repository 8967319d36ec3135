package ifmon

// Linux rtnetlink numbers used by the parsers.
//
// They are copied here, instead of taken from golang.org/x/sys/unix, so that
// the pure parsers (parse.go) and their tests build and run on every GOOS:
// x/sys/unix has no IFLA_*/IFA_* names off Linux, and some of the names it
// has there (AF_INET6, RTM_*) carry other values. uapi_linux_test.go checks
// each one against its x/sys/unix name, so a typo cannot survive a Linux
// test run. Sources: include/uapi/linux/rtnetlink.h, if_link.h, if_addr.h,
// if.h, if_arp.h, and include/linux/socket.h.
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6 (Linux's value)

	// Message types (rtnetlink.h).
	rtmNewLink  = 16 // RTM_NEWLINK
	rtmGetLink  = 18 // RTM_GETLINK
	rtmNewAddr  = 20 // RTM_NEWADDR
	rtmGetAddr  = 22 // RTM_GETADDR
	rtmNewRoute = 24 // RTM_NEWROUTE
	rtmGetRoute = 26 // RTM_GETROUTE

	// Fixed headers that precede the attributes.
	sizeofIfInfomsg = 16 // struct ifinfomsg
	sizeofIfAddrmsg = 8  // struct ifaddrmsg
	sizeofRtMsg     = 12 // struct rtmsg
	sizeofRtNexthop = 8  // struct rtnexthop

	// Link attributes (if_link.h).
	iflaIfname    = 3  // IFLA_IFNAME
	iflaOperstate = 16 // IFLA_OPERSTATE
	iflaLinkinfo  = 18 // IFLA_LINKINFO
	iflaInfoKind  = 1  // IFLA_INFO_KIND, nested in IFLA_LINKINFO

	// RFC 2863 operational states (if.h; not in x/sys/unix).
	ifOperUnknown = 0 // IF_OPER_UNKNOWN
	ifOperUp      = 6 // IF_OPER_UP

	// Interface flags (if.h).
	iffUp       = 0x1     // IFF_UP
	iffLoopback = 0x8     // IFF_LOOPBACK
	iffRunning  = 0x40    // IFF_RUNNING
	iffLowerUp  = 0x10000 // IFF_LOWER_UP

	arphrdLoopback = 772 // ARPHRD_LOOPBACK (if_arp.h)

	// Address attributes and flags (if_addr.h).
	ifaAddress     = 1    // IFA_ADDRESS
	ifaLocal       = 2    // IFA_LOCAL
	ifaFlags       = 8    // IFA_FLAGS: u32, supersedes ifaddrmsg.ifa_flags
	ifaFDadfailed  = 0x08 // IFA_F_DADFAILED
	ifaFDeprecated = 0x20 // IFA_F_DEPRECATED
	ifaFTentative  = 0x40 // IFA_F_TENTATIVE

	// Route attributes and values (rtnetlink.h).
	rtaDst       = 1     // RTA_DST
	rtaOif       = 4     // RTA_OIF
	rtaMultipath = 9     // RTA_MULTIPATH: an array of struct rtnexthop
	rtaTable     = 15    // RTA_TABLE: u32, supersedes rtmsg.rtm_table
	rtnUnicast   = 1     // RTN_UNICAST
	rtnhFDead    = 0x1   // RTNH_F_DEAD
	rtmFCloned   = 0x200 // RTM_F_CLONED
)
