//go:build linux

package links

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mptcp-pm/mptcp-pm/internal/netns"
)

// maxDumpAttempts bounds the retries of a dump that the kernel marked
// NLM_F_DUMP_INTR (links changed during the walk); the last one is used
// as it is.
const maxDumpAttempts = 3

// Table is a snapshot of the interfaces of one namespace.
type Table struct {
	byIndex map[int32]string
	byName  map[string]int32
}

// Dump reads the interfaces of the namespace netnsFD (0: the caller's). The
// socket is opened on a thread that internal/netns.Do switches into the
// namespace; it stays there, and the thread does not.
func Dump(netnsFD int) (*Table, error) {
	var h *netlink.Handle
	err := netns.Do(netnsFD, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("links: dial rtnetlink: %w", err)
	}
	defer h.Close()
	var ls []netlink.Link
	for attempt := 1; ; attempt++ {
		ls, err = h.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < maxDumpAttempts {
			continue
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("links: dump links: %w", err)
		}
		break
	}
	t := &Table{byIndex: map[int32]string{}, byName: map[string]int32{}}
	for _, l := range ls {
		a := l.Attrs()
		t.byIndex[int32(a.Index)] = a.Name
		t.byName[a.Name] = int32(a.Index)
	}
	return t, nil
}

// Name returns the name of interface index, or "" if there is none.
func (t *Table) Name(index int32) string { return t.byIndex[index] }

// Index returns the index of the interface named name.
func (t *Table) Index(name string) (int32, bool) {
	i, ok := t.byName[name]
	return i, ok
}
