package ifmon

import (
	"fmt"
	"path"
)

// Rule classifies interfaces by name. Pattern is a path.Match pattern
// ("wlan*", "enx00e04c*"); the first rule whose pattern matches the whole
// name gives the Class.
type Rule struct {
	Pattern string
	Class   Class
}

// DefaultRules are tried after Config.Rules and before the sysfs facts. They
// cover the names that kernels, udev and Android give to radios:
//
//   - wifi: wlan* (kernel default), and systemd's predictable names for
//     WLAN devices: wlp* (PCI), wlx* (MAC), wlo* (onboard), wls* (hotplug
//     slot), wlP* (PCI with a domain);
//   - cellular: wwan* (kernel and the wwan subsystem), ww[psxoP]* (systemd),
//     rmnet* (Qualcomm RmNet, including Android's rmnet_data*/rmnet_ipa*),
//     ccmni* (MediaTek modems on Android).
//
// usb* is deliberately absent: usbnet names a device usb%d when it is a
// point-to-point CDC/RNDIS device, which is as often a gadget link to a host
// (Raspberry Pi, BeagleBone, the device side of g_ether) as a phone's USB
// tethering; add a Rule when it is cellular. A real modem driven by qmi_wwan
// or cdc_mbim gets the name wwan%d from usbnet and DEVTYPE=wwan in sysfs,
// so it needs no rule.
//
// DefaultRules is read by Classify on every call: change it, if at all,
// before any Monitor runs.
var DefaultRules = []Rule{
	{"wlan*", ClassWifi},
	{"wlp*", ClassWifi},
	{"wlx*", ClassWifi},
	{"wlo*", ClassWifi},
	{"wls*", ClassWifi},
	{"wlP*", ClassWifi},
	{"wwan*", ClassCellular},
	{"wwp*", ClassCellular},
	{"wws*", ClassCellular},
	{"wwx*", ClassCellular},
	{"wwo*", ClassCellular},
	{"wwP*", ClassCellular},
	{"rmnet*", ClassCellular},
	{"ccmni*", ClassCellular},
}

// LinkFacts are what Classify knows about an interface besides its name.
// Loopback and Kind come from rtnetlink and are always known; Wireless,
// DevType and Virtual come from sysfs and are only known for the caller's
// own network namespace (see Config.SysfsRoot).
type LinkFacts struct {
	// Loopback is IFF_LOOPBACK or ARPHRD_LOOPBACK.
	Loopback bool
	// Kind is IFLA_INFO_KIND of the rtnl_link_ops that created the device:
	// veth, bridge, tun, wireguard, vlan, macvlan, … ("" for a device a
	// hardware driver registered).
	Kind string
	// Wireless is set when /sys/class/net/NAME/wireless or phy80211 exists.
	Wireless bool
	// DevType is DEVTYPE from /sys/class/net/NAME/uevent: "wlan", "wwan",
	// "bridge", "vlan", … ("" when unset).
	DevType string
	// Virtual is set when the device lives under /sys/devices/virtual/net,
	// that is, it has no parent bus device.
	Virtual bool
}

// Classify returns the class of the interface called name. The order is:
//
//  1. a loopback interface is ClassLoopback, whatever its name;
//  2. the first of rules (the configuration's) whose Pattern matches name;
//  3. the first of DefaultRules that matches;
//  4. sysfs: Wireless or DevType "wlan" is ClassWifi, DevType "wwan" is
//     ClassCellular;
//  5. Kind "wwan" (drivers/net/wwan) or "rmnet" (Qualcomm RmNet) is
//     ClassCellular, so modems are recognised without sysfs in another
//     namespace;
//  6. any other Kind, or Virtual, is ClassVirtual;
//  7. anything else is ClassWired.
//
// A rule with a malformed pattern or an invalid class never matches; New
// rejects such rules in a Config. Classify is pure and safe for concurrent
// use.
func Classify(name string, f LinkFacts, rules []Rule) Class {
	if f.Loopback {
		return ClassLoopback
	}
	if c, ok := matchRules(name, rules); ok {
		return c
	}
	if c, ok := matchRules(name, DefaultRules); ok {
		return c
	}
	switch {
	case f.Wireless || f.DevType == "wlan":
		return ClassWifi
	case f.DevType == "wwan":
		return ClassCellular
	case f.Kind == "wwan" || f.Kind == "rmnet":
		return ClassCellular
	case f.Kind != "" || f.Virtual:
		return ClassVirtual
	}
	return ClassWired
}

// matchRules returns the class of the first valid rule that matches name.
func matchRules(name string, rules []Rule) (Class, bool) {
	for _, r := range rules {
		if ok, err := path.Match(r.Pattern, name); ok && err == nil && r.Class.Valid() {
			return r.Class, true
		}
	}
	return "", false
}

// validateRules reports the first rule with a malformed pattern or a class
// that is not one of Classes.
func validateRules(rules []Rule) error {
	for i, r := range rules {
		if _, err := path.Match(r.Pattern, ""); err != nil {
			return fmt.Errorf("rule %d (%q): %w", i, r.Pattern, err)
		}
		if !r.Class.Valid() {
			return fmt.Errorf("rule %d (%q): unknown class %q", i, r.Pattern, r.Class)
		}
	}
	return nil
}
