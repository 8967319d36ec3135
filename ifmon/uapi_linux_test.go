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
		{"IFF_UP", iffUp, unix.IFF_UP},
		{"IFF_LOOPBACK", iffLoopback, unix.IFF_LOOPBACK},
		{"IFF_LOWER_UP", iffLowerUp, unix.IFF_LOWER_UP},
		{"ARPHRD_LOOPBACK", arphrdLoopback, unix.ARPHRD_LOOPBACK},
		{"IFA_F_DADFAILED", ifaFDadfailed, unix.IFA_F_DADFAILED},
		{"IFA_F_DEPRECATED", ifaFDeprecated, unix.IFA_F_DEPRECATED},
		{"IFA_F_TENTATIVE", ifaFTentative, unix.IFA_F_TENTATIVE},
		{"RTN_UNICAST", rtnUnicast, unix.RTN_UNICAST},
		{"RTN_LOCAL", rtnLocal, unix.RTN_LOCAL},
		{"IFA_F_TEMPORARY", ifaFTemporary, unix.IFA_F_TEMPORARY},
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
