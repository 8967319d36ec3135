package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

// The kernel events as iproute2 7.1 prints them (ip/ipmptcp.c,
// mptcp_monitor_msg and print_iface): the same words in the same order in
// text, and the same keys and values with -j, so that the output of
// `mptcp-pm monitor` and `ip mptcp monitor` can be diffed. server_side and
// deny_join_id0 came in 6.19, dev= in 7.0, JSON (and "%#x", which prints
// a zero reset_flags as "0", not "0x0") in 7.1.

// timeText is the prefix -t puts on a text line: the format of
// `ip -ts` (lib/utils.c print_timestamp, timestamp_short).
const timeText = "2006-01-02T15:04:05.000000"

// timeJSON is the format of the "time" field of every JSON line: RFC 3339
// in microseconds, with the zone.
const timeJSON = "2006-01-02T15:04:05.000000Z07:00"

// cHex appends v as C's printf("%#x") formats it: "0x2a", but "0" for
// zero (iproute2 prints reset_flags and the remaining event flags so, and
// print_0xhex uses "%#llx" for the JSON strings of token and flags).
func cHex(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendUint(append(b, "0x"...), v, 16)
}

// Kinds of field: how its value prints in text and JSON.
const (
	kindUint  = iota // key=N, a JSON number
	kindInt          // key=-N, a JSON number
	kindAddr         // key=ADDR, a JSON string
	kindStr          // key=S, a JSON string
	kindTrue         // the key alone, JSON true
	kindHex          // key=0x2a, the JSON string "0x2a"
	kindToken        // token=0000abcd, the JSON string "0xabcd"
)

// field is one key and value of an event, in iproute2's order.
type field struct {
	key  string
	kind uint8
	n    uint64
	i    int64
	addr netip.Addr
	s    string
}

// eventFields appends to fs what iproute2 7.1 prints of ev; dev names an
// interface index ("" when unknown).
func eventFields(fs []field, ev *genl.Event, dev func(int32) string) []field {
	num := func(key string, v uint64) { fs = append(fs, field{key: key, kind: kindUint, n: v}) }
	has := ev.Has
	if has(genl.AttrToken) {
		fs = append(fs, field{key: "token", kind: kindToken, n: uint64(ev.Token)})
	}
	if has(genl.AttrRemID) {
		num("remid", uint64(ev.RemID))
	}
	if has(genl.AttrLocID) {
		num("locid", uint64(ev.LocID))
	}
	addr := func(a genl.EventAttr, key string, v netip.Addr) {
		if has(a) {
			fs = append(fs, field{key: key, kind: kindAddr, addr: v})
		}
	}
	addr(genl.AttrSaddr4, "saddr4", ev.Local.Addr())
	addr(genl.AttrDaddr4, "daddr4", ev.Remote.Addr())
	addr(genl.AttrSaddr6, "saddr6", ev.Local.Addr())
	addr(genl.AttrDaddr6, "daddr6", ev.Remote.Addr())
	if has(genl.AttrSport) {
		num("sport", uint64(ev.Local.Port()))
	}
	if has(genl.AttrDport) {
		num("dport", uint64(ev.Remote.Port()))
	}
	if has(genl.AttrBackup) {
		num("backup", uint64(b2u(ev.Backup)))
	}
	if has(genl.AttrError) {
		num("error", uint64(ev.Error))
	}
	if has(genl.AttrTimeout) {
		num("timeout", uint64(ev.Timeout))
	}
	if has(genl.AttrIfIdx) {
		fs = append(fs, field{key: "ifindex", kind: kindInt, i: int64(ev.IfIndex)})
		if name := dev(ev.IfIndex); ev.IfIndex != 0 && name != "" {
			fs = append(fs, field{key: "dev", kind: kindStr, s: name})
		}
	}
	if has(genl.AttrResetReason) {
		num("reset_reason", uint64(ev.ResetReason))
	}
	if has(genl.AttrResetFlags) {
		fs = append(fs, field{key: "reset_flags", kind: kindHex, n: uint64(ev.ResetFlags)})
	}
	return flagFields(fs, ev)
}

// flagFields appends the event flags as iproute2 >= 6.19 prints them:
// server_side (the 6.18 flag, or the deprecated attribute of older
// kernels), deny_join_id0, then any other bit as flags=%#x.
func flagFields(fs []field, ev *genl.Event) []field {
	flags := ev.Flags
	if ev.ServerSide() {
		flags &^= genl.EventFlagServerSide
		fs = append(fs, field{key: "server_side", kind: kindTrue})
	}
	if flags&genl.EventFlagDenyJoinID0 != 0 {
		flags &^= genl.EventFlagDenyJoinID0
		fs = append(fs, field{key: "deny_join_id0", kind: kindTrue})
	}
	if flags != 0 {
		fs = append(fs, field{key: "flags", kind: kindHex, n: uint64(flags)})
	}
	return fs
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// maxFields is more than the fields of any event: the stack buffer of
// eventFields.
const maxFields = 24

// appendText appends " key=value" (" key" for a flag) as iproute2 prints f.
func (f *field) appendText(b []byte) []byte {
	b = append(append(b, ' '), f.key...)
	if f.kind == kindTrue {
		return b
	}
	b = append(b, '=')
	switch f.kind {
	case kindUint:
		return strconv.AppendUint(b, f.n, 10)
	case kindInt:
		return strconv.AppendInt(b, f.i, 10)
	case kindAddr:
		return f.addr.AppendTo(b)
	case kindHex:
		return cHex(b, f.n)
	case kindToken:
		return fmt.Appendf(b, "%08x", f.n)
	}
	return append(b, f.s...)
}

// appendJSON appends "key":value as `ip -j` prints f.
func (f *field) appendJSON(b []byte) []byte {
	b = append(strconv.AppendQuote(b, f.key), ':')
	switch f.kind {
	case kindUint:
		return strconv.AppendUint(b, f.n, 10)
	case kindInt:
		return strconv.AppendInt(b, f.i, 10)
	case kindTrue:
		return append(b, "true"...)
	case kindAddr:
		return append(f.addr.AppendTo(append(b, '"')), '"')
	case kindHex, kindToken:
		return append(cHex(append(b, '"'), f.n), '"')
	}
	return appendJSONString(b, f.s)
}

// appendJSONString appends s as a JSON string (an interface name may hold
// any byte but '/' and NUL).
func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // a string always encodes
		return append(b, `""`...)
	}
	return append(b, q...)
}

// eventName appends the event's name as iproute2 prints it, "UNKNOWN n"
// for a type it does not know.
func eventName(b []byte, ev *genl.Event) []byte {
	if !ev.Type.Known() {
		return strconv.AppendUint(append(b, "UNKNOWN "...), uint64(ev.Type), 10)
	}
	return append(b, ev.Type.String()...)
}

// eventText is the line `ip mptcp monitor` (iproute2 7.1) prints for ev.
func eventText(ev *genl.Event, dev func(int32) string) string {
	if !ev.Type.Known() {
		return string(append(eventName([]byte{'['}, ev), ']'))
	}
	b := fmt.Appendf(make([]byte, 0, 256), "[%16s]", ev.Type)
	var buf [maxFields]field
	for _, f := range eventFields(buf[:0], ev, dev) {
		b = f.appendText(b)
	}
	return string(b)
}

// eventJSON is the object `ip -j mptcp monitor` (iproute2 7.1) prints for
// ev, its keys in iproute2's order, after a "time" key when t is not zero.
func eventJSON(ev *genl.Event, dev func(int32) string, t time.Time) []byte {
	b := append(make([]byte, 0, 320), '{')
	if !t.IsZero() {
		b = append(t.AppendFormat(append(b, `"time":"`...), timeJSON), `",`...)
	}
	b = append(eventName(append(b, `"event":"`...), ev), '"')
	if ev.Type.Known() {
		var buf [maxFields]field
		for _, f := range eventFields(buf[:0], ev, dev) {
			b = f.appendJSON(append(b, ','))
		}
	}
	return append(b, '}')
}

// withTime puts a "time" key first in the JSON object obj.
func withTime(obj []byte, t time.Time) []byte {
	if len(obj) < 2 || obj[0] != '{' {
		return obj
	}
	head := `{"time":"` + t.Format(timeJSON) + `"`
	if obj[1] != '}' {
		head += ","
	}
	return append([]byte(head), obj[1:]...)
}
