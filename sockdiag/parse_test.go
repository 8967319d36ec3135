package sockdiag

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
)

// Fixtures are real inet_diag messages from Linux 6.18 (amd64), captured by
// the integration test with SOCKDIAG_FIXTURES=1: the client end of an MPTCP
// connection 10.77.0.1:46816 -> 10.77.0.1:35611 with a second subflow from
// endpoint 10.77.0.2 (id 1), and the listener's TCP subflow.
const (
	fixtureMSK = "02010000b6e08b1b0a4d00010000000000000000000000000a4d00010000000000000000000000000000000001000000" +
		"00000000000000000000000000000000000000000f470000050008000000000008000f00000000000c00150001000000" +
		"00000000060016005200000064000200010000020002000002000000f339c34a869a89fe8034e448869a89fe8034e448" +
		"d8088a8bffbadb4601010000000000000000000000000000000001000000000000000000000000000000010000000000" +
		"02000000080000000800000008000000"
	fixtureSubflowInitial = "02010200b6e08b1b0a4d00010000000000000000000000000a4d00010000000000000000000000000000000001100000" +
		"000000008c3a00000000000000000000000000000f470000050008000000000008000f00000000000c00150001000000" +
		"0000000006001600520000001c010200010000000007aa00e01c030000000000e57f0000180200000000000000000000" +
		"0000000000000000000000000c000000000000000c0000000c000000ffff0000d7ff00003f00000022000000ffffff7f" +
		"0e000000cbff00000300000000000000d7ff0000000000009416499203000000ffffffffffffffff0100010000000000" +
		"000000000000000006000000030000000000000021000000000000000400000032eaa253000000000000000000000000" +
		"000000000000000000000000000000000500000000000000000001000000000000000000000000000000000000000000" +
		"0000000000ec000000000100000000000000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000680013000a0001006d7074637000000058000300080001000000000008000200f339c34a08000800" +
		"c3000000050009000000000005000a000000000008000300010001000c000400d8088a8bffbadb460800050001000000" +
		"08000600e21870110600070000000000"
	fixtureSubflowJoin = "02010200cc778b1b0a4d00020000000000000000000000000a4d00010000000000000000000000000000000004100000" +
		"000000008c3a00000000000000000000000000000f470000050008000000000008000f00000000000c00150001000000" +
		"0000000006001600520000001c010200010000000007aa01e01c03000000000000800000180200000000000000000000" +
		"0000000000000000000000000c000000000000000c0000000c000000ffff0000d7ff00000e00000007000000ffffff7f" +
		"0a000000cbff00000300000000000000d7ff0000000000006a36ac8f0f000000ffffffffffffffff0100000000000000" +
		"00000000000000000200000002000000000000000e000000000000000000000000000000000000000000000000000000" +
		"000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000" +
		"000000000000010000000100000000000000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000680013000a0001006d70746370000000580003000800010088f94e0908000200f339c34a08000800" +
		"cc000000050009000000000005000a000100000008000300010000000c000400d8088a8bffbadb460800050000000000" +
		"080006008e6132fe0600070000000000"
	fixtureTCPListener = "020a00008b1b00000a4d0001000000000000000000000000000000000000000000000000000000000000000005100000" +
		"00000000000000000000000000100000000000000b470000050008000000000008000f00000000000c00150001000000" +
		"0000000006001600520000001c0102000a00000000000000000000000000000000000000000000000000000000100000" +
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"0a0000000000000003000000000000000000000000000000ffffffffffffffffffffffffffffffff0000000000000000" +
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000100013000a0001006d70746370000000"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const clientToken = 0x4ac339f3

var (
	addrServer = netip.MustParseAddrPort("10.77.0.1:35611")
	addrClient = netip.MustParseAddrPort("10.77.0.1:46816")

	wantMSK = Conn{
		Token:  clientToken,
		Local:  addrClient,
		Remote: addrServer,
		State:  1,
		Inode:  18191,
		Cookie: 1, CgroupID: 1,
		Info: Info{
			Subflows:           1,
			SubflowsMax:        2,
			AddAddrAcceptedMax: 2,
			Flags:              InfoFlagRemoteKeyReceived,
			Token:              clientToken,
			WriteSeq:           5252380794051730054,
			SndUna:             5252380794051730054,
			RcvNxt:             5105880209275095256,
			LocalAddrUsed:      1,
			LocalAddrMax:       1,
			BytesSent:          65536,
			BytesAcked:         65536,
			SubflowsTotal:      2,
			LastDataSent:       8,
			LastDataRecv:       8,
			LastAckRecv:        8,
		},
	}
	wantInitial = Subflow{
		Local:       addrClient,
		Remote:      addrServer,
		State:       1,
		Cookie:      4097,
		TokenLoc:    clientToken,
		Flags:       SubflowFlagMCapRem | SubflowFlagMCapLoc | SubflowFlagFullyEstablished | SubflowFlagConnected,
		RTT:         63 * time.Microsecond,
		RTTVar:      34 * time.Microsecond,
		RTO:         204 * time.Millisecond,
		SndCwnd:     14,
		DataSegsOut: 4,
		BytesAcked:  65537,
	}
	wantJoin = Subflow{
		Local:      netip.MustParseAddrPort("10.77.0.2:52343"),
		Remote:     addrServer,
		State:      1,
		Cookie:     4100,
		TokenLoc:   clientToken,
		TokenRem:   0x094ef988,
		LocID:      1,
		Flags:      SubflowFlagJoinRem | SubflowFlagJoinLoc | SubflowFlagFullyEstablished | SubflowFlagConnected,
		RTT:        14 * time.Microsecond,
		RTTVar:     7 * time.Microsecond,
		RTO:        204 * time.Millisecond,
		SndCwnd:    10,
		BytesAcked: 1,
	}
)

func TestFixtures(t *testing.T) {
	m, err := parseMsg(mustHex(t, fixtureMSK))
	if err != nil {
		t.Fatalf("parseMsg(msk): %v", err)
	}
	if len(m.Info) != 96 {
		t.Errorf("mptcp_info is %d bytes, want 96 (6.18)", len(m.Info))
	}
	conn, err := newConn(m)
	if err != nil {
		t.Fatalf("newConn: %v", err)
	}
	if !reflect.DeepEqual(conn, wantMSK) {
		t.Errorf("msk:\n got %+v\nwant %+v", conn, wantMSK)
	}

	for name, tt := range map[string]struct {
		hex  string
		want Subflow
		ok   bool
	}{
		"initial":  {fixtureSubflowInitial, wantInitial, true},
		"join":     {fixtureSubflowJoin, wantJoin, true},
		"listener": {fixtureTCPListener, Subflow{}, false},
	} {
		m, err := parseMsg(mustHex(t, tt.hex))
		if err != nil {
			t.Fatalf("%s: parseMsg: %v", name, err)
		}
		if m.ULPName != "mptcp" || len(m.Info) != 280 {
			t.Errorf("%s: ULP %q, tcp_info of %d bytes", name, m.ULPName, len(m.Info))
		}
		sf, ok, err := newSubflow(m)
		if err != nil || ok != tt.ok {
			t.Fatalf("%s: newSubflow: ok %v, err %v", name, ok, err)
		}
		if ok && !reflect.DeepEqual(sf, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, sf, tt.want)
		}
	}
}

// header returns a 72-byte inet_diag_msg header with the given family and
// raw addresses, followed by attrs.
func header(family uint8, src, dst []byte, attrs ...netlink.Attribute) []byte {
	b := make([]byte, sizeofDiagMsg)
	b[0], b[1] = family, 1
	binary.BigEndian.PutUint16(b[4:], 1000)
	binary.BigEndian.PutUint16(b[6:], 2000)
	copy(b[8:24], src)
	copy(b[24:40], dst)
	binary.NativeEndian.PutUint32(b[40:], 7)  // idiag_if
	binary.NativeEndian.PutUint32(b[44:], 1)  // cookie low
	binary.NativeEndian.PutUint32(b[48:], 2)  // cookie high
	binary.NativeEndian.PutUint32(b[64:], 42) // uid
	a, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return append(b, a...)
}

func TestParseMsgAddresses(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1").As16()
	mapped := netip.MustParseAddr("::ffff:192.0.2.1").As16()
	for _, tt := range []struct {
		name      string
		b         []byte
		src, dst  string
		wantError bool
	}{
		{name: "v4", b: header(afInet, []byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}), src: "192.0.2.1", dst: "192.0.2.2"},
		{name: "v6", b: header(afInet6, v6[:], mapped[:]), src: "2001:db8::1", dst: "192.0.2.1"},
		{name: "family", b: header(1, nil, nil), wantError: true},
		{name: "short", b: header(afInet, nil, nil)[:sizeofDiagMsg-1], wantError: true},
		{name: "empty", b: nil, wantError: true},
	} {
		m, err := parseMsg(tt.b)
		if (err != nil) != tt.wantError {
			t.Fatalf("%s: err %v", tt.name, err)
		}
		if err != nil {
			continue
		}
		if m.Local != netip.AddrPortFrom(netip.MustParseAddr(tt.src), 1000) ||
			m.Remote != netip.AddrPortFrom(netip.MustParseAddr(tt.dst), 2000) ||
			m.IfIndex != 7 || m.Cookie != 2<<32|1 || m.UID != 42 || m.Info != nil || m.ULP != nil {
			t.Errorf("%s: %+v", tt.name, m)
		}
	}
}

func TestMalformed(t *testing.T) {
	u32 := func(typ uint16, v uint32) netlink.Attribute {
		return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint32(nil, v)}
	}
	ulp := func(inner ...netlink.Attribute) netlink.Attribute {
		b, _ := netlink.MarshalAttributes(inner)
		nested, _ := netlink.MarshalAttributes([]netlink.Attribute{
			{Type: inetULPInfoName, Data: []byte("mptcp\x00")},
			{Type: inetULPInfoMPTCP, Data: b},
		})
		return netlink.Attribute{Type: inetDiagULPInfo, Data: nested}
	}
	v4 := []byte{10, 0, 0, 1}

	// Every prefix of a real message: no panic, and an error when the
	// header is cut.
	for _, fx := range []string{fixtureMSK, fixtureSubflowInitial, fixtureSubflowJoin, fixtureTCPListener} {
		b := mustHex(t, fx)
		for n := range len(b) {
			m, err := parseMsg(b[:n])
			if n < sizeofDiagMsg && err == nil {
				t.Fatalf("parseMsg of %d bytes: no error", n)
			}
			if err == nil {
				newConn(m)
				newSubflow(m)
			}
		}
	}

	// A truncated attribute header is an error.
	if _, err := parseMsg(append(header(afInet, v4, v4), 8, 0, 2)); err == nil {
		t.Error("truncated attribute: no error")
	}
	// A subflow attribute of the wrong size is an error, not a panic.
	bad := header(afInet, v4, v4, ulp(netlink.Attribute{Type: subflowAttrTokenLoc, Data: []byte{1, 2}}))
	if m, err := parseMsg(bad); err != nil {
		t.Fatalf("parseMsg: %v", err)
	} else if _, _, err := newSubflow(m); err == nil {
		t.Error("2-byte token: no error")
	}
	// A subflow without tcp_info keeps zero TCP fields.
	m, err := parseMsg(header(afInet, v4, v4, ulp(u32(subflowAttrTokenLoc, 5), u32(subflowAttrFlags, SubflowFlagBkupLoc))))
	if err != nil {
		t.Fatal(err)
	}
	if sf, ok, err := newSubflow(m); !ok || err != nil || sf.TokenLoc != 5 || !sf.Backup || sf.BackupRemote || sf.RTT != 0 {
		t.Errorf("newSubflow without tcp_info: %+v %v %v", sf, ok, err)
	}
	// A plain TCP socket (no ULP) is not a subflow.
	m, _ = parseMsg(header(afInet, v4, v4, netlink.Attribute{Type: inetDiagInfo, Data: make([]byte, 280)}))
	if _, ok, err := newSubflow(m); ok || err != nil {
		t.Errorf("plain TCP: ok %v err %v", ok, err)
	}

	// Short structs: errors below the oldest layout, zeros past the end.
	if _, err := parseInfo(make([]byte, minMPTCPInfo-1)); err == nil {
		t.Error("parseInfo: short input, no error")
	}
	msk, _ := parseMsg(mustHex(t, fixtureMSK))
	info, err := parseInfo(msk.Info[:minMPTCPInfo])
	if err != nil || info.Token != clientToken || info.RcvNxt != wantMSK.Info.RcvNxt || info.BytesSent != 0 || info.LastAckRecv != 0 {
		t.Errorf("parseInfo(5.9 layout) = %+v, %v", info, err)
	}
	var sf Subflow
	if err := parseTCPInfo(make([]byte, minTCPInfo-1), &sf); err == nil {
		t.Error("parseTCPInfo: short input, no error")
	}
	ti := make([]byte, 120) // ends before tcpi_bytes_acked
	binary.NativeEndian.PutUint32(ti[68:], 1500)
	binary.NativeEndian.PutUint64(ti[112:], ^uint64(0))
	if err := parseTCPInfo(ti, &sf); err != nil || sf.RTT != 1500*time.Microsecond || sf.BytesAcked != 0 {
		t.Errorf("parseTCPInfo(120 bytes) = %+v, %v", sf, err)
	}
}

func TestGroup(t *testing.T) {
	a, b := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:1")
	conns := []Conn{{Token: 9, Cookie: 3}, {Token: 0, Cookie: 2}, {Token: 4, Cookie: 1}, {Token: 0, Cookie: 1}}
	subflows := []Subflow{
		{TokenLoc: 4, LocID: 2, Local: a},
		{TokenLoc: 7}, // no such connection: dropped
		{TokenLoc: 0}, // listeners and unknown tokens get nothing
		{TokenLoc: 4, LocID: 0, Local: b},
		{TokenLoc: 4, LocID: 0, Local: a},
	}
	want := []Conn{
		{Token: 0, Cookie: 1},
		{Token: 0, Cookie: 2},
		{Token: 4, Cookie: 1, Subflows: []Subflow{{TokenLoc: 4, Local: a}, {TokenLoc: 4, Local: b}, {TokenLoc: 4, LocID: 2, Local: a}}},
		{Token: 9, Cookie: 3},
	}
	if got := group(conns, subflows); !reflect.DeepEqual(got, want) {
		t.Errorf("group:\n got %+v\nwant %+v", got, want)
	}
}

func TestPackRequest(t *testing.T) {
	tcp := packRequest(afInet6, ipprotoTCP, 0xfffffbff)
	want := append([]byte{afInet6, ipprotoTCP, 2, 0}, binary.NativeEndian.AppendUint32(nil, 0xfffffbff)...)
	want = append(want, make([]byte, 48)...)
	if !bytes.Equal(tcp, want) {
		t.Errorf("tcp request:\n got %x\nwant %x", tcp, want)
	}
	mptcp := packRequest(afInet, ipprotoMPTCP, 1)
	want = append([]byte{afInet, ipprotoTCP, 2, 0, 1, 0, 0, 0}, make([]byte, 48)...)
	want = append(want, 8, 0, inetDiagReqProtocol, 0) // nlattr: len 8, type 3
	want = binary.NativeEndian.AppendUint32(want, ipprotoMPTCP)
	if !bytes.Equal(mptcp, want) {
		t.Errorf("mptcp request:\n got %x\nwant %x", mptcp, want)
	}
}

// FuzzParseMsg feeds whole messages through every decoder.
func FuzzParseMsg(f *testing.F) {
	for _, fx := range []string{fixtureMSK, fixtureSubflowInitial, fixtureSubflowJoin, fixtureTCPListener} {
		f.Add(mustHex(f, fx))
	}
	f.Add(header(afInet6, nil, nil, netlink.Attribute{Type: inetDiagULPInfo, Data: []byte{4, 0, 3, 0}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMsg(b)
		if err != nil {
			return
		}
		newConn(m)
		newSubflow(m)
	})
}

// FuzzParseStructs feeds raw payloads to the struct and attribute decoders.
func FuzzParseStructs(f *testing.F) {
	msk, _ := parseMsg(mustHex(f, fixtureMSK))
	f.Add(msk.Info)
	f.Add(make([]byte, 280))
	f.Add([]byte{8, 0, 2, 0, 1, 2, 3, 4, 5, 0, 10, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var sf Subflow
		parseInfo(b)
		parseTCPInfo(b, &sf)
		parseSubflowULP(b, &sf)
	})
}
