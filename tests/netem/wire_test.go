package netem

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fixtures: netlink is host byte order, so they are written little-endian
// and the tests that compare bytes skip on big-endian hosts.
func littleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures are little-endian")
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Captured from Linux 6.18 (queue 12, an ICMP echo request forwarded by
// the testbed router; the second one ICMPv6) in copy mode META:
// NFQA_PACKET_HDR (1), NFQA_IFINDEX_INDEV (5) and _OUTDEV (6), NFQA_HWADDR
// (9), NFQA_TIMESTAMP (4), NFQA_SKB_INFO (14).
const (
	fixturePacket4 = `5c000000 0003 0000 00000000 00000000
		02 00 000c
		0b00 0100 00000001 0800 02 00
		0800 0500 00000015
		0800 0600 00000017
		1000 0900 00060000 4a49bdc972e70000
		1400 0400 000000006b06113b 000000000005fb1a
		0800 0e00 00000004`
	fixturePacket6 = `5c000000 0003 0000 00000000 00000000
		0a 00 000c
		0b00 0100 00000002 86dd 02 00
		0800 0500 00000015
		0800 0600 00000017
		1000 0900 00060000 4a49bdc972e70000
		1400 0400 000000006b06113b 000000000006059a
		0800 0e00 00000004`
	// The kernel's answer to a verdict for an unknown packet id: NLMSG_ERROR
	// -ENOENT, quoting the request (sequence 4).
	fixtureENOENT = `34000000 0200 0000 04000000 686a0000
		feffffff
		20000000 0103 0100 04000000 00000000
		00 00 000c
		0c00 0200 00000001 000f423f`
)

func TestParseFixtures(t *testing.T) {
	littleEndian(t)
	for _, c := range []struct {
		name string
		in   string
		want []message
	}{
		{"ipv4", fixturePacket4, []message{{Kind: kindPacket, Queue: 12, ID: 1, Hook: 2}}},
		{"ipv6", fixturePacket6, []message{{Kind: kindPacket, Queue: 12, ID: 2, Hook: 2}}},
		{"enoent", fixtureENOENT, []message{{Kind: kindError, Seq: 4, Errno: 2}}},
		{"two", fixturePacket4 + fixtureENOENT + fixturePacket6, []message{
			{Kind: kindPacket, Queue: 12, ID: 1, Hook: 2},
			{Kind: kindError, Seq: 4, Errno: 2},
			{Kind: kindPacket, Queue: 12, ID: 2, Hook: 2},
		}},
		{"ack", `24000000 0200 0000 01000000 686a0000 00000000
			40000000 0203 0500 01000000 00000000`, []message{{Kind: kindError, Seq: 1}}},
		{"other", `14000000 0300 0200 07000000 00000000 00000000`, []message{{Kind: kindOther, Seq: 7}}},
		{"nested flag", `20000000 0003 0000 00000000 00000000 02 00 0001
			0b00 0180 fffffffe 0800 03 00`, []message{{Kind: kindPacket, Queue: 1, ID: 0xfffffffe, Hook: 3}}},
		{"empty", ``, nil},
	} {
		got, err := parseMessages(nil, unhex(t, c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", c.name, diff)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	littleEndian(t)
	for _, c := range []struct {
		name, in string
		good     int // messages returned before the error
	}{
		{"short header", `0500000000`, 0},
		{"length below header", `0c000000 0003 0000 00000000`, 0},
		{"length beyond data", `ff000000 0003 0000 00000000 00000000`, 0},
		{"error without code", `10000000 0200 0000 00000000 00000000`, 0},
		{"packet without nfgenmsg", `12000000 0003 0000 00000000 00000000 0200`, 0},
		{"packet without header attr", `1c000000 0003 0000 00000000 00000000 02 00 000c 0800 0500 00000015`, 0},
		{"short header attr", `1c000000 0003 0000 00000000 00000000 02 00 000c 0800 0100 00000001`, 0},
		{"attr length zero", `1c000000 0003 0000 00000000 00000000 02 00 000c 0000 0100 00000001`, 0},
		{"attr beyond message", `1c000000 0003 0000 00000000 00000000 02 00 000c 2000 0100 00000001`, 0},
		{"trailing attr bytes", `1a000000 0003 0000 00000000 00000000 02 00 000c 0b00 0100 00000001 0800 02 00 0000`, 0},
		{"good then bad", fixturePacket4 + `0c000000`, 1},
	} {
		got, err := parseMessages(nil, unhex(t, c.in))
		if !errors.Is(err, errMalformed) {
			t.Errorf("%s: err %v, want errMalformed", c.name, err)
		}
		if len(got) != c.good {
			t.Errorf("%s: %d messages before the error, want %d", c.name, len(got), c.good)
		}
	}
}

func TestEncode(t *testing.T) {
	littleEndian(t)
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"bind", appendBind(nil, 1, 12, 16384, nfqaCfgFFailOpen), `40000000 0203 0500 01000000 00000000
			00 00 000c
			0800 0100 01 00 0000
			0900 0200 00000000 01 000000
			0800 0300 00004000
			0800 0500 00000001
			0800 0400 00000001`},
		{"accept", appendVerdict(nil, 4, 12, 999999, nfAccept, false), `20000000 0103 0100 04000000 00000000
			00 00 000c
			0c00 0200 00000001 000f423f`},
		{"drop", appendVerdict(nil, 5, 0x1234, 7, nfDrop, false), `20000000 0103 0100 05000000 00000000
			00 00 1234
			0c00 0200 00000000 00000007`},
		{"batch", appendVerdict(nil, 0xabcdef01, 65535, 0xffffffff, nfAccept, true), `20000000 0303 0100 01efcdab 00000000
			00 00 ffff
			0c00 0200 00000001 ffffffff`},
		{"appends", appendVerdict([]byte{0xee}, 1, 1, 1, nfAccept, false), `ee 20000000 0103 0100 01000000 00000000
			00 00 0001 0c00 0200 00000001 00000001`},
	} {
		if diff := cmp.Diff(unhex(t, c.want), c.got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", c.name, diff)
		}
	}
}

func FuzzParseMessages(f *testing.F) {
	for _, s := range []string{fixturePacket4, fixturePacket6, fixtureENOENT, fixturePacket4 + fixtureENOENT} {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		f.Add(b)
	}
	f.Add(appendBind(nil, 1, 2, 3, 4))
	f.Add(appendVerdict(nil, 1, 2, 3, 1, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := parseMessages(nil, b)
		if err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("error %v does not wrap errMalformed", err)
		}
		// Every message takes at least a header.
		if len(msgs)*sizeofNlmsghdr > len(b) {
			t.Fatalf("%d messages from %d bytes", len(msgs), len(b))
		}
		// A verdict for any parsed packet re-parses as a message of its own.
		for _, m := range msgs {
			if m.Kind != kindPacket {
				continue
			}
			v := appendVerdict(nil, m.Seq, m.Queue, m.ID, nfAccept, true)
			got, err := parseMessages(nil, v)
			if err != nil || len(got) != 1 || got[0].Kind != kindOther || got[0].Seq != m.Seq {
				t.Fatalf("verdict %x re-parsed as %+v, %v", v, got, err)
			}
		}
	})
}
