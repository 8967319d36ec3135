package neighbours

import (
	"reflect"
	"testing"
)

func TestParseUnix(t *testing.T) {
	const text = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00000000 0002 01 31337 @mptcp-pm/keeper
0000000000000000: 00000002 00000000 00000000 0002 01 31338 @mptcp-pm/keeper/42
0000000000000000: 00000002 00000000 00000000 0002 01 31339 @mptcp-pm/daemon/7
0000000000000000: 00000002 00000000 00000000 0002 01 31340 @mptcp-pm/other/8
0000000000000000: 00000002 00000000 00000000 0002 01 31341 @mptcp-pm/daemon/x
0000000000000000: 00000002 00000000 00000000 0002 01 31342 /run/mptcp-pm/daemon/9
0000000000000000: 00000003 00000000 00000000 0001 03 31343
`
	got := parseUnix(text)
	want := []Neighbour{{Name: MptcpPM, PID: 42, Role: RoleKeeper}, {Name: MptcpPM, PID: 7, Role: RoleDaemon}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseUnix = %v, want %v", got, want)
	}
}

func TestNotes(t *testing.T) {
	keeper := Neighbour{Name: MptcpPM, PID: 1, Role: RoleKeeper}
	nm := Neighbour{Name: NetworkManager, PID: 2}
	d := Neighbour{Name: MptcpPM, PID: 3, Role: RoleDaemon}
	if !keeper.KeepsEndpoints() || !nm.KeepsEndpoints() || d.KeepsEndpoints() {
		t.Errorf("KeepsEndpoints: keeper %v, NetworkManager %v, userspace daemon %v; want true, true, false",
			keeper.KeepsEndpoints(), nm.KeepsEndpoints(), d.KeepsEndpoints())
	}
	got := Lines([]Neighbour{nm, keeper}, RoleKeeper)
	want := []string{"NetworkManager pid 2: manages endpoints too: both add and delete them",
		"mptcp-pm keeper pid 1: another endpoint keeper: both add and delete the same endpoints"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
