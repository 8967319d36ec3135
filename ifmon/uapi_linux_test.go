//go:build linux

package ifmon

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestUAPI checks the numbers copied into uapi.go against x/sys/unix.
func TestUAPI(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"AF_INET", afInet, unix.AF_INET},
		{"AF_INET6", afInet6, unix.AF_INET6},
		{"RTM_NEWLINK", rtmNewLink, unix.RTM_NEWLINK},
		{"RTM_GETLINK", rtmGetLink, unix.RTM_GETLINK},
		{"RTM_NEWADDR", rtmNewAddr, unix.RTM_NEWADDR},
		{"RTM_GETADDR", rtmGetAddr, unix.RTM_GETADDR},
		{"RTM_NEWROUTE", rtmNewRoute, unix.RTM_NEWROUTE},
		{"RTM_GETROUTE", rtmGetRoute, unix.RTM_GETROUTE},
		{"SizeofIfInfomsg", sizeofIfInfomsg, unix.SizeofIfInfomsg},
		{"SizeofIfAddrmsg", sizeofIfAddrmsg, unix.SizeofIfAddrmsg},
		{"SizeofRtMsg", sizeofRtMsg, unix.SizeofRtMsg},
		{"SizeofRtNexthop", sizeofRtNexthop, unix.SizeofRtNexthop},
		{"IFLA_IFNAME", iflaIfname, unix.IFLA_IFNAME},
		{"IFLA_OPERSTATE", iflaOperstate, unix.IFLA_OPERSTATE},
		{"IFLA_LINKINFO", iflaLinkinfo, unix.IFLA_LINKINFO},
		{"IFLA_INFO_KIND", iflaInfoKind, unix.IFLA_INFO_KIND},
		{"IFF_UP", iffUp, unix.IFF_UP},
		{"IFF_LOOPBACK", iffLoopback, unix.IFF_LOOPBACK},
		{"IFF_RUNNING", iffRunning, unix.IFF_RUNNING},
		{"IFF_LOWER_UP", iffLowerUp, unix.IFF_LOWER_UP},
		{"ARPHRD_LOOPBACK", arphrdLoopback, unix.ARPHRD_LOOPBACK},
		{"IFA_ADDRESS", ifaAddress, unix.IFA_ADDRESS},
		{"IFA_LOCAL", ifaLocal, unix.IFA_LOCAL},
		{"IFA_FLAGS", ifaFlags, unix.IFA_FLAGS},
		{"IFA_F_DADFAILED", ifaFDadfailed, unix.IFA_F_DADFAILED},
		{"IFA_F_DEPRECATED", ifaFDeprecated, unix.IFA_F_DEPRECATED},
		{"IFA_F_TENTATIVE", ifaFTentative, unix.IFA_F_TENTATIVE},
		{"RTA_DST", rtaDst, unix.RTA_DST},
		{"RTA_OIF", rtaOif, unix.RTA_OIF},
		{"RTA_MULTIPATH", rtaMultipath, unix.RTA_MULTIPATH},
		{"RTA_TABLE", rtaTable, unix.RTA_TABLE},
		{"RTN_UNICAST", rtnUnicast, unix.RTN_UNICAST},
		{"RTNH_F_DEAD", rtnhFDead, unix.RTNH_F_DEAD},
		{"RTM_F_CLONED", rtmFCloned, unix.RTM_F_CLONED},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, x/sys/unix says %d", c.name, c.got, c.want)
		}
	}
}

// TestSysfsFactsHost reads this machine's /sys for lo, which is virtual.
func TestSysfsFactsHost(t *testing.T) {
	var f LinkFacts
	if !sysfsFacts("/sys", "lo", 1, &f) {
		t.Skip("no /sys/class/net/lo with ifindex 1 here")
	}
	if !f.Virtual || f.Wireless {
		t.Errorf("lo: %+v", f)
	}
}
