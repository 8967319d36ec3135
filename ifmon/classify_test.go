package ifmon

import (
	"errors"
	"path"
	"testing"
)

func TestClassify(t *testing.T) {
	rules := []Rule{
		{"usb0", ClassCellular},      // phone tethering
		{"veth-wifi*", ClassWifi},    // a rule overrides the veth kind
		{"wlan9", ClassWired},        // config rules come before DefaultRules
		{"eth*", ClassVirtual},       // first match wins…
		{"eth0", ClassWired},         // …so this one never does
		{"[bad", ClassWifi},          // malformed: never matches
		{"bogus*", Class("tachyon")}, // invalid class: never matches
	}
	veth := LinkFacts{Kind: "veth"}
	for _, tt := range []struct {
		name  string
		facts LinkFacts
		rules []Rule
		want  Class
	}{
		{"lo", LinkFacts{Loopback: true}, nil, ClassLoopback},
		{"wlan0", LinkFacts{Loopback: true}, rules, ClassLoopback}, // loopback beats every rule
		{"usb0", LinkFacts{}, rules, ClassCellular},
		{"usb0", LinkFacts{}, nil, ClassWired}, // usb* is not a default rule
		{"veth-wifi0", veth, rules, ClassWifi},
		{"veth-wifi0", veth, nil, ClassVirtual},
		{"wlan9", LinkFacts{Wireless: true}, rules, ClassWired},
		{"eth0", LinkFacts{}, rules, ClassVirtual},
		{"[bad", LinkFacts{}, rules, ClassWired},
		{"bogus0", LinkFacts{}, rules, ClassWired},
		// DefaultRules, even for veths (the test namespaces rely on it).
		{"wlan0", veth, nil, ClassWifi},
		{"wlp3s0", LinkFacts{}, nil, ClassWifi},
		{"wlx00c0ca123456", LinkFacts{}, nil, ClassWifi},
		{"wlo1", LinkFacts{}, nil, ClassWifi},
		{"wwan0", veth, nil, ClassCellular},
		{"wwp0s20f0u6i12", LinkFacts{}, nil, ClassCellular},
		{"rmnet_data0", LinkFacts{Kind: "rmnet"}, nil, ClassCellular},
		{"ccmni0", LinkFacts{}, nil, ClassCellular},
		// sysfs facts.
		{"mywifi", LinkFacts{Wireless: true}, nil, ClassWifi},
		{"mywifi", LinkFacts{DevType: "wlan"}, nil, ClassWifi},
		{"modem", LinkFacts{DevType: "wwan"}, nil, ClassCellular},
		{"p2p-dev", LinkFacts{DevType: "wlan", Virtual: true}, nil, ClassWifi},
		// rtnetlink kinds.
		{"mhi0", LinkFacts{Kind: "wwan"}, nil, ClassCellular},
		{"veth9", veth, nil, ClassVirtual},
		{"br0", LinkFacts{Kind: "bridge", DevType: "bridge"}, nil, ClassVirtual},
		{"wg0", LinkFacts{Kind: "wireguard"}, nil, ClassVirtual},
		{"tun0", LinkFacts{Kind: "tun"}, nil, ClassVirtual},
		{"sit0", LinkFacts{Virtual: true}, nil, ClassVirtual}, // no kind, but virtual in sysfs
		// Plain hardware.
		{"eth0", LinkFacts{}, nil, ClassWired},
		{"enp0s31f6", LinkFacts{}, nil, ClassWired},
		{"", LinkFacts{}, nil, ClassWired},
	} {
		if got := Classify(tt.name, tt.facts, tt.rules); got != tt.want {
			t.Errorf("Classify(%q, %+v, rules=%v) = %s, want %s", tt.name, tt.facts, tt.rules != nil, got, tt.want)
		}
	}
}

func TestDefaultRulesValid(t *testing.T) {
	if err := validateRules(DefaultRules); err != nil {
		t.Fatal(err)
	}
	for _, r := range DefaultRules {
		if r.Class != ClassWifi && r.Class != ClassCellular {
			t.Errorf("default rule %q gives %s", r.Pattern, r.Class)
		}
	}
}

func TestValidateRules(t *testing.T) {
	if err := validateRules([]Rule{{"wl*", ClassWifi}, {"[bad", ClassWifi}}); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("malformed pattern: err = %v, want path.ErrBadPattern", err)
	}
	if err := validateRules([]Rule{{"x*", ""}}); err == nil {
		t.Error("empty class: no error")
	}
	if _, err := newMonitor(Config{Rules: []Rule{{"[bad", ClassWifi}}}); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("newMonitor with a malformed rule: err = %v", err)
	}
	if _, err := newMonitor(Config{Settle: -1}); err == nil {
		t.Error("newMonitor with a negative settle window: no error")
	}
	m, err := newMonitor(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.Settle != DefaultSettle || m.cfg.SysfsRoot != "/sys" || m.cfg.Logf == nil {
		t.Errorf("defaults not applied: %+v", m.cfg)
	}
}
