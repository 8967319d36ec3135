#!/usr/bin/env bash
# testbed.sh - two-path MPTCP testbed built from three network namespaces.
#
# Usage: scripts/testbed.sh up|down|status [PREFIX]
#
# PREFIX defaults to $TESTBED_PREFIX, or "mptcp". Several testbeds with
# different prefixes can coexist: every interface is created directly inside
# its namespace, so nothing is ever named in the host namespace.
#
# Topology (fixed):
#
#   ${P}-cli                     ${P}-rtr                      ${P}-srv
#   wlan0 10.0.1.2/24  <--> rwlan0 10.0.1.1/24
#         fd00:1::2/64            fd00:1::1/64
#                                 rsrv0  10.0.3.1/24 <--> eth0 10.0.3.2/24
#                                        fd00:3::1/64          fd00:3::2/64
#   wwan0 10.0.2.2/24  <--> rwwan0 10.0.2.1/24
#         fd00:2::2/64            fd00:2::1/64
#                                 rsrv1  10.0.4.1/24 <--> eth1 10.0.4.2/24
#                                        fd00:4::1/64          fd00:4::2/64
#
#   "wifi" path = wlan0/rwlan0, "cell" path = wwan0/rwwan0 (see impair.sh).
#
# Client policy routing: from 10.0.1.2 / fd00:1::2 -> table 101 (default via
# wlan0), from 10.0.2.2 / fd00:2::2 -> table 102 (default via wwan0); main
# table: default via wlan0 metric 100, via wwan0 metric 200.
# Server likewise: tables 201 (eth0) / 202 (eth1), main default via eth0
# metric 100, via eth1 metric 200.
#
# The router forwards IPv4 and IPv6. rp_filter is 0 everywhere, IPv6
# addresses are added with nodad (and accept_dad=0), keep_addr_on_down=1 so
# "impair.sh cut" followed by "clear" restores the IPv6 addresses.
# TSO/GSO/GRO are off on all veths so nftables loss in the router is per
# segment. net.mptcp.enabled=1 in client and server; pm_type, limits and
# endpoints are left to the tests.
#
# Environment:
#   TESTBED_PREFIX  default prefix
#   TESTBED_KEEP=1  do not tear down a half-built testbed when "up" fails
#
# Needs: iproute2, iputils-ping, ethtool, nftables (status/impair.sh), root.
set -euo pipefail

readonly PROG=${0##*/}
readonly NETNS_DIR=/var/run/netns
readonly RUN_DIR=/run/mptcp-pm-testbed # impair.sh's delayer pid files

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	echo "usage: $PROG up|down|status [PREFIX]" >&2
	exit 1
}

# validate_prefix PREFIX: letters, digits and dashes, 1-32 characters,
# starting with a letter or digit (so "${P}-cli" is a valid netns name).
validate_prefix() {
	local p=$1
	if [[ ! $p =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ ]]; then
		die "invalid PREFIX '$p' (want 1-32 letters, digits or dashes, not starting with a dash)"
	fi
}

need() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 ||
			die "'$cmd' not found (apt-get install ${PKG[$cmd]:-$cmd})"
	done
}

declare -A PKG=([ip]=iproute2 [ping]=iputils-ping [ethtool]=ethtool [nft]=nftables [sysctl]=procps)

ns_exists() {
	[[ -e $NETNS_DIR/$1 ]]
}

# nsexec NS CMD...: run CMD inside NS.
nsexec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# tune NS DEV...: per-interface sysctls plus offloads off. The offload
# change tolerates features that cannot change (ethtool exits non-zero
# then); we only warn if TSO or GSO remain on.
tune() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner bash
	nsexec "$ns" bash -c '
		set -u
		args=()
		for d; do
			args+=("net.ipv4.conf.$d.rp_filter=0" "net.ipv6.conf.$d.accept_dad=0" "net.ipv6.conf.$d.keep_addr_on_down=1")
		done
		sysctl -q -w "${args[@]}" >/dev/null || exit 1
		for d; do
			ethtool -K "$d" tso off gso off gro off >/dev/null 2>&1 || true
			if ethtool -k "$d" | grep -Eq "^(tcp-segmentation-offload|generic-segmentation-offload): on"; then
				echo "warning: $d: could not turn TSO/GSO off" >&2
			fi
		done
	' tune "$@"
}

# Sysctls applied in every namespace before any interface exists, so the
# defaults are inherited by the veths.
COMMON_SYSCTLS=(
	net.ipv4.conf.all.rp_filter=0
	net.ipv4.conf.default.rp_filter=0
	net.ipv6.conf.all.accept_dad=0
	net.ipv6.conf.default.accept_dad=0
	net.ipv6.conf.all.keep_addr_on_down=1
	net.ipv6.conf.default.keep_addr_on_down=1
	net.ipv6.conf.all.disable_ipv6=0
	net.ipv6.conf.default.disable_ipv6=0
)

cmd_up() {
	local cli=$P-cli rtr=$P-rtr srv=$P-srv ns
	need ip ping ethtool sysctl
	[[ $EUID -eq 0 ]] || die "must run as root"
	for ns in "$cli" "$rtr" "$srv"; do
		if ns_exists "$ns"; then
			die "testbed '$P' already exists (namespace $ns); run '$PROG down $P' first"
		fi
	done

	CREATED=()
	trap 'up_failed' EXIT
	# "ip netns add" creates its file with O_EXCL, so a concurrent "up"
	# with the same prefix fails here and never deletes our namespaces.
	# The lock serialises the first-time mount of $NETNS_DIR between
	# concurrent "up"s. It must not live in $NETNS_DIR: iproute2 treats
	# every file there as a namespace.
	local lockdir=/run/lock
	[[ -d $lockdir ]] || lockdir=/tmp
	exec {lockfd}>"$lockdir/mptcp-testbed.lock"
	flock "$lockfd"
	for ns in "$cli" "$rtr" "$srv"; do
		ip netns add "$ns" || die "cannot create namespace $ns"
		CREATED+=("$ns")
	done
	flock -u "$lockfd"
	exec {lockfd}>&-

	nsexec "$cli" sysctl -q -w "${COMMON_SYSCTLS[@]}" net.mptcp.enabled=1 >/dev/null
	nsexec "$srv" sysctl -q -w "${COMMON_SYSCTLS[@]}" net.mptcp.enabled=1 >/dev/null
	nsexec "$rtr" sysctl -q -w "${COMMON_SYSCTLS[@]}" \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.forwarding=1 >/dev/null

	# Client: veths with their peers created directly in the router.
	# Explicit, distinct ifindexes: in fresh namespaces both ends of a veth
	# would otherwise both get ifindex 2, the kernel's linkwatch then treats
	# the carrier change as non-urgent and IPv6 addrconf only sees the link
	# come up (and adds the ff00::/8 multicast route that neighbour
	# discovery needs) up to one second later.
	ip -n "$cli" -b - <<-EOF
		link set lo up
		link add wlan0 index 11 type veth peer name rwlan0 index 21 netns $rtr
		link add wwan0 index 12 type veth peer name rwwan0 index 22 netns $rtr
		addr add 10.0.1.2/24 dev wlan0
		addr add fd00:1::2/64 dev wlan0 nodad
		addr add 10.0.2.2/24 dev wwan0
		addr add fd00:2::2/64 dev wwan0 nodad
		link set wlan0 up
		link set wwan0 up
		route add 10.0.1.0/24 dev wlan0 src 10.0.1.2 table 101
		route add 0.0.0.0/0 via 10.0.1.1 dev wlan0 table 101
		route add fd00:1::/64 dev wlan0 table 101
		route add ::/0 via fd00:1::1 dev wlan0 table 101
		route add 10.0.2.0/24 dev wwan0 src 10.0.2.2 table 102
		route add 0.0.0.0/0 via 10.0.2.1 dev wwan0 table 102
		route add fd00:2::/64 dev wwan0 table 102
		route add ::/0 via fd00:2::1 dev wwan0 table 102
		route add 0.0.0.0/0 via 10.0.1.1 dev wlan0 metric 100
		route add 0.0.0.0/0 via 10.0.2.1 dev wwan0 metric 200
		route add ::/0 via fd00:1::1 dev wlan0 metric 100
		route add ::/0 via fd00:2::1 dev wwan0 metric 200
		rule add from 10.0.1.2 table 101 pref 1001
		rule add from 10.0.2.2 table 102 pref 1002
	EOF
	ip -6 -n "$cli" -b - <<-EOF
		rule add from fd00:1::2 table 101 pref 1001
		rule add from fd00:2::2 table 102 pref 1002
	EOF

	# Server.
	ip -n "$srv" -b - <<-EOF
		link set lo up
		link add eth0 index 31 type veth peer name rsrv0 index 23 netns $rtr
		link add eth1 index 32 type veth peer name rsrv1 index 24 netns $rtr
		addr add 10.0.3.2/24 dev eth0
		addr add fd00:3::2/64 dev eth0 nodad
		addr add 10.0.4.2/24 dev eth1
		addr add fd00:4::2/64 dev eth1 nodad
		link set eth0 up
		link set eth1 up
		route add 10.0.3.0/24 dev eth0 src 10.0.3.2 table 201
		route add 0.0.0.0/0 via 10.0.3.1 dev eth0 table 201
		route add fd00:3::/64 dev eth0 table 201
		route add ::/0 via fd00:3::1 dev eth0 table 201
		route add 10.0.4.0/24 dev eth1 src 10.0.4.2 table 202
		route add 0.0.0.0/0 via 10.0.4.1 dev eth1 table 202
		route add fd00:4::/64 dev eth1 table 202
		route add ::/0 via fd00:4::1 dev eth1 table 202
		route add 0.0.0.0/0 via 10.0.3.1 dev eth0 metric 100
		route add 0.0.0.0/0 via 10.0.4.1 dev eth1 metric 200
		route add ::/0 via fd00:3::1 dev eth0 metric 100
		route add ::/0 via fd00:4::1 dev eth1 metric 200
		rule add from 10.0.3.2 table 201 pref 2001
		rule add from 10.0.4.2 table 202 pref 2002
	EOF
	ip -6 -n "$srv" -b - <<-EOF
		rule add from fd00:3::2 table 201 pref 2001
		rule add from fd00:4::2 table 202 pref 2002
	EOF

	# Router: the peers already exist here.
	ip -n "$rtr" -b - <<-EOF
		link set lo up
		addr add 10.0.1.1/24 dev rwlan0
		addr add fd00:1::1/64 dev rwlan0 nodad
		addr add 10.0.2.1/24 dev rwwan0
		addr add fd00:2::1/64 dev rwwan0 nodad
		addr add 10.0.3.1/24 dev rsrv0
		addr add fd00:3::1/64 dev rsrv0 nodad
		addr add 10.0.4.1/24 dev rsrv1
		addr add fd00:4::1/64 dev rsrv1 nodad
		link set rwlan0 up
		link set rwwan0 up
		link set rsrv0 up
		link set rsrv1 up
	EOF

	tune "$cli" wlan0 wwan0 &
	local p1=$!
	tune "$rtr" rwlan0 rwwan0 rsrv0 rsrv1 &
	local p2=$!
	tune "$srv" eth0 eth1 &
	local p3=$!
	wait "$p1" || die "tuning interfaces in $cli failed"
	wait "$p2" || die "tuning interfaces in $rtr failed"
	wait "$p3" || die "tuning interfaces in $srv failed"

	check_paths

	trap - EXIT
	echo "testbed '$P' up: $cli $rtr $srv"
}

# check_paths pings every server address from every client address, in
# parallel, and names each failing path.
check_paths() {
	local -A pids=()
	local src dst name failed=0
	for src in 10.0.1.2 10.0.2.2; do
		for dst in 10.0.3.2 10.0.4.2; do
			probe "$src" "$dst" &
			pids["$src -> $dst"]=$!
		done
	done
	for src in fd00:1::2 fd00:2::2; do
		for dst in fd00:3::2 fd00:4::2; do
			probe "$src" "$dst" &
			pids["$src -> $dst"]=$!
		done
	done
	for name in "${!pids[@]}"; do
		if ! wait "${pids[$name]}"; then
			echo "$PROG: connectivity check failed: $name ($(path_of "${name%% *}") path)" >&2
			failed=1
		fi
	done
	((failed == 0)) || die "testbed '$P' is not working"
}

# probe SRC DST: one echo request from SRC to DST in the client namespace,
# retried twice so a slow first neighbour resolution does not fail "up".
probe() {
	local _
	for _ in 1 2 3; do
		nsexec "$P-cli" ping -n -q -c1 -W1 -I "$1" "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

path_of() {
	case $1 in
	10.0.1.2 | fd00:1::2) echo "wifi, wlan0" ;;
	*) echo "cell, wwan0" ;;
	esac
}

up_failed() {
	local rc=$? ns
	((rc != 0)) || return 0
	if [[ ${TESTBED_KEEP:-} == 1 ]]; then
		echo "$PROG: TESTBED_KEEP=1, leaving ${CREATED[*]:-nothing} in place" >&2
		return
	fi
	for ns in "${CREATED[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# stop_delayers kills the mptcp-netem delayers "impair.sh delay" started in
# this testbed's router, if their pid still lives in that namespace.
stop_delayers() {
	local path pid
	for path in wifi cell; do
		[[ -f $RUN_DIR/$P-$path.pid ]] || continue
		pid=$(<"$RUN_DIR/$P-$path.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && ip netns identify "$pid" 2>/dev/null | grep -qxF "$P-rtr"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$RUN_DIR/$P-$path.pid" "$RUN_DIR/$P-$path.log" "$RUN_DIR/$P-$path.delay"
	done
}

cmd_down() {
	local ns
	need ip
	stop_delayers
	for ns in "$P-cli" "$P-rtr" "$P-srv"; do
		if ns_exists "$ns"; then
			ip netns del "$ns" || die "cannot delete namespace $ns"
		fi
	done
	rm -f "/run/lock/mptcp-impair-$P.lock" "/tmp/mptcp-impair-$P.lock"
}

cmd_status() {
	local ns any=0
	need ip
	for ns in "$P-cli" "$P-rtr" "$P-srv"; do
		if ! ns_exists "$ns"; then
			echo "== $ns: missing"
			continue
		fi
		any=1
		echo "== $ns"
		ip -n "$ns" -br link
		ip -n "$ns" -br addr
		echo "-- routes"
		ip -n "$ns" -4 route show table all | grep -Ev '^(local|broadcast) ' || true
		ip -n "$ns" -6 route show table all | grep -Ev '^(local|anycast|multicast) |^fe80::' || true
		if [[ $ns != "$P-rtr" ]]; then
			echo "-- rules"
			ip -n "$ns" -4 rule
			ip -n "$ns" -6 rule
			echo "-- mptcp"
			ip -n "$ns" mptcp limits 2>/dev/null || true
			ip -n "$ns" mptcp endpoint 2>/dev/null || true
		fi
		if command -v nft >/dev/null 2>&1; then
			echo "-- nft"
			nsexec "$ns" nft list ruleset
		fi
	done
	((any)) || die "testbed '$P' is not up"
}

main() {
	(($# >= 1 && $# <= 2)) || usage
	local cmd=$1
	P=${2:-${TESTBED_PREFIX:-mptcp}}
	validate_prefix "$P"
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	*) die "unknown command '$cmd' (want up, down or status)" ;;
	esac
}

main "$@"
