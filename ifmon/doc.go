// Package ifmon watches the interfaces, usable addresses, routes and rules
// of one network namespace, and reports them as whole snapshots.
//
// A Snapshot lists every link of the namespace with its Class (wifi,
// cellular, wired, virtual, loopback), whether it can carry traffic, and
// the addresses a subflow may use (the temporary and deprecated ones also
// listed apart), plus a digest of every route and policy-routing rule, so
// that a route change is a new snapshot. Where packets to a peer go is the
// kernel's answer to Monitor.Route, a lookup from a source address. A
// Monitor takes snapshots on
// demand (Monitor.Snapshot) and, while Monitor.Run runs, publishes a Delta
// on Monitor.Changes after every change.
//
// The monitor is level-triggered. rtnetlink notifications (links, addresses,
// routes and rules of both families) are only pokes; what is reported always
// comes from a fresh dump of the kernel's tables, taken with
// github.com/vishvananda/netlink, compared with the previous snapshot. A lost notification (ENOBUFS) therefore costs one extra dump,
// never a drifting view. Pokes are debounced with a leading edge: after a
// quiet period a change is dumped and published at once (a link going down
// is reported within a few milliseconds), and further changes within
// Config.Settle are coalesced, so a flapping link yields at most about one
// Delta per window.
//
// Classification is the pure function Classify: loopback first, then
// name rules from the configuration, DefaultRules, sysfs facts (only for the
// caller's own namespace), and the rtnetlink link kind.
//
// The netlink sockets are created inside the watched namespace
// (Config.NetNS) and stay there. Each is opened on the namespace's own
// thread (internal/netns.Do), which the first one switches in: later ones,
// opened after the daemon dropped CAP_SYS_ADMIN, need no setns.
//
// Out of scope: acting on the changes (that is the daemon's job), routing
// decisions (the kernel makes them: Monitor.Route asks), addresses'
// lifetimes and prefix lengths, and neighbours.
// Only Linux is supported; on other systems New returns an error that
// matches os.ErrNotExist, while the pure parts (Classify, Snapshot, Delta)
// build and work everywhere.
package ifmon
