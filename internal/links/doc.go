// Package links maps interface names to indexes and back inside a chosen
// network namespace, with one rtnetlink dump of the links
// (vishvananda/netlink) on a socket opened inside that namespace.
//
// A Table is a snapshot: it does not follow renames or new links (ifmon
// does). Only Linux is supported; elsewhere Dump returns an error that
// matches os.ErrNotExist.
package links
