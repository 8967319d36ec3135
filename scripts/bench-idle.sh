#!/usr/bin/env bash
# Idle benchmark: what mptcp-pm costs when little or nothing happens. The
# daemon runs in the testbed's client namespace (default policy handover,
# eBPF measurements unless -q says otherwise) and is measured over WINDOW
# seconds in three states:
#
#   idle  no connection at all
#   conns CONNS idle MPTCP connections (one byte sent each, then nothing)
#   busy  CONNS connections each receiving a small paced stream (100 bytes
#         every 20 ms from the server)
#
# Per state: the daemon's CPU time (utime+stime of /proc/PID/stat, all
# threads) scaled to a minute, and its context switches per second (every
# thread's voluntary + involuntary ones: about how often it wakes up).
# -r REV builds the daemon from a git revision (e.g. main) instead of the
# work tree, so that two revisions are measured by the same invocation.
#
#   sudo scripts/bench-idle.sh [-n CONNS] [-w WINDOW] [-r REV] [-q auto|bpf|sockdiag] [-o results.json]
set -euo pipefail
conns=100 window=20 rev="" quality=auto out=""
while getopts "n:w:r:q:o:h" opt; do
	case $opt in
	n) conns=$OPTARG ;;
	w) window=$OPTARG ;;
	r) rev=$OPTARG ;;
	q) quality=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
case $conns in '' | *[!0-9]* | 0) echo "bench-idle: -n wants a number of connections, got '$conns'" >&2; exit 1 ;; esac
case $window in '' | *[!0-9]* | 0) echo "bench-idle: -w wants a number of seconds, got '$window'" >&2; exit 1 ;; esac
case $quality in auto | bpf | sockdiag) ;; *) echo "bench-idle: -q wants auto, bpf or sockdiag, got '$quality'" >&2; exit 1 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-idle: needs root (network namespaces)" >&2; exit 1; }
for c in ip jq go git; do command -v $c >/dev/null || { echo "bench-idle: '$c' not found" >&2; exit 1; }; done
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ -n "$out" ]; then out=$(realpath -m "$out"); fi

P=bidle-$$
CLI=$P-cli SRV=$P-srv
IDLE_PORT=5311 BUSY_PORT=5312 SRV_ADDR=10.0.3.2
W=$(mktemp -d /tmp/bench-idle.XXXXXX)
BIN=$W/bin
PIDS=()
HZ=$(getconf CLK_TCK)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	"$ROOT/scripts/testbed.sh" down "$P" >/dev/null 2>&1 || true
	if [ "$rc" -ne 0 ]; then
		echo "bench-idle: logs kept in $W" >&2
	else
		rm -rf "$BIN" "$W/src"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { ip netns exec "$@"; }

# start NAME CMD...: run CMD in the background, output in $W/NAME.out/.err;
# sets PID.
start() {
	local name=$1
	shift
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	PID=$!
	PIDS+=("$PID")
}

# stop PID: TERM, wait up to 10 s, then KILL.
stop() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

wait_line() {
	local f=$1 re=$2 t=$3 pid=$4 i
	for ((i = 0; i < t * 10; i++)); do
		grep -q -- "$re" "$f" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID: utime+stime (fields 14, 15 of stat, after comm).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# switches PID: context switches of every thread, voluntary and not.
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches:/ {n += $2} END {print n}'; }

status() { "$BIN/mptcp-pm" -j status --brief --control "$1"; }

# measure NAME PID: CPU and context switches over the window, as JSON.
measure() {
	local name=$1 pid=$2 t0 t1 s0 s1
	t0=$(cpu_ticks "$pid") s0=$(switches "$pid")
	sleep "$window"
	t1=$(cpu_ticks "$pid") s1=$(switches "$pid")
	jq -n --arg state "$name" --argjson ticks $((t1 - t0)) --argjson sw $((s1 - s0)) --argjson hz "$HZ" --argjson w "$window" \
		--argjson threads "$(ls "/proc/$pid/task" | wc -l)" \
		'{state: $state, window_s: $w, ticks: $ticks, cpu_ms_per_min: ($ticks / $hz * 1000 * 60 / $w | round),
		  cpu_percent: ($ticks / $hz / $w * 100 * 1000 | round / 1000), switches_per_s: ($sw / $w * 10 | round / 10), threads: $threads}' >"$W/$name.json"
	log "$name: $(jq -c . "$W/$name.json")"
}

# ---------------------------------------------------------------- set-up
mkdir -p "$BIN"
if [ -n "$rev" ]; then
	log "building mptcp-pm from $rev"
	mkdir -p "$W/src"
	git archive "$rev" | tar -x -C "$W/src"
	(cd "$W/src" && go build -o "$BIN/" ./cmd/mptcp-pm)
	rev=$(git rev-parse --short "$rev")
else
	go build -o "$BIN/" ./cmd/mptcp-pm
	rev="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!scripts' ':!tests' || echo +dirty)"
fi
go build -o "$BIN/" ./tests/cmd/mptcp-load

log "testbed $P"
scripts/testbed.sh up "$P" >/dev/null
nsx "$SRV" sysctl -q -w net.mptcp.pm_type=0
nsx "$SRV" ip mptcp limits set subflows 8 add_addr_accepted 8
start idle-server ip netns exec "$SRV" "$BIN/mptcp-load" server -listen "0.0.0.0:$IDLE_PORT"
wait_line "$W/idle-server.out" '^listening' 10 "$PID" || { echo "bench-idle: the load server did not start" >&2; exit 1; }
start busy-server ip netns exec "$SRV" "$BIN/mptcp-load" server -listen "0.0.0.0:$BUSY_PORT" -push 100 -every 20ms
wait_line "$W/busy-server.out" '^listening' 10 "$PID" || { echo "bench-idle: the load server did not start" >&2; exit 1; }

mkdir -p "$W/policies.d"
cat >"$W/config.yaml" <<EOF
policy_dir: policies.d
log_level: warn
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: handover
EOF
ctl=$W/daemon.sock
start daemon "$BIN/mptcp-pm" -n "$CLI" daemon -c "$W/config.yaml" --set-pm-type --quality "$quality" --log-level warn --control "$ctl"
dpid=$PID
for ((i = 0; i < 100; i++)); do status "$ctl" >/dev/null 2>&1 && break; sleep 0.1; done
status "$ctl" >/dev/null || { echo "bench-idle: the daemon did not start: $(cat "$W/daemon.err")" >&2; exit 1; }
sleep 2

# ---------------------------------------------------------------- states
measure idle "$dpid"

# load NAME PORT [client flags]: CONNS connections held until stopped;
# returns when the daemon manages them all, plus 8 s to settle (their
# first samples, the engine's first decisions, and the 5 s after which the
# sampler of idle connections slows down).
load() {
	local name=$1 port=$2 i
	shift 2
	start "$name-client" ip netns exec "$CLI" "$BIN/mptcp-load" client -connect "$SRV_ADDR:$port" -n "$conns" -rate 200 \
		-hold until-signal -json "$@"
	LOAD_PID=$PID
	wait_line "$W/$name-client.err" '^opened' 60 "$LOAD_PID" || { echo "bench-idle: $name: the load client failed: $(tail -3 "$W/$name-client.err")" >&2; exit 1; }
	for ((i = 0; i < 100; i++)); do
		[ "$(status "$ctl" | jq .connection_count)" -ge "$conns" ] && break
		sleep 0.1
	done
	log "$name: $(grep '^opened' "$W/$name-client.err"), the daemon manages $(status "$ctl" | jq .connection_count)"
	sleep 8
}

# unload: close the connections, until the daemon has none (10 s), then 2 s.
unload() {
	local i
	stop "$LOAD_PID" USR1
	for ((i = 0; i < 100; i++)); do
		[ "$(status "$ctl" | jq .connection_count)" = 0 ] && break
		sleep 0.1
	done
	sleep 2
}

load conns $IDLE_PORT
measure conns "$dpid"
unload
load busy $BUSY_PORT -drain
measure busy "$dpid"
unload

warnings=$(grep -c 'level=WARN' "$W/daemon.err" || true)
stop "$dpid"

[ -n "$out" ] || out=$W/bench-idle.json
jq -n --arg rev "$rev" --arg kernel "$(uname -r)" --argjson conns "$conns" --arg quality "$quality" --argjson warnings "$warnings" \
	--slurpfile a "$W/idle.json" --slurpfile b "$W/conns.json" --slurpfile c "$W/busy.json" \
	'{benchmark: "idle", rev: $rev, kernel: $kernel, quality: $quality, connections: $conns, date: (now | todate),
	  states: [$a[0], $b[0], $c[0]], daemon_warnings: $warnings}' >"$out"

echo
echo "idle benchmark: mptcp-pm $rev, quality $quality, Linux $(uname -r), $(nproc) cores, ${window} s windows scaled to a minute"
printf '%-34s %14s %10s %12s\n' "state" "CPU ms/min" "CPU %" "switches/s"
for s in idle conns busy; do
	case $s in
	idle) label="no connection" ;;
	conns) label="$conns idle connections" ;;
	busy) label="$conns busy (100 B / 20 ms each)" ;;
	esac
	jq -r --arg l "$label" '"\($l)\t\(.cpu_ms_per_min)\t\(.cpu_percent)\t\(.switches_per_s)"' "$W/$s.json" |
		awk -F'\t' '{printf "%-34s %14s %10s %12s\n", $1, $2, $3, $4}'
done
echo "results: $out"
