package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
	"github.com/mptcp-pm/mptcp-pm/policy"
)

// listeners holds an MPTCP listening socket on every address and port the
// policies announce. The kernel opens none for an announced port (mptcpd
// #223), so without one the peer's joins to it are refused. Joins are
// matched to their connection by the kernel and never reach Accept; a
// plain connection that does is closed at once.
type listeners struct {
	open map[netip.AddrPort]net.Listener
}

// announcedPorts lists the announced addresses that carry a port.
func announcedPorts(s *policy.Set) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range append(slices.Clone(s.Policies), &s.Config.Default) {
		for _, ap := range p.Announce {
			if ap.Port() != 0 && !slices.Contains(out, ap) {
				out = append(out, ap)
			}
		}
	}
	return out
}

// sync opens the listeners that are wanted and closes the others. On an
// error nothing is closed, so that a failed reload changes nothing.
func (l *listeners) sync(want []netip.AddrPort, netnsFD int, log *slog.Logger) error {
	if l.open == nil {
		l.open = map[netip.AddrPort]net.Listener{}
	}
	opened := map[netip.AddrPort]net.Listener{}
	for _, ap := range want {
		if _, ok := l.open[ap]; ok {
			continue
		}
		var ln net.Listener
		err := netns.Do(netnsFD, func() (err error) {
			var lc net.ListenConfig
			lc.SetMultipathTCP(true)
			ln, err = lc.Listen(context.Background(), "tcp", ap.String())
			return err
		})
		if err != nil {
			for _, o := range opened {
				o.Close()
			}
			return fmt.Errorf("listen on announced %s: %w", ap, err)
		}
		opened[ap] = ln
	}
	for ap, ln := range opened {
		l.open[ap] = ln
		go refuse(ln, log)
		log.Info("listening for joins to an announced address", "addr", ap.String())
	}
	for ap, ln := range l.open {
		if !slices.Contains(want, ap) {
			ln.Close()
			delete(l.open, ap)
			log.Info("stopped listening on an address no policy announces", "addr", ap.String())
		}
	}
	return nil
}

// refuse closes whatever a listener accepts: it is there for joins only.
func refuse(ln net.Listener, log *slog.Logger) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		log.Debug("closed a connection to an announced address: it is for joins only", "remote", c.RemoteAddr().String())
		c.Close()
	}
}

// closeAll closes every listener.
func (l *listeners) closeAll() {
	for ap, ln := range l.open {
		ln.Close()
		delete(l.open, ap)
	}
}
