package ifmon

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sysfsFacts fills the sysfs facts of f (Wireless, DevType, Virtual) for the
// interface name with index index, from the sysfs mounted at root:
//
//   - Wireless: root/class/net/NAME/wireless (wireless extensions) or
//     root/class/net/NAME/phy80211 (cfg80211) exists;
//   - DevType: DEVTYPE= in root/class/net/NAME/uevent (SET_NETDEV_DEVTYPE);
//   - Virtual: root/class/net/NAME links into devices/virtual/net.
//
// It reports false and leaves f alone when the entry is missing or belongs to
// another device (its ifindex file differs from index), as happens when /sys
// was mounted by another network namespace, or the device was just renamed
// or removed.
func sysfsFacts(root, name string, index int32, f *LinkFacts) bool {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return false
	}
	dir := filepath.Join(root, "class", "net", name)
	b, err := os.ReadFile(filepath.Join(dir, "ifindex"))
	if err != nil {
		return false
	}
	if i, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32); err != nil || int32(i) != index {
		return false
	}
	g := *f
	g.Wireless = exists(filepath.Join(dir, "wireless")) || exists(filepath.Join(dir, "phy80211"))
	if target, err := os.Readlink(dir); err == nil {
		g.Virtual = strings.Contains(filepath.ToSlash(target), "/devices/virtual/")
	}
	if ue, err := os.ReadFile(filepath.Join(dir, "uevent")); err == nil {
		g.DevType = ueventValue(ue, "DEVTYPE")
	}
	*f = g
	return true
}

// ueventValue returns the value of KEY=value in the contents of a uevent
// file, or "".
func ueventValue(b []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == key {
			return v
		}
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
