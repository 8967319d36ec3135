//go:build linux

package sockdiag

import (
	"fmt"
	"os"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// tcpListen is TCP_LISTEN (include/net/tcp_states.h).
const tcpListen = 10

// client is the Linux implementation behind Client.
type client struct {
	c         *netlink.Conn
	listeners bool
}

func newClient(cfg *Config) (*client, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: cfg.NetNS, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("sockdiag: dial: %w", err)
	}
	return &client{c: c, listeners: cfg.Listeners}, nil
}

func (c *client) close() error { return c.c.Close() }

func (c *client) connections(withSubflows bool) ([]Conn, error) {
	const all = ^uint32(0)
	mskStates := all
	if !c.listeners {
		mskStates &^= 1 << tcpListen
	}
	var conns []Conn
	err := c.dump(ipprotoMPTCP, mskStates, func(m diagMsg) error {
		conn, err := newConn(m)
		if err == nil {
			conns = append(conns, conn)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sockdiag: dump mptcp: %w", err)
	}
	if !withSubflows {
		return group(conns, nil), nil
	}
	var subflows []Subflow
	err = c.dump(ipprotoTCP, all&^(1<<tcpListen), func(m diagMsg) error {
		sf, ok, err := newSubflow(m)
		if ok {
			subflows = append(subflows, sf)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sockdiag: dump tcp: %w", err)
	}
	return group(conns, subflows), nil
}

func (c *client) socket(token uint32) (Conn, error) {
	msgs, err := c.c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request},
		Data:   packTokenRequest(token),
	})
	if err != nil {
		return Conn{}, fmt.Errorf("sockdiag: mptcp token %08x: %w", token, err)
	}
	for _, msg := range msgs {
		m, err := parseMsg(msg.Data)
		if err != nil {
			return Conn{}, fmt.Errorf("sockdiag: mptcp token %08x: %w", token, err)
		}
		conn, err := newConn(m)
		if err != nil {
			return Conn{}, fmt.Errorf("sockdiag: mptcp token %08x: %w", token, err)
		}
		if conn.Token == token {
			return conn, nil
		}
	}
	return Conn{}, fmt.Errorf("sockdiag: mptcp token %08x: %w", token, os.ErrNotExist)
}

// dump runs one SOCK_DIAG_BY_FAMILY dump per address family and calls fn
// for each socket.
func (c *client) dump(proto, states uint32, fn func(diagMsg) error) error {
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		msgs, err := c.c.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
			Data:   packRequest(family, proto, states),
		})
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			m, err := parseMsg(msg.Data)
			if err == nil {
				err = fn(m)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
