package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/genl"
)

// The kernel events as iproute2 7.1 prints them (ip/ipmptcp.c,
// mptcp_monitor_msg and print_iface): the same words in the same order in
// text, and the same keys and values with -j, so that the output of
// `mptcp-pm monitor` and `ip mptcp monitor` can be diffed.

// timeText is the prefix -t puts on a text line: the format of
// `ip -ts` (lib/utils.c print_timestamp, timestamp_short).
const timeText = "2006-01-02T15:04:05.000000"

// timeJSON is the format of the "time" field of every JSON line: RFC 3339
// in microseconds, with the zone.
const timeJSON = "2006-01-02T15:04:05.000000Z07:00"

// cHex formats v as C's printf("%#x") does: "0x2a", but "0" for zero
// (iproute2 prints reset_flags and the remaining event flags so, and
// print_0xhex uses "%#llx" for the JSON strings of token and flags).
func cHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// field is one key and value of an event, in iproute2's order. text is
// what the line shows after a space; a boolean field shows its key alone.
type field struct {
	key  string
	json any
	text string
}

// eventFields lists what iproute2 7.1 prints of ev; dev names an
// interface index ("" when unknown).
func eventFields(ev *genl.Event, dev func(int32) string) []field {
	var fs []field
	num := func(key string, v uint64) { fs = append(fs, field{key, v, key + "=" + strconv.FormatUint(v, 10)}) }
	str := func(key, v string) { fs = append(fs, field{key, v, key + "=" + v}) }
	has := ev.Has
	if has(genl.AttrToken) {
		fs = append(fs, field{"token", cHex(uint64(ev.Token)), fmt.Sprintf("token=%08x", ev.Token)})
	}
	if has(genl.AttrRemID) {
		num("remid", uint64(ev.RemID))
	}
	if has(genl.AttrLocID) {
		num("locid", uint64(ev.LocID))
	}
	for _, a := range []struct {
		attr genl.EventAttr
		key  string
		addr func() string
	}{
		{genl.AttrSaddr4, "saddr4", func() string { return ev.Local.Addr().String() }},
		{genl.AttrDaddr4, "daddr4", func() string { return ev.Remote.Addr().String() }},
		{genl.AttrSaddr6, "saddr6", func() string { return ev.Local.Addr().String() }},
		{genl.AttrDaddr6, "daddr6", func() string { return ev.Remote.Addr().String() }},
	} {
		if has(a.attr) {
			str(a.key, a.addr())
		}
	}
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
		fs = append(fs, field{"ifindex", int64(ev.IfIndex), "ifindex=" + strconv.Itoa(int(ev.IfIndex))})
		if name := dev(ev.IfIndex); ev.IfIndex != 0 && name != "" {
			str("dev", name)
		}
	}
	if has(genl.AttrResetReason) {
		num("reset_reason", uint64(ev.ResetReason))
	}
	if has(genl.AttrResetFlags) {
		v := cHex(uint64(ev.ResetFlags))
		fs = append(fs, field{"reset_flags", v, "reset_flags=" + v})
	}
	return append(fs, flagFields(ev)...)
}

// flagFields are the event flags as iproute2 ≥ 6.19 prints them:
// server_side (the 6.18 flag, or the deprecated attribute of older
// kernels), deny_join_id0, then any other bit as flags=%#x.
func flagFields(ev *genl.Event) []field {
	var fs []field
	flags := ev.Flags
	if ev.ServerSide() {
		flags &^= genl.EventFlagServerSide
		fs = append(fs, field{"server_side", true, "server_side"})
	}
	if flags&genl.EventFlagDenyJoinID0 != 0 {
		flags &^= genl.EventFlagDenyJoinID0
		fs = append(fs, field{"deny_join_id0", true, "deny_join_id0"})
	}
	if flags != 0 {
		v := cHex(uint64(flags))
		fs = append(fs, field{"flags", v, "flags=" + v})
	}
	return fs
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// eventName is the event's name as iproute2 prints it, "UNKNOWN n" for
// a type it does not know.
func eventName(ev *genl.Event) string {
	if !ev.Type.Known() {
		return "UNKNOWN " + strconv.Itoa(int(ev.Type))
	}
	return ev.Type.String()
}

// eventText is the line `ip mptcp monitor` (iproute2 7.1) prints for ev.
func eventText(ev *genl.Event, dev func(int32) string) string {
	if !ev.Type.Known() {
		return "[" + eventName(ev) + "]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%16s]", ev.Type)
	for _, f := range eventFields(ev, dev) {
		b.WriteString(" " + f.text)
	}
	return b.String()
}

// eventJSON is the object `ip -j mptcp monitor` (iproute2 7.1) prints for
// ev, its keys in iproute2's order, after a "time" key when t is not zero.
func eventJSON(ev *genl.Event, dev func(int32) string, t time.Time) ([]byte, error) {
	fs := []field{{key: "event", json: eventName(ev)}}
	if ev.Type.Known() {
		fs = append(fs, eventFields(ev, dev)...)
	}
	if !t.IsZero() {
		fs = append([]field{{key: "time", json: t.Format(timeJSON)}}, fs...)
	}
	return orderedJSON(fs)
}

// orderedJSON encodes fs as one object, keys in order.
func orderedJSON(fs []field) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.json)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
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
