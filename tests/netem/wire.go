package netem

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink and nfnetlink_queue numbers, copied from the Linux UAPI headers
// (linux/netlink.h, linux/netfilter/nfnetlink.h,
// linux/netfilter/nfnetlink_queue.h, linux/netfilter.h) so that the pure
// encoders and parsers here build and are tested on every GOOS. The ones
// x/sys/unix also has are checked against it in wire_linux_test.go.
const (
	sizeofNlmsghdr = 16 // struct nlmsghdr
	sizeofNfgenmsg = 4  // struct nfgenmsg
	sizeofNlattr   = 4  // struct nlattr

	nlmsgError = 2 // NLMSG_ERROR

	nlmFRequest = 0x1 // NLM_F_REQUEST
	nlmFAck     = 0x4 // NLM_F_ACK

	nlaTypeMask = 0x3fff // ^(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

	nfnetlinkV0     = 0 // NFNETLINK_V0
	nfnlSubsysQueue = 3 // NFNL_SUBSYS_QUEUE

	// Message types within NFNL_SUBSYS_QUEUE.
	nfqnlMsgPacket       = 0 // NFQNL_MSG_PACKET, kernel -> user
	nfqnlMsgVerdict      = 1 // NFQNL_MSG_VERDICT
	nfqnlMsgConfig       = 2 // NFQNL_MSG_CONFIG
	nfqnlMsgVerdictBatch = 3 // NFQNL_MSG_VERDICT_BATCH

	// Packet message attributes.
	nfqaPacketHdr  = 1 // NFQA_PACKET_HDR: struct nfqnl_msg_packet_hdr
	nfqaVerdictHdr = 2 // NFQA_VERDICT_HDR: struct nfqnl_msg_verdict_hdr

	sizeofPacketHdr  = 7 // struct nfqnl_msg_packet_hdr (packed): be32 id, be16 hw_protocol, u8 hook
	sizeofVerdictHdr = 8 // struct nfqnl_msg_verdict_hdr: be32 verdict, be32 id

	// Config message attributes.
	nfqaCfgCmd         = 1 // NFQA_CFG_CMD: struct nfqnl_msg_config_cmd
	nfqaCfgParams      = 2 // NFQA_CFG_PARAMS: struct nfqnl_msg_config_params
	nfqaCfgQueueMaxlen = 3 // NFQA_CFG_QUEUE_MAXLEN: be32
	nfqaCfgMask        = 4 // NFQA_CFG_MASK: be32
	nfqaCfgFlags       = 5 // NFQA_CFG_FLAGS: be32

	nfqnlCfgCmdBind = 1 // NFQNL_CFG_CMD_BIND
	nfqnlCopyMeta   = 1 // NFQNL_COPY_META

	nfqaCfgFFailOpen = 0x1 // NFQA_CFG_F_FAIL_OPEN

	nfDrop   = 0 // NF_DROP
	nfAccept = 1 // NF_ACCEPT
)

// msgType returns the nlmsg_type of nfnetlink_queue message m.
func msgType(m uint16) uint16 { return nfnlSubsysQueue<<8 | m }

// nlAlign rounds n up to the netlink alignment of 4 bytes.
func nlAlign(n int) int { return (n + 3) &^ 3 }

// appendHeader appends a netlink header (its length filled in by finish)
// and an nfgenmsg for queue.
func appendHeader(b []byte, typ, flags uint16, seq uint32, queue uint16) []byte {
	b = binary.NativeEndian.AppendUint32(b, 0) // nlmsg_len, see finish
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // nlmsg_pid: to the kernel
	// nfgenmsg: AF_UNSPEC (the queue is not per family since Linux 3.8),
	// version, and res_id = queue number in network byte order.
	b = append(b, 0, nfnetlinkV0)
	return binary.BigEndian.AppendUint16(b, queue)
}

// finish sets the length of the message that starts at start.
func finish(b []byte, start int) []byte {
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendAttr appends a netlink attribute with payload data, padded.
func appendAttr(b []byte, typ uint16, data ...byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(sizeofNlattr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	return append(b, make([]byte, nlAlign(len(data))-len(data))...)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// appendBind appends the NFQNL_MSG_CONFIG request that binds queue to the
// sending socket, with copy mode META (no payload: a verdict needs only
// the packet id), the kernel queue length maxLen and the given
// NFQA_CFG_F_* flags (all of which are also put in the mask). The kernel
// handles the command before the parameters, so one message suffices. It
// asks for an acknowledgement.
func appendBind(b []byte, seq uint32, queue uint16, maxLen, flags uint32) []byte {
	start := len(b)
	b = appendHeader(b, msgType(nfqnlMsgConfig), nlmFRequest|nlmFAck, seq, queue)
	// struct nfqnl_msg_config_cmd: u8 command, u8 pad, be16 pf (unused).
	b = appendAttr(b, nfqaCfgCmd, nfqnlCfgCmdBind, 0, 0, 0)
	// struct nfqnl_msg_config_params (packed): be32 copy_range, u8 copy_mode.
	b = appendAttr(b, nfqaCfgParams, append(be32(0), nfqnlCopyMeta)...)
	b = appendAttr(b, nfqaCfgQueueMaxlen, be32(maxLen)...)
	b = appendAttr(b, nfqaCfgFlags, be32(flags)...)
	b = appendAttr(b, nfqaCfgMask, be32(flags)...)
	return finish(b, start)
}

// appendVerdict appends an NFQNL_MSG_VERDICT for packet id (batch false),
// or an NFQNL_MSG_VERDICT_BATCH that applies verdict to every packet of
// the queue whose id is at most id (batch true). No acknowledgement is
// requested; the kernel still reports a failure with an NLMSG_ERROR.
func appendVerdict(b []byte, seq uint32, queue uint16, id, verdict uint32, batch bool) []byte {
	typ := msgType(nfqnlMsgVerdict)
	if batch {
		typ = msgType(nfqnlMsgVerdictBatch)
	}
	start := len(b)
	b = appendHeader(b, typ, nlmFRequest, seq, queue)
	b = appendAttr(b, nfqaVerdictHdr, append(be32(verdict), be32(id)...)...)
	return finish(b, start)
}

// msgKind classifies a received netlink message.
type msgKind uint8

const (
	kindOther  msgKind = iota // anything else, ignored
	kindPacket                // NFQNL_MSG_PACKET: a queued packet
	kindError                 // NLMSG_ERROR: an acknowledgement (Errno 0) or an error
)

// message is the part of a received netlink message that matters here.
type message struct {
	Kind  msgKind
	Seq   uint32 // nlmsg_seq (for kindError: of the request it answers)
	Queue uint16 // kindPacket: the queue number (nfgenmsg res_id)
	ID    uint32 // kindPacket: the packet id for the verdict
	Hook  uint8  // kindPacket: the netfilter hook (NF_INET_*)
	Errno int32  // kindError: 0 for an acknowledgement, else a positive errno
}

// errMalformed wraps every parse error.
var errMalformed = errors.New("malformed netlink message")

// parseMessages appends to dst the messages in b, one datagram received
// from a netlink socket. It stops at the first malformed message and
// returns the ones before it with an error wrapping errMalformed.
func parseMessages(dst []message, b []byte) ([]message, error) {
	for len(b) > 0 {
		if len(b) < sizeofNlmsghdr {
			return dst, fmt.Errorf("%w: %d trailing bytes, want a %d-byte header", errMalformed, len(b), sizeofNlmsghdr)
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < sizeofNlmsghdr || n > len(b) {
			return dst, fmt.Errorf("%w: length %d with %d bytes left", errMalformed, n, len(b))
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		m := message{Seq: binary.NativeEndian.Uint32(b[8:])}
		body := b[sizeofNlmsghdr:n]
		switch typ {
		case nlmsgError:
			if len(body) < 4 {
				return dst, fmt.Errorf("%w: NLMSG_ERROR with %d bytes", errMalformed, len(body))
			}
			m.Kind = kindError
			m.Errno = -int32(binary.NativeEndian.Uint32(body))
		case msgType(nfqnlMsgPacket):
			if err := parsePacket(&m, body); err != nil {
				return dst, err
			}
		}
		dst = append(dst, m)
		if a := nlAlign(n); a < len(b) {
			b = b[a:]
		} else {
			b = nil
		}
	}
	return dst, nil
}

// parsePacket fills m from the body (nfgenmsg and attributes) of an
// NFQNL_MSG_PACKET. Only NFQA_PACKET_HDR is required; other attributes are
// skipped.
func parsePacket(m *message, body []byte) error {
	if len(body) < sizeofNfgenmsg {
		return fmt.Errorf("%w: packet message with %d bytes", errMalformed, len(body))
	}
	m.Kind = kindPacket
	m.Queue = binary.BigEndian.Uint16(body[2:])
	found := false
	for a := body[sizeofNfgenmsg:]; len(a) > 0; {
		if len(a) < sizeofNlattr {
			return fmt.Errorf("%w: %d trailing attribute bytes", errMalformed, len(a))
		}
		n := int(binary.NativeEndian.Uint16(a))
		if n < sizeofNlattr || n > len(a) {
			return fmt.Errorf("%w: attribute length %d with %d bytes left", errMalformed, n, len(a))
		}
		if binary.NativeEndian.Uint16(a[2:])&nlaTypeMask == nfqaPacketHdr {
			if n < sizeofNlattr+sizeofPacketHdr {
				return fmt.Errorf("%w: NFQA_PACKET_HDR of %d bytes", errMalformed, n-sizeofNlattr)
			}
			h := a[sizeofNlattr:]
			m.ID = binary.BigEndian.Uint32(h)
			m.Hook = h[6]
			found = true
		}
		if al := nlAlign(n); al < len(a) {
			a = a[al:]
		} else {
			a = nil
		}
	}
	if !found {
		return fmt.Errorf("%w: packet message without NFQA_PACKET_HDR", errMalformed)
	}
	return nil
}
