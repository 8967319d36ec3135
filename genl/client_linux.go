//go:build linux

package genl

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Client sends commands to the kernel's mptcp_pm family. A Client owns one
// netlink socket; its methods must not be called concurrently.
type Client struct {
	c      *genetlink.Conn
	family genetlink.Family
}

// New opens a Client in the namespace cfg selects (nil: the caller's). It
// returns an error wrapping ErrNotEnabled when the kernel has no MPTCP path
// manager family there.
func New(cfg *Config) (*Client, error) {
	conn, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	c, err := initClient(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

func dial(cfg *Config) (*genetlink.Conn, error) {
	ncfg := &netlink.Config{Strict: true}
	if cfg != nil {
		ncfg.NetNS = cfg.NetNS
	}
	conn, err := genetlink.Dial(ncfg)
	if err != nil {
		return nil, fmt.Errorf("genl: dial generic netlink: %w", err)
	}
	return conn, nil
}

func resolveFamily(conn *genetlink.Conn) (genetlink.Family, error) {
	fam, err := conn.GetFamily(FamilyName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fam, ErrNotEnabled
		}
		return fam, fmt.Errorf("genl: resolve family %q: %w", FamilyName, err)
	}
	return fam, nil
}

// initClient resolves the family on conn; tests pass a genltest conn.
func initClient(conn *genetlink.Conn) (*Client, error) {
	fam, err := resolveFamily(conn)
	if err != nil {
		return nil, err
	}
	return &Client{c: conn, family: fam}, nil
}

// Close closes the Client's socket.
func (c *Client) Close() error { return c.c.Close() }

// execute is the one place commands go to the kernel. It turns netlink
// errors into *Error carrying op, the errno and the extended-ack message.
func (c *Client) execute(op string, cmd uint8, flags netlink.HeaderFlags, encode func(ae *netlink.AttributeEncoder)) ([]genetlink.Message, error) {
	var data []byte
	if encode != nil {
		ae := netlink.NewAttributeEncoder()
		encode(ae)
		b, err := ae.Encode()
		if err != nil {
			return nil, fmt.Errorf("genl: %s: encode: %w", op, err)
		}
		data = b
	}
	msg := genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: familyVersion},
		Data:   data,
	}
	msgs, err := c.c.Execute(msg, c.family.ID, netlink.Request|flags)
	if err != nil {
		return nil, wrapError(op, err)
	}
	return msgs, nil
}

func wrapError(op string, err error) error {
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		return &Error{Op: op, Message: oe.Message, Err: oe.Err}
	}
	return &Error{Op: op, Err: err}
}

// encodeAddr writes the address nest of ep. The ID goes out when non-zero or
// when withID is set (delete and lookups by ID need it even when it is 0).
func encodeAddr(ae *netlink.AttributeEncoder, typ uint16, ep Endpoint, withID bool) {
	ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
		if ep.Addr.IsValid() {
			if ep.Addr.Is4() {
				nae.Uint16(addrAttrFamily, unix.AF_INET)
				a := ep.Addr.As4()
				nae.Bytes(addrAttrAddr4, a[:])
			} else {
				nae.Uint16(addrAttrFamily, unix.AF_INET6)
				a := ep.Addr.As16()
				nae.Bytes(addrAttrAddr6, a[:])
			}
		}
		if ep.ID != 0 || withID {
			nae.Uint8(addrAttrID, ep.ID)
		}
		if ep.Port != 0 {
			nae.Uint16(addrAttrPort, ep.Port)
		}
		if ep.Flags != 0 {
			nae.Uint32(addrAttrFlags, uint32(ep.Flags))
		}
		if ep.IfIndex != 0 {
			nae.Int32(addrAttrIfIdx, ep.IfIndex)
		}
		return nil
	})
}

func encodeAddrPort(ae *netlink.AttributeEncoder, typ uint16, ap netip.AddrPort, flags Flags) {
	encodeAddr(ae, typ, Endpoint{Addr: ap.Addr(), Port: ap.Port(), Flags: flags}, false)
}

// AddEndpoint adds an endpoint to the in-kernel path manager. ID 0 lets the
// kernel pick one. A port is only accepted with the signal flag (the kernel
// then listens on it).
//
// Equivalent to: `ip mptcp endpoint add ADDR [port PORT] [dev IF] [id ID] FLAGS`.
func (c *Client) AddEndpoint(ep Endpoint) error {
	if !ep.Addr.IsValid() {
		return fmt.Errorf("genl: add endpoint: no address")
	}
	_, err := c.execute("add endpoint "+ep.Addr.String(), cmdAddAddr, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		encodeAddr(ae, attrAddr, ep, false)
	})
	return err
}

// DeleteEndpoint removes the in-kernel endpoint id; the kernel sends
// REMOVE_ADDR and closes the subflows that use it. ID 0 stands for the
// address of every connection's initial subflow and needs addr.
//
// Equivalent to: `ip mptcp endpoint delete id ID [ADDR]`.
func (c *Client) DeleteEndpoint(id uint8, addr netip.Addr) error {
	_, err := c.execute(fmt.Sprintf("delete endpoint id %d", id), cmdDelAddr, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		encodeAddr(ae, attrAddr, Endpoint{ID: id, Addr: addr}, true)
	})
	return err
}

// Endpoint returns the in-kernel endpoint id.
//
// Equivalent to: `ip mptcp endpoint show id ID`.
func (c *Client) Endpoint(id uint8) (Endpoint, error) {
	op := fmt.Sprintf("get endpoint id %d", id)
	msgs, err := c.execute(op, cmdGetAddr, 0, func(ae *netlink.AttributeEncoder) {
		encodeAddr(ae, attrAddr, Endpoint{ID: id}, true)
	})
	if err != nil {
		return Endpoint{}, err
	}
	eps, err := parseEndpoints(msgs)
	if err != nil {
		return Endpoint{}, fmt.Errorf("genl: %s: %w", op, err)
	}
	if len(eps) != 1 {
		return Endpoint{}, fmt.Errorf("genl: %s: kernel sent %d endpoints, want 1", op, len(eps))
	}
	return eps[0], nil
}

// Endpoints dumps the in-kernel path manager's endpoints.
//
// Equivalent to: `ip mptcp endpoint show`.
func (c *Client) Endpoints() ([]Endpoint, error) {
	msgs, err := c.execute("dump endpoints", cmdGetAddr, netlink.Dump, nil)
	if err != nil {
		return nil, err
	}
	eps, err := parseEndpoints(msgs)
	if err != nil {
		return nil, fmt.Errorf("genl: dump endpoints: %w", err)
	}
	return eps, nil
}

// FlushEndpoints removes every in-kernel endpoint.
//
// Equivalent to: `ip mptcp endpoint flush`.
func (c *Client) FlushEndpoints() error {
	_, err := c.execute("flush endpoints", cmdFlushAddrs, netlink.Acknowledge, nil)
	return err
}

// ChangeEndpoint changes the backup and fullmesh flags of the in-kernel
// endpoint id and applies them to live connections (MP_PRIO for backup).
// Fields left nil keep their value: unlike `ip mptcp endpoint change`,
// which clears every flag it is not given, the current flags are read
// first.
//
// Equivalent to: `ip mptcp endpoint change id ID [no]backup [no]fullmesh`.
func (c *Client) ChangeEndpoint(id uint8, ch EndpointChange) error {
	op := fmt.Sprintf("change endpoint id %d", id)
	cur, err := c.Endpoint(id)
	if err != nil {
		return err
	}
	flags := cur.Flags
	if ch.Backup != nil {
		flags = setFlag(flags, FlagBackup, *ch.Backup)
	}
	if ch.Fullmesh != nil {
		flags = setFlag(flags, FlagFullmesh, *ch.Fullmesh)
	}
	_, err = c.execute(op, cmdSetFlags, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		encodeAddr(ae, attrAddr, Endpoint{ID: id, Flags: flags}, true)
	})
	return err
}

// ChangeEndpointAt is ChangeEndpoint for the endpoint of address addr
// (and port, when not 0), looked up by the kernel as `ip mptcp endpoint
// change ADDR` does: an endpoint without a port matches any port. The
// flags are read from the dump first, so that fields left nil keep their
// value; an address the dump does not have goes to the kernel all the
// same, which refuses it with its own message ("address not found").
//
// Equivalent to: `ip mptcp endpoint change ADDR [port PORT] [no]backup [no]fullmesh`.
func (c *Client) ChangeEndpointAt(addr netip.AddrPort, ch EndpointChange) error {
	op := "change endpoint " + addr.Addr().String()
	if addr.Port() != 0 {
		op += fmt.Sprintf(" port %d", addr.Port())
	}
	if !addr.Addr().IsValid() {
		return fmt.Errorf("genl: %s: no address", op)
	}
	eps, err := c.Endpoints()
	if err != nil {
		return err
	}
	var flags Flags
	for _, ep := range eps {
		// The kernel's __lookup_addr: mptcp_addresses_equal with the
		// entry's port, so a port-less endpoint matches any port.
		if ep.Addr == addr.Addr() && (ep.Port == 0 || ep.Port == addr.Port()) {
			flags = ep.Flags
			break
		}
	}
	if ch.Backup != nil {
		flags = setFlag(flags, FlagBackup, *ch.Backup)
	}
	if ch.Fullmesh != nil {
		flags = setFlag(flags, FlagFullmesh, *ch.Fullmesh)
	}
	_, err = c.execute(op, cmdSetFlags, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		encodeAddr(ae, attrAddr, Endpoint{Addr: addr.Addr(), Port: addr.Port(), Flags: flags}, false)
	})
	return err
}

func setFlag(f, bit Flags, on bool) Flags {
	if on {
		return f | bit
	}
	return f &^ bit
}

// Limits returns the in-kernel path manager's limits.
//
// Equivalent to: `ip mptcp limits show`.
func (c *Client) Limits() (Limits, error) {
	msgs, err := c.execute("get limits", cmdGetLimits, 0, nil)
	if err != nil {
		return Limits{}, err
	}
	l, err := parseLimits(msgs)
	if err != nil {
		return Limits{}, fmt.Errorf("genl: get limits: %w", err)
	}
	return l, nil
}

// SetLimits changes the in-kernel path manager's limits (each at most 8).
//
// Equivalent to: `ip mptcp limits set [subflows N] [add_addr_accepted N]`.
func (c *Client) SetLimits(u LimitsUpdate) error {
	_, err := c.execute("set limits", cmdSetLimits, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		if u.AddAddrAccepted != nil {
			ae.Uint32(attrRcvAddAddrs, *u.AddAddrAccepted)
		}
		if u.Subflows != nil {
			ae.Uint32(attrSubflows, *u.Subflows)
		}
	})
	return err
}

// Announce sends ADD_ADDR for ep on the userspace-PM connection token. The
// ID must not be 0; the signal flag is added. The kernel opens no listener:
// joins to a port other than the connection's need an MPTCP listening socket
// of the caller's on ep.Addr:ep.Port.
//
// Equivalent to: `ip mptcp endpoint add` has no counterpart; pm_nl_ctl ann ADDR id ID token TOKEN [port PORT] [dev IF].
func (c *Client) Announce(token uint32, ep Endpoint) error {
	op := fmt.Sprintf("announce %s id %d token %08x", ep.Addr, ep.ID, token)
	if !ep.Addr.IsValid() {
		return fmt.Errorf("genl: %s: no address", op)
	}
	ep.Flags |= FlagSignal
	_, err := c.execute(op, cmdAnnounce, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		encodeAddr(ae, attrAddr, ep, false)
	})
	return err
}

// Remove sends REMOVE_ADDR for the local address id on the userspace-PM
// connection token and closes the local subflows using it. ID 0 is the
// address of the initial subflow.
//
// Equivalent to: pm_nl_ctl rem id ID token TOKEN.
func (c *Client) Remove(token uint32, id uint8) error {
	_, err := c.execute(fmt.Sprintf("remove id %d token %08x", id, token), cmdRemove, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		ae.Uint8(attrLocID, id)
	})
	return err
}

// CreateSubflow opens a subflow of the userspace-PM connection token from
// local (address, ID, optional port, device and backup flag) to remote,
// whose port is required. The connection must be established.
//
// Equivalent to: pm_nl_ctl csf lip ADDR lid ID rip ADDR rport PORT token TOKEN.
func (c *Client) CreateSubflow(token uint32, local Endpoint, remote netip.AddrPort) error {
	op := fmt.Sprintf("create subflow token %08x %s -> %s", token, netip.AddrPortFrom(local.Addr, local.Port), remote)
	if !local.Addr.IsValid() || !remote.Addr().IsValid() {
		return fmt.Errorf("genl: %s: local and remote address are required", op)
	}
	_, err := c.execute(op, cmdSubflowCreate, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		encodeAddr(ae, attrAddr, local, local.Addr.IsValid())
		encodeAddrPort(ae, attrAddrRemote, remote, 0)
	})
	return err
}

// DestroySubflow closes the subflow local -> remote of the userspace-PM
// connection token. Both ports are required; no REMOVE_ADDR is sent. ESRCH
// means no such subflow.
//
// Equivalent to: pm_nl_ctl dsf lip ADDR lport PORT rip ADDR rport PORT token TOKEN.
func (c *Client) DestroySubflow(token uint32, local, remote netip.AddrPort) error {
	op := fmt.Sprintf("destroy subflow token %08x %s -> %s", token, local, remote)
	_, err := c.execute(op, cmdSubflowDestroy, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		encodeAddrPort(ae, attrAddr, local, 0)
		encodeAddrPort(ae, attrAddrRemote, remote, 0)
	})
	return err
}

// SetFlags marks the subflow local -> remote of the userspace-PM connection
// token as backup or not, which sends MP_PRIO to the peer.
//
// Equivalent to: pm_nl_ctl set ADDR port PORT flags backup|nobackup token TOKEN rip ADDR rport PORT.
func (c *Client) SetFlags(token uint32, local, remote netip.AddrPort, backup bool) error {
	word := "nobackup"
	var flags Flags
	if backup {
		word, flags = "backup", FlagBackup
	}
	op := fmt.Sprintf("set %s token %08x %s -> %s", word, token, local, remote)
	_, err := c.execute(op, cmdSetFlags, netlink.Acknowledge, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		encodeAddrPort(ae, attrAddr, local, flags)
		encodeAddrPort(ae, attrAddrRemote, remote, 0)
	})
	return err
}

// Addresses dumps the local addresses the userspace PM knows for the
// connection token (those announced or used by subflows it created).
func (c *Client) Addresses(token uint32) ([]Endpoint, error) {
	op := fmt.Sprintf("dump addresses token %08x", token)
	msgs, err := c.execute(op, cmdGetAddr, netlink.Dump, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
	})
	if err != nil {
		return nil, err
	}
	eps, err := parseEndpoints(msgs)
	if err != nil {
		return nil, fmt.Errorf("genl: %s: %w", op, err)
	}
	return eps, nil
}

// Address returns the local address id of the userspace-PM connection token.
func (c *Client) Address(token uint32, id uint8) (Endpoint, error) {
	op := fmt.Sprintf("get address id %d token %08x", id, token)
	msgs, err := c.execute(op, cmdGetAddr, 0, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(attrToken, token)
		encodeAddr(ae, attrAddr, Endpoint{ID: id}, true)
	})
	if err != nil {
		return Endpoint{}, err
	}
	eps, err := parseEndpoints(msgs)
	if err != nil {
		return Endpoint{}, fmt.Errorf("genl: %s: %w", op, err)
	}
	if len(eps) != 1 {
		return Endpoint{}, fmt.Errorf("genl: %s: kernel sent %d addresses, want 1", op, len(eps))
	}
	return eps[0], nil
}

// parseEndpoints decodes GET_ADDR replies: one address nest per message.
func parseEndpoints(msgs []genetlink.Message) ([]Endpoint, error) {
	var eps []Endpoint
	for _, m := range msgs {
		if m.Header.Command != cmdGetAddr {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return nil, err
		}
		for ad.Next() {
			if ad.Type() != attrAddr {
				continue
			}
			var ep Endpoint
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				ep = decodeAddr(nad)
				return nad.Err()
			})
			eps = append(eps, ep)
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func decodeAddr(ad *netlink.AttributeDecoder) Endpoint {
	var ep Endpoint
	for ad.Next() {
		switch ad.Type() {
		case addrAttrID:
			ep.ID = ad.Uint8()
		case addrAttrAddr4:
			ad.Do(func(b []byte) error {
				if len(b) != 4 {
					return fmt.Errorf("addr4: %d bytes, want 4", len(b))
				}
				ep.Addr = netip.AddrFrom4([4]byte(b))
				return nil
			})
		case addrAttrAddr6:
			ad.Do(func(b []byte) error {
				if len(b) != 16 {
					return fmt.Errorf("addr6: %d bytes, want 16", len(b))
				}
				ep.Addr = netip.AddrFrom16([16]byte(b))
				return nil
			})
		case addrAttrPort:
			ep.Port = ad.Uint16()
		case addrAttrFlags:
			ep.Flags = Flags(ad.Uint32())
		case addrAttrIfIdx:
			ep.IfIndex = ad.Int32()
		}
	}
	return ep
}

func parseLimits(msgs []genetlink.Message) (Limits, error) {
	var l Limits
	for _, m := range msgs {
		if m.Header.Command != cmdGetLimits {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return l, err
		}
		for ad.Next() {
			switch ad.Type() {
			case attrRcvAddAddrs:
				l.AddAddrAccepted = ad.Uint32()
			case attrSubflows:
				l.Subflows = ad.Uint32()
			}
		}
		if err := ad.Err(); err != nil {
			return l, err
		}
		return l, nil
	}
	return l, errors.New("no limits in the kernel's reply")
}
