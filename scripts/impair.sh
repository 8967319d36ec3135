#!/usr/bin/env bash
# impair.sh - impair one path of a testbed built by testbed.sh.
#
# Usage: scripts/impair.sh [-p PREFIX] PATH ACTION [ARG...]
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
#         delay MS [JITTER_MS]
#                    add MS milliseconds (integer 1..10000) to the path's
#                    round-trip time: MS/2 in each direction. With
#                    JITTER_MS (0..MS), each packet's one-way delay varies
#                    uniformly by up to +-JITTER_MS/2 (so the RTT by up to
#                    +-JITTER_MS); packets are never reordered.
#         clear      remove the path's impairment and delay, set its link up.
#         show       print the current impairment and delay of the path.
#
# cut, up and clear wait until both ends report the new link state; up and
# clear also flush both ends' neighbour entries for the path.
#
# cut, blackhole and loss replace whatever drop impairment the path had, so
# a path has at most one at a time; the other path is never touched. delay
# is independent of them: it replaces only a previous delay of the path,
# and cut, up, blackhole and loss leave it in place.
#
# All drops happen in the router namespace, in the forward chain of the
# nftables table "inet impair", so to both endpoints they are network loss,
# not local transmit errors. Traffic to the router's own addresses is not
# dropped. Each rule carries the comment "impair:PATH:KIND" and clear
# deletes exactly those rules (by handle).
#
# Delay: the kernel has no sch_netem, so the router's iptables mangle
# FORWARD chain sends the path's forwarded packets to NFQUEUE queues, one
# per direction (wifi: 10 client->server, 11 server->client; cell: 20 and
# 21), served by the mptcp-netem delayer (tests/cmd/mptcp-netem) running in
# the router namespace, its pid in /run/mptcp-pm-testbed/PREFIX-PATH.pid.
# The rules (comment "impair:PATH:delay") use --queue-bypass, so if the
# delayer dies the path passes undelayed instead of going dark. delay waits
# until the delayer is bound before it installs them; clear removes them
# first and then stops the delayer, which releases what it holds.
# "testbed.sh down" stops the delayers too.
#
# The delayer binary is $MPTCP_NETEM if set, otherwise it is built with
# "go build" on first use into /run/mptcp-pm-testbed/mptcp-netem-HASH (a
# root-owned directory, not /tmp), HASH being of its Go sources.
set -euo pipefail

readonly PROG=${0##*/}
readonly FAMILY=inet TABLE=impair
readonly CHAIN=forward
readonly RUN_DIR=/run/mptcp-pm-testbed

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<-EOF
		usage: $PROG [-p PREFIX] PATH ACTION [ARG...]
		       PATH:   wifi | cell | all (all only with clear, show)
		       ACTION: cut | up | blackhole | loss N (1..100) | clear | show
		               | delay MS [JITTER_MS]   (MS: 1..10000 ms added to the RTT,
		                 MS/2 each way; JITTER_MS: 0..MS, RTT varies by +-JITTER_MS)
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

# queues PATH: the NFQUEUE numbers of PATH, client->server and
# server->client.
queues() {
	case $1 in
	wifi) echo 10 11 ;;
	cell) echo 20 21 ;;
	esac
}

# delay_rules_add PATH: NFQUEUE rules for both directions of PATH, IPv4
# and IPv6, in the router's mangle FORWARD chain.
delay_rules_add() {
	local path=$1 dev up down ipt
	dev=$(rdev "$path")
	read -r up down < <(queues "$path")
	for ipt in iptables ip6tables; do
		if ! rtr "$ipt" -w -t mangle -A FORWARD -i "$dev" -m comment --comment "impair:$path:delay" \
			-j NFQUEUE --queue-num "$up" --queue-bypass; then
			die "$ipt failed to add the delay rules of path $path"
		fi
		if ! rtr "$ipt" -w -t mangle -A FORWARD -o "$dev" -m comment --comment "impair:$path:delay" \
			-j NFQUEUE --queue-num "$down" --queue-bypass; then
			die "$ipt failed to add the delay rules of path $path"
		fi
	done
}

# delay_rules_del PATH: delete every mangle FORWARD rule commented
# impair:PATH:delay, whatever its other matches.
delay_rules_del() {
	local path=$1 ipt lines line args
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null 2>&1 || continue
		lines=$(rtr "$ipt" -w -t mangle -S FORWARD 2>/dev/null | grep -F -- "impair:$path:delay") || continue
		while IFS= read -r line; do
			# -A FORWARD ... --comment "impair:PATH:delay" ...: no spaces
			# inside the quotes, so dropping them is safe.
			read -ra args <<<"${line//\"/}"
			[[ ${args[0]} == -A ]] || continue
			args[0]=-D
			rtr "$ipt" -w -t mangle "${args[@]}" || die "$ipt failed to delete a delay rule of path $path"
		done <<<"$lines"
	done
}

# alive PID: whether PID exists and is not a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# delayer PATH: print the pid of PATH's running delayer, if any. The pid
# from the pid file counts only if that process lives in the router
# namespace, so a reused pid is never signalled.
delayer() {
	local pid
	pid=$(cat "$RUN_DIR/$P-$1.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
	ip netns identify "$pid" 2>/dev/null | grep -qxF "$P-rtr" || return 1
	echo "$pid"
}

# netem_bin: print the path of the mptcp-netem binary, building it first
# if needed (see the header).
netem_bin() {
	if [[ -n ${MPTCP_NETEM:-} ]]; then
		[[ -f $MPTCP_NETEM && -x $MPTCP_NETEM ]] || die "MPTCP_NETEM='$MPTCP_NETEM' is not an executable file"
		echo "$MPTCP_NETEM"
		return
	fi
	local root f files=() hash bin
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	for f in "$root"/go.mod "$root"/go.sum "$root"/tests/netem/*.go "$root"/tests/cmd/mptcp-netem/*.go; do
		[[ $f == *_test.go || ! -f $f ]] || files+=("$f")
	done
	[[ -d $root/tests/cmd/mptcp-netem ]] || die "no $root/tests/cmd/mptcp-netem to build (set MPTCP_NETEM=/path/to/mptcp-netem)"
	hash=$(cd "$root" && sha256sum "${files[@]#"$root"/}" | sha256sum | cut -c1-16)
	bin=$RUN_DIR/mptcp-netem-$hash
	if [[ ! -x $bin ]]; then
		command -v go >/dev/null 2>&1 || die "'go' not found to build mptcp-netem (or set MPTCP_NETEM=/path/to/mptcp-netem)"
		(cd "$root" && go build -o "$bin.$$" ./tests/cmd/mptcp-netem) >&2 || {
			rm -f "$bin.$$"
			die "building mptcp-netem failed"
		}
		mv -f "$bin.$$" "$bin"
		# Binaries of older sources, unused for an hour.
		find "$RUN_DIR" -maxdepth 1 -name 'mptcp-netem-*' ! -name "${bin##*/}" -mmin +60 -delete 2>/dev/null || true
	fi
	echo "$bin"
}

# stop_delay PATH: remove PATH's delay rules, then stop its delayer (which
# releases the packets it holds), print its counters and forget its state.
stop_delay() {
	local path=$1 pid i
	delay_rules_del "$path"
	if pid=$(delayer "$path"); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 500; i++)); do
			alive "$pid" || break
			sleep 0.01
		done
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
		sed "s/^/$path: /" "$RUN_DIR/$P-$path.log" 2>/dev/null | grep -vx "$path: ready" || true
	fi
	rm -f "$RUN_DIR/$P-$path.pid" "$RUN_DIR/$P-$path.log" "$RUN_DIR/$P-$path.delay"
}

# start_delay PATH MS JITTER_MS: start PATH's delayer in the router (half
# of MS and of JITTER_MS per direction), wait for its "ready" line (up to
# 10 s), then install the rules that feed it.
start_delay() {
	local path=$1 ms=$2 jitter=$3 bin pid i log=$RUN_DIR/$P-$1.log up down
	bin=$(netem_bin)
	read -r up down < <(queues "$path")
	# setsid: in its own session, away from the caller's signals. Its
	# output goes to a file, so it holds no pipe of our caller open, and it
	# must not inherit the lock.
	ip netns exec "$P-rtr" setsid "$bin" -queue "$up,$down" \
		-delay "$((ms * 500))us" -jitter "$((jitter * 500))us" \
		</dev/null >"$log" 2>&1 {LOCKFD}>&- &
	pid=$!
	echo "$pid" >"$RUN_DIR/$P-$path.pid"
	echo "$ms $jitter" >"$RUN_DIR/$P-$path.delay"
	for ((i = 0; i < 1000; i++)); do
		if grep -qx ready "$log" 2>/dev/null; then
			(delay_rules_add "$path") && return 0
			stop_delay "$path" >/dev/null
			die "could not install the delay rules of path $path"
		fi
		alive "$pid" || break
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null || true
	local out
	out=$(cat "$log" 2>/dev/null || true)
	rm -f "$RUN_DIR/$P-$path.pid" "$RUN_DIR/$P-$path.log" "$RUN_DIR/$P-$path.delay"
	die "mptcp-netem for path $path did not get ready${out:+: $out}"
}

show() {
	local path=$1 dev state rules kind delay=""
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
	if [[ -f $RUN_DIR/$P-$path.delay ]]; then
		local ms jitter pid
		read -r ms jitter <"$RUN_DIR/$P-$path.delay" || true
		delay=", delay: +${ms} ms RTT"
		((jitter == 0)) || delay+=" +-${jitter} ms"
		if pid=$(delayer "$path"); then
			delay+=" (mptcp-netem pid $pid)"
		else
			delay+=" (mptcp-netem NOT RUNNING: undelayed)"
		fi
	fi
	echo "$path ($dev): link $state, impairment: ${kind//:/ }$delay"
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
	local path=$1 action=$2 ms='' jitter=0 n=
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
	delay)
		(($# >= 1)) || die "delay needs the added round-trip time MS (1..10000)"
		(($# <= 2)) || die "unexpected argument '$3' after delay $1 $2"
		ms=$1
		if [[ ! $ms =~ ^[0-9]{1,5}$ ]] || ((10#$ms < 1 || 10#$ms > 10000)); then
			die "invalid delay '$ms' (want an integer 1..10000 milliseconds of round-trip time)"
		fi
		ms=$((10#$ms))
		if (($# == 2)); then
			jitter=$2
			if [[ ! $jitter =~ ^[0-9]{1,5}$ ]] || ((10#$jitter > ms)); then
				die "invalid jitter '$jitter' (want an integer 0..$ms milliseconds, at most the delay)"
			fi
			jitter=$((10#$jitter))
		fi
		;;
	*) die "invalid ACTION '$action' (want cut, up, blackhole, loss N, delay MS [JITTER_MS], clear or show)" ;;
	esac
	if [[ $path == all && $action != clear && $action != show ]]; then
		die "invalid PATH 'all' for $action (want wifi or cell)"
	fi

	[[ -e /var/run/netns/$P-rtr ]] || die "testbed '$P' is not up (no namespace $P-rtr)"
	command -v nft >/dev/null 2>&1 || die "'nft' not found (apt-get install nftables)"
	if [[ $action == delay ]]; then
		local ipt
		for ipt in iptables ip6tables; do
			command -v "$ipt" >/dev/null 2>&1 || die "'$ipt' not found, needed for delay (apt-get install iptables)"
		done
		mkdir -m 0755 "$RUN_DIR" 2>/dev/null || [[ -d $RUN_DIR ]] || die "cannot create $RUN_DIR"
	fi

	# Serialise impair.sh runs on one testbed: handles are read, then
	# deleted. LOCKFD is global: the delayer started by delay must not
	# inherit it.
	local lockdir=/run/lock
	[[ -d $lockdir ]] || lockdir=/tmp
	exec {LOCKFD}>"$lockdir/mptcp-impair-$P.lock"
	flock "$LOCKFD"

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
		delay)
			stop_delay "$p"
			start_delay "$p" "$ms" "$jitter"
			;;
		clear)
			stop_delay "$p"
			set_rules "$p"
			link "$p" up
			;;
		show) show "$p" ;;
		esac
	done
}

main "$@"
