#!/usr/bin/env bash
# impair.sh - impair one path of a testbed built by testbed.sh.
#
# Usage: scripts/impair.sh [-p PREFIX] PATH ACTION [ARG]
#        scripts/impair.sh [-p PREFIX] show
#
# PREFIX  testbed prefix (default $TESTBED_PREFIX, or "mptcp")
# PATH    wifi  client wlan0 <-> router rwlan0
#         cell  client wwan0 <-> router rwwan0
#         all   both paths (only with clear and show)
# ACTION  cut        set the router side of the link down: the client
#                    interface loses carrier (NO-CARRIER), like a lost Wi-Fi.
#         up         set the router side of the link up again (rules stay).
#         blackhole  drop everything in both directions in the router;
#                    the link stays up.
#         loss N     drop N% (integer 1..100) of the packets in both
#                    directions in the router, at random (nft numgen).
#         clear      remove the path's impairment and set its link up.
#         show       print the current impairment of the path.
#
# cut, up and clear wait until both ends report the new link state; up and
# clear also flush both ends' neighbour entries for the path.
#
# cut, blackhole and loss replace whatever impairment the path had, so a
# path has at most one at a time; the other path is never touched.
#
# All drops happen in the router namespace, in the forward chain of the
# nftables table "inet impair", so to both endpoints they are network loss,
# not local transmit errors. Traffic to the router's own addresses is not
# dropped. Each rule carries the comment "impair:PATH:KIND" and clear
# deletes exactly those rules (by handle).
set -euo pipefail

readonly PROG=${0##*/}
readonly FAMILY=inet TABLE=impair
readonly CHAIN=forward

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<-EOF
		usage: $PROG [-p PREFIX] PATH ACTION [ARG]
		       PATH:   wifi | cell | all (all only with clear, show)
		       ACTION: cut | up | blackhole | loss N (1..100) | clear | show
	EOF
	exit 1
}

# rdev PATH: the router-side interface of PATH.
rdev() {
	case $1 in
	wifi) echo rwlan0 ;;
	cell) echo rwwan0 ;;
	esac
}

rtr() {
	ip netns exec "$P-rtr" "$@"
}

# handles PATH: nft rule handles whose comment names PATH.
handles() {
	rtr nft -a list chain "$FAMILY" "$TABLE" "$CHAIN" 2>/dev/null |
		sed -n "s/.*comment \"impair:$1:[^\"]*\".*# handle \([0-9][0-9]*\).*/\1/p"
}

# set_rules PATH [RULE...]: atomically replace the rules of PATH.
set_rules() {
	local path=$1 h rule
	shift
	{
		echo "add table $FAMILY $TABLE"
		echo "add chain $FAMILY $TABLE $CHAIN { type filter hook forward priority filter; policy accept; }"
		for h in $(handles "$path"); do
			echo "delete rule $FAMILY $TABLE $CHAIN handle $h"
		done
		for rule in "$@"; do
			echo "add rule $FAMILY $TABLE $CHAIN $rule"
		done
	} | rtr nft -f - || die "nft failed for path $path"
}

# drop_rules PATH KIND MATCH: a rule per direction, both with MATCH.
drop_rules() {
	local path=$1 kind=$2 match=$3 dev
	dev=$(rdev "$path")
	printf '%s\n' \
		"iifname \"$dev\" $match counter drop comment \"impair:$path:$kind\"" \
		"oifname \"$dev\" $match counter drop comment \"impair:$path:$kind\""
}

# cdev PATH: the client-side interface of PATH.
cdev() {
	case $1 in
	wifi) echo wlan0 ;;
	cell) echo wwan0 ;;
	esac
}

# oper_up NS DEV: whether DEV's operational state is UP. The kernel sets it
# from its linkwatch work, which also (de)activates the device's queue and
# sends the link notifications, so once it has changed the link change has
# really taken effect (this can lag by a second or more while the kernel is
# busy, e.g. destroying other namespaces).
oper_up() {
	ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -q ' state UP '
}

# link PATH up|down: set the router side of PATH up or down and wait (up to
# 10 s) until both ends report the new operational state. Going up from down
# also flushes the neighbour entries of both ends (as a re-association
# would), so entries left INCOMPLETE or FAILED while the link was cut do not
# delay or fail the first packets. A link that is already up is left alone.
link() {
	local path=$1 want=$2 r c i
	r=$(rdev "$path")
	c=$(cdev "$path")
	if [[ $want == up ]] && oper_up "$P-rtr" "$r" && oper_up "$P-cli" "$c"; then
		return 0 # already up: leave the live link and its neighbours alone
	fi
	ip -n "$P-rtr" link set "$r" "$want" || die "cannot set $r $want in $P-rtr"
	for ((i = 0; i < 1000; i++)); do
		if [[ $want == up ]]; then
			oper_up "$P-rtr" "$r" && oper_up "$P-cli" "$c" && break
		else
			oper_up "$P-cli" "$c" || break
		fi
		sleep 0.01
	done
	((i < 1000)) || die "$c in $P-cli did not go $want within 10 s"
	if [[ $want == up ]]; then
		ip -n "$P-rtr" neigh flush dev "$r" 2>/dev/null || true
		ip -n "$P-cli" neigh flush dev "$c" 2>/dev/null || true
	fi
}

show() {
	local path=$1 dev state rules kind
	dev=$(rdev "$path")
	if ip -n "$P-rtr" link show "$dev" 2>/dev/null | grep -q '<[^>]*\bUP\b'; then
		state=up
	else
		state="down (cut)"
	fi
	rules=$(rtr nft list chain "$FAMILY" "$TABLE" "$CHAIN" 2>/dev/null | grep "comment \"impair:$path:" || true)
	if [[ -z $rules ]]; then
		kind=none
	else
		kind=$(sed -n 's/.*comment "impair:[a-z]*:\([^"]*\)".*/\1/p' <<<"$rules" | sort -u | tr '\n' ' ')
		kind="${kind% } ($(sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' <<<"$rules" |
			awk '{s += $1} END {print s + 0}') packets dropped)"
	fi
	echo "$path ($dev): link $state, impairment: ${kind//:/ }"
}

main() {
	local opt
	P=${TESTBED_PREFIX:-mptcp}
	while getopts ":p:h" opt; do
		case $opt in
		p) P=$OPTARG ;;
		h) usage ;;
		:) die "option -$OPTARG needs an argument" ;;
		*) die "unknown option '-$OPTARG'" ;;
		esac
	done
	shift $((OPTIND - 1))
	if [[ ! $P =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ ]]; then
		die "invalid PREFIX '$P' (want 1-32 letters, digits or dashes, not starting with a dash)"
	fi
	if (($# == 1)) && [[ $1 == show ]]; then
		set -- all show
	fi
	(($# >= 1)) || usage
	(($# >= 2)) || die "missing ACTION after PATH '$1'"
	local path=$1 action=$2 n=
	shift 2
	case $path in
	wifi | cell | all) ;;
	*) die "invalid PATH '$path' (want wifi, cell or all)" ;;
	esac
	case $action in
	cut | up | blackhole | clear | show)
		(($# == 0)) || die "unexpected argument '$1' after $action"
		;;
	loss)
		(($# >= 1)) || die "loss needs a percentage N (1..100)"
		(($# == 1)) || die "unexpected argument '$2' after loss $1"
		n=$1
		if [[ ! $n =~ ^[0-9]{1,3}$ ]] || ((10#$n < 1 || 10#$n > 100)); then
			die "invalid loss percentage '$n' (want an integer 1..100)"
		fi
		n=$((10#$n))
		;;
	*) die "invalid ACTION '$action' (want cut, up, blackhole, loss N, clear or show)" ;;
	esac
	if [[ $path == all && $action != clear && $action != show ]]; then
		die "invalid PATH 'all' for $action (want wifi or cell)"
	fi

	[[ -e /var/run/netns/$P-rtr ]] || die "testbed '$P' is not up (no namespace $P-rtr)"
	command -v nft >/dev/null 2>&1 || die "'nft' not found (apt-get install nftables)"

	# Serialise impair.sh runs on one testbed: handles are read, then deleted.
	local lockdir=/run/lock lockfd
	[[ -d $lockdir ]] || lockdir=/tmp
	exec {lockfd}>"$lockdir/mptcp-impair-$P.lock"
	flock "$lockfd"

	local paths=("$path")
	[[ $path == all ]] && paths=(wifi cell)
	local p rules=()
	for p in "${paths[@]}"; do
		case $action in
		cut)
			set_rules "$p"
			link "$p" down
			;;
		up) link "$p" up ;;
		blackhole)
			mapfile -t rules < <(drop_rules "$p" blackhole "")
			set_rules "$p" "${rules[@]}"
			link "$p" up
			;;
		loss)
			# numgen random mod 100 yields 0..99; nft rejects "< 100".
			local match="numgen random mod 100 < $n"
			((n < 100)) || match=""
			mapfile -t rules < <(drop_rules "$p" "loss:$n" "$match")
			set_rules "$p" "${rules[@]}"
			link "$p" up
			;;
		clear)
			set_rules "$p"
			link "$p" up
			;;
		show) show "$p" ;;
		esac
	done
}

main "$@"
