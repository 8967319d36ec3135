package ifmon

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeSysfs builds a sysfs tree: class/net/NAME links to a device directory
// under devices/ holding ifindex and uevent, and optionally wireless/.
func fakeSysfs(t *testing.T) string {
	root := t.TempDir()
	dev := func(name, devpath string, index, uevent string, wireless bool) {
		dir := filepath.Join(root, "devices", devpath, "net", name)
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "ifindex"), []byte(index+"\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644))
		if wireless {
			must(t, os.Mkdir(filepath.Join(dir, "wireless"), 0o755))
		}
		must(t, os.MkdirAll(filepath.Join(root, "class", "net"), 0o755))
		must(t, os.Symlink(filepath.Join("..", "..", "devices", devpath, "net", name), filepath.Join(root, "class", "net", name)))
	}
	dev("wlp2s0", "pci0000:00/0000:00:1c.0/0000:02:00.0", "3", "DEVTYPE=wlan\nINTERFACE=wlp2s0\nIFINDEX=3\n", true)
	dev("modem0", "pci0000:00/0000:00:14.0/usb1/1-6/1-6:1.12", "4", "DEVTYPE=wwan\nINTERFACE=modem0\n", false)
	dev("veth0", "virtual", "5", "INTERFACE=veth0\nIFINDEX=5\n", false)
	dev("eth0", "pci0000:00/0000:00:1f.6", "2", "INTERFACE=eth0\n", false)
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSysfsFacts(t *testing.T) {
	root := fakeSysfs(t)
	for _, tt := range []struct {
		name  string
		index int32
		ok    bool
		want  LinkFacts
		class Class
	}{
		{"wlp2s0", 3, true, LinkFacts{Kind: "x", Wireless: true, DevType: "wlan"}, ClassWifi},
		{"modem0", 4, true, LinkFacts{Kind: "x", DevType: "wwan"}, ClassCellular},
		{"veth0", 5, true, LinkFacts{Kind: "x", Virtual: true}, ClassVirtual},
		{"eth0", 2, true, LinkFacts{Kind: "x"}, ClassVirtual},
		// Same name, another device: /sys of another namespace.
		{"eth0", 7, false, LinkFacts{Kind: "x"}, ClassVirtual},
		{"missing", 9, false, LinkFacts{Kind: "x"}, ClassVirtual},
		{"../../devices", 1, false, LinkFacts{Kind: "x"}, ClassVirtual},
		{"..", 1, false, LinkFacts{Kind: "x"}, ClassVirtual},
	} {
		f := LinkFacts{Kind: "x"} // kept: sysfs fills only its own facts
		ok := sysfsFacts(root, tt.name, tt.index, &f)
		if ok != tt.ok || f != tt.want {
			t.Errorf("sysfsFacts(%q, %d) = %v, %+v; want %v, %+v", tt.name, tt.index, ok, f, tt.ok, tt.want)
		}
		if c := Classify(tt.name, f, nil); c != tt.class {
			t.Errorf("%s: class %s, want %s", tt.name, c, tt.class)
		}
	}
	// Without a kind, plain hardware is wired.
	var f LinkFacts
	sysfsFacts(root, "eth0", 2, &f)
	if c := Classify("eth0", f, nil); c != ClassWired {
		t.Errorf("eth0 is %s", c)
	}
}

func TestUeventValue(t *testing.T) {
	ue := []byte("INTERFACE=wlan0\nDEVTYPE=wlan\nIFINDEX=3\n")
	if v := ueventValue(ue, "DEVTYPE"); v != "wlan" {
		t.Errorf("DEVTYPE = %q", v)
	}
	if v := ueventValue(ue, "DEV"); v != "" {
		t.Errorf("DEV = %q", v)
	}
}
