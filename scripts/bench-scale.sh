#!/usr/bin/env bash
# Scale benchmark: CONNS concurrent MPTCP connections on the testbed, each
# given a second subflow by a path manager, against mptcpd in the same run.
#
# A. mptcp-pm in the client namespace, default policy interactive: CONNS
#    connections at RATE/s, then (a fresh daemon) CONNS at the fastest rate
#    the kernel allows. Per run: the daemon's event-to-command latency
#    (p50/p99/max, from its status), connections served per second (those
#    that got their second subflow, over the time it took), CPU time per
#    connection, RSS at the peak, goroutines and heap idle / at the peak /
#    after the connections closed, and a sock_diag count of the connections
#    with 2 subflows.
# B. Server side, same load: the server's path manager announces its second
#    address (10.0.4.2) to every connection and the client (in-kernel PM,
#    add_addr_accepted 1, subflows 1) joins it. mptcpd 0.12 (sspi plugin)
#    first, then mptcp-pm (a policy with announce:). Measured from outside
#    (mptcp-evlat): server ESTABLISHED -> client ANNOUNCED and -> client
#    SF_ESTABLISHED; plus each daemon's CPU time and RSS; ratio
#    mptcp-pm/mptcpd. If mptcpd does not do the job, the output says so and
#    why (its log, the kernel's ADD_ADDR counters); no number is made up.
#
# Targets (exit status 1 if one is missed, naming it): p99 event-to-command
# < 1 ms at 1,000 conn/s; RSS < 40 MiB at 10,000 connections; after the
# connections close: no connection left in the daemon, goroutines back to
# the idle count, heap in use within 4 MiB and RSS within 16 MiB of idle.
#
#   sudo scripts/bench-scale.sh [-n CONNS] [-r RATE] [--quick] [--no-mptcpd] [-o results.json] [-k] [--event-buffer BYTES]
#
#   -n CONNS     connections per run (default 10000)
#   -r RATE      connections per second of the paced runs (default 1000)
#   --quick      1000 connections (a fast check)
#   --no-mptcpd  skip the mptcpd run of B
#   -o FILE      write the JSON results there (default: in the work directory)
#   -k           keep the work directory (binaries, logs) even on success
#   --event-buffer BYTES  passed to `mptcp-pm daemon` (default: the daemon's, 16 MiB)
set -euo pipefail
conns=10000 rate=1000 with_mptcpd=1 out="" keep=0 evbuf=""
while [ $# -gt 0 ]; do
	case $1 in
	-n) conns=${2:-}; shift ;;
	-r) rate=${2:-}; shift ;;
	-o) out=${2:-}; shift ;;
	--quick) conns=1000 ;;
	--no-mptcpd) with_mptcpd=0 ;;
	-k) keep=1 ;;
	--event-buffer) evbuf=${2:-}; shift ;;
	*) sed -n '2,35p' "$0"; exit 2 ;;
	esac
	shift
done
case $conns in '' | *[!0-9]* | 0) echo "bench-scale: -n wants a number of connections, got '$conns'" >&2; exit 1 ;; esac
case $rate in '' | *[!0-9]* | 0) echo "bench-scale: -r wants a rate in connections per second, got '$rate'" >&2; exit 1 ;; esac
case $evbuf in *[!0-9]*) echo "bench-scale: --event-buffer wants a number of bytes, got '$evbuf'" >&2; exit 1 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-scale: needs root (network namespaces)" >&2; exit 1; }
for c in ip jq go; do command -v $c >/dev/null || { echo "bench-scale: '$c' not found" >&2; exit 1; }; done
MPTCPD=/usr/libexec/mptcpd
if [ "$with_mptcpd" = 1 ] && [ ! -x "$MPTCPD" ]; then
	echo "bench-scale: $MPTCPD not found (apt-get install mptcpd mptcpd-plugins, or --no-mptcpd)" >&2
	exit 1
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ -n "$out" ]; then out=$(realpath -m "$out"); fi

P=bscale-$$
CLI=$P-cli SRV=$P-srv
PORT=5301
SRV_ADDR=10.0.3.2 SRV_ADDR2=10.0.4.2
W=$(mktemp -d /tmp/bench-scale.XXXXXX)
BIN=$W/bin
[ -n "$out" ] || out=$W/bench-scale.json
PIDS=()
FAILS=()
# "No growth after the close": tolerances over the idle daemon's figures.
HEAP_TOL_MIB=4 RSS_TOL_MIB=16

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	"$ROOT/scripts/testbed.sh" down "$P" >/dev/null 2>&1 || true
	if [ "$rc" -ne 0 ] || [ "$keep" = 1 ]; then
		echo "bench-scale: logs and binaries kept in $W" >&2
	else
		# Keep the results and logs; drop the binaries.
		rm -rf "$BIN"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { ip netns exec "$@"; }

# start NAME CMD...: run CMD in the background, its output in $W/NAME.out
# and .err; sets PID (with `ip netns exec` the pid is the command's: ip
# execs it).
start() {
	local name=$1
	shift
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	PID=$!
	PIDS+=("$PID")
}

# stop PID [SIGNAL]: signal it and wait for it (up to 20 s, then KILL).
stop() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# Forget it, so that the cleanup never signals a reused pid.
	local keep_pids=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep_pids+=("$p"); done
	PIDS=("${keep_pids[@]+"${keep_pids[@]}"}")
}

# wait_line FILE REGEX SECONDS PID: until FILE has a line matching REGEX.
wait_line() {
	local f=$1 re=$2 t=$3 pid=$4 i
	for ((i = 0; i < t * 10; i++)); do
		grep -q -- "$re" "$f" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { grep -q -- "$re" "$f" 2>/dev/null && return 0; return 1; }
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID: utime+stime in clock ticks (fields 14, 15 of stat, after comm).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# kib PID FIELD: VmRSS / VmHWM in KiB.
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

# mib NS: the MPTcpExt counters of NS as a JSON object.
mib() {
	nsx "$1" cat /proc/net/netstat | awk '/^MPTcpExt:/ { if (!h) { split($0, n); h = 1 } else { split($0, v) } }
		END { printf "{"; for (i = 2; i in n; i++) printf "%s\"%s\":%s", (i > 2 ? "," : ""), n[i], v[i]; print "}" }'
}

status() { "$BIN/mptcp-pm" -j status --brief --control "$1"; }

# wait_status CTL: until the daemon answers (10 s).
wait_status() {
	local i
	for ((i = 0; i < 100; i++)); do
		status "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# procstat PID: cpu ticks, RSS and HWM as JSON.
procstat() {
	printf '{"cpu_ticks":%s,"rss_kib":%s,"hwm_kib":%s}\n' "$(cpu_ticks "$1")" "$(kib "$1" VmRSS)" "$(kib "$1" VmHWM)"
}

fail() {
	FAILS+=("$*")
	log "TARGET MISSED: $*"
}

# ---------------------------------------------------------------- set-up
log "building into $BIN"
mkdir -p "$BIN"
go build -o "$BIN/" ./cmd/mptcp-pm ./tests/cmd/mptcp-load ./tests/cmd/mptcp-evlat

log "testbed $P"
scripts/testbed.sh up "$P" >/dev/null
# 10,000 connections x 2 subflows: ports, backlog, descriptors (the load
# tools raise their own RLIMIT_NOFILE), and the server's PM limits.
nsx "$CLI" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
nsx "$SRV" sysctl -q -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
for ns in "$CLI" "$SRV"; do
	nsx "$ns" sysctl -q -w net.ipv4.tcp_fin_timeout=5
done
# The server accepts joins with the in-kernel PM in A (subflows limit).
nsx "$SRV" sysctl -q -w net.mptcp.pm_type=0
nsx "$SRV" ip mptcp limits set subflows 8 add_addr_accepted 8
if [ "$(cat /proc/sys/fs/file-max)" -lt $((conns * 8)) ]; then
	sysctl -q -w fs.file-max=$((conns * 8))
fi

SERVER_PID=""
start_server() {
	[ -z "$SERVER_PID" ] || stop "$SERVER_PID"
	start server ip netns exec "$SRV" "$BIN/mptcp-load" server -listen "0.0.0.0:$PORT"
	SERVER_PID=$PID
	wait_line "$W/server.out" '^listening' 10 "$PID" || { echo "bench-scale: the load server did not start: $(cat "$W/server.err")" >&2; exit 1; }
}

# load NAME RATE: start the load client (RATE 0: as fast as it can) and
# wait until every dial is done. Sets LOAD_PID.
load() {
	local name=$1 r=$2
	start "$name-client" ip netns exec "$CLI" "$BIN/mptcp-load" client -connect "$SRV_ADDR:$PORT" -n "$conns" -rate "$r" \
		-inflight 256 -hold until-signal -json
	LOAD_PID=$PID
	local t=$((conns / (r > 0 ? r : 1000) + 60))
	wait_line "$W/$name-client.err" '^opened' "$t" "$LOAD_PID" || { echo "bench-scale: $name: the load client failed: $(tail -3 "$W/$name-client.err")" >&2; exit 1; }
	log "$name: $(grep '^opened' "$W/$name-client.err")"
}

# opened NAME: MPTCP connections the client opened (from its stderr line).
opened() { awk '/^opened/ {print $4}' "$W/$1-client.err"; }

# ---------------------------------------------------------------- A
mkdir -p "$W/a/policies.d"
cat >"$W/a/config.yaml" <<EOF
policy_dir: policies.d
log_level: warn
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: interactive
EOF
"$BIN/mptcp-pm" policy check "$W/a/config.yaml" >/dev/null

start_server
RUNS_A=()
# run_a NAME RATE
run_a() {
	local name=$1 r=$2 ctl=$W/$1.sock pid
	log "A $name: mptcp-pm (client, interactive), $conns connections at ${r/#0/max} conn/s"
	start "$name-daemon" "$BIN/mptcp-pm" -n "$CLI" daemon -c "$W/a/config.yaml" --set-pm-type --log-level warn --control "$ctl" ${evbuf:+--event-buffer "$evbuf"}
	pid=$PID
	wait_status "$ctl" || { echo "bench-scale: the daemon did not start: $(cat "$W/$name-daemon.err")" >&2; exit 1; }
	sleep 1
	status "$ctl" >"$W/$name-status-idle.json"
	procstat "$pid" >"$W/$name-proc-idle.json"
	mib "$CLI" >"$W/$name-mib-cli-0.json"

	start "$name-evlat" "$BIN/mptcp-evlat" -client "$CLI" -json
	local ev=$PID
	wait_line "$W/$name-evlat.err" '^ready' 10 "$ev" || { echo "bench-scale: mptcp-evlat: $(cat "$W/$name-evlat.err")" >&2; exit 1; }
	load "$name" "$r"
	local want base
	want=$(opened "$name")
	base=$(jq .MPJoinSynAckRx "$W/$name-mib-cli-0.json")
	# Until the client has completed as many joins as it has connections
	# (the kernel's MPJoinSynAckRx, not the daemon's view, which may be
	# wrong), or nothing moves for 5 s; sock_diag then counts them.
	local last=-1 since=$SECONDS got=0
	while :; do
		got=$(($(mib "$CLI" | jq .MPJoinSynAckRx) - base))
		[ "$got" -ge "$want" ] && break
		if [ "$got" != "$last" ]; then since=$SECONDS last=$got; fi
		[ $((SECONDS - since)) -ge 5 ] && { log "A $name: the client completed $got joins for $want connections"; break; }
		sleep 0.1
	done
	sleep 0.5
	procstat "$pid" >"$W/$name-proc-peak.json"
	status "$ctl" >"$W/$name-status-peak.json"
	"$BIN/mptcp-pm" -n "$CLI" -j connection show >"$W/$name-conns.json"
	jq '{connections: length, with_2_subflows: [.[] | select((.subflows | length) == 2)] | length,
		subflows: ([.[] | .subflows | length] | add // 0)}' "$W/$name-conns.json" >"$W/$name-diag.json"
	log "A $name: at the peak: $(jq -c . "$W/$name-diag.json") (sock_diag)"
	stop "$LOAD_PID" USR1
	stop "$ev"
	# After the close: until the daemon has no connection left (30 s), then
	# 5 s more. The heap in use counts garbage until the next GC, and an
	# idle daemon allocates too little to trigger one before the runtime's
	# forced GC (every 2 minutes): so if the heap is not yet back within
	# the tolerance, wait for it up to 125 s more, and report how long the
	# daemon took to settle.
	local closed=$SECONDS i
	for ((i = 0; i < 300; i++)); do
		[ "$(status "$ctl" | jq .connection_count)" = 0 ] && break
		sleep 0.1
	done
	sleep 5
	local idle_heap
	idle_heap=$(jq .runtime.heap_inuse_bytes "$W/$name-status-idle.json")
	while :; do
		status "$ctl" >"$W/$name-status-after.json"
		jq -e --argjson idle "$idle_heap" --argjson tol $((HEAP_TOL_MIB << 20)) \
			'.runtime.heap_inuse_bytes <= $idle + $tol' "$W/$name-status-after.json" >/dev/null && break
		[ $((SECONDS - closed)) -ge 130 ] && break
		sleep 1
	done
	local settled=$((SECONDS - closed))
	procstat "$pid" >"$W/$name-proc-after.json"
	stop "$pid"
	jq -n --arg name "$name" --argjson rate "$r" --argjson hz "$HZ" --argjson settled "$settled" \
		--slurpfile client "$W/$name-client.out" --slurpfile ev "$W/$name-evlat.out" \
		--slurpfile si "$W/$name-status-idle.json" --slurpfile sp "$W/$name-status-peak.json" --slurpfile sa "$W/$name-status-after.json" \
		--slurpfile pi "$W/$name-proc-idle.json" --slurpfile pp "$W/$name-proc-peak.json" --slurpfile pa "$W/$name-proc-after.json" \
		--slurpfile diag "$W/$name-diag.json" --arg warnings "$(grep -c 'level=WARN' "$W/$name-daemon.err" || true)" \
		--arg errors "$(grep -c 'level=ERROR' "$W/$name-daemon.err" || true)" '
		def mib: . / 1048576 | . * 100 | round / 100;
		($client[0]) as $c | ($ev[0]) as $e | ($sp[0]) as $p |
		{name: $name, target_rate: $rate, client: $c, evlat: $e,
		 connections: $c.mptcp, served: $e.served, served_per_s: $e.served_per_s,
		 latency: $p.latency, commands: $p.commands, refused: $p.refused, resyncs: $sa[0].resyncs,
		 cpu_us_per_conn: ((($pp[0].cpu_ticks - $pi[0].cpu_ticks) / $hz * 1e6) / ([$c.mptcp, 1] | max) | round),
		 cpu_us_per_conn_with_close: ((($pa[0].cpu_ticks - $pi[0].cpu_ticks) / $hz * 1e6) / ([$c.mptcp, 1] | max) | round),
		 rss_mib: {idle: ($pi[0].rss_kib * 1024 | mib), peak: ($pp[0].rss_kib * 1024 | mib), after: ($pa[0].rss_kib * 1024 | mib),
		           hwm: ($pa[0].hwm_kib * 1024 | mib)},
		 goroutines: {idle: $si[0].runtime.goroutines, peak: $p.runtime.goroutines, after: $sa[0].runtime.goroutines},
		 heap_inuse_mib: {idle: ($si[0].runtime.heap_inuse_bytes | mib), peak: ($p.runtime.heap_inuse_bytes | mib),
		                  after: ($sa[0].runtime.heap_inuse_bytes | mib)},
		 heap_objects: {idle: $si[0].runtime.heap_objects, peak: $p.runtime.heap_objects, after: $sa[0].runtime.heap_objects},
		 daemon_connections: {peak: $p.connection_count, after: $sa[0].connection_count},
		 after_close_s: $settled,
		 daemon_subflows: {peak: $p.subflow_count, after: $sa[0].subflow_count},
		 sock_diag: $diag[0], daemon_log: {warnings: ($warnings | tonumber), errors: ($errors | tonumber)}}' >"$W/$name.json"
	RUNS_A+=("$W/$name.json")
}

check_a() {
	local f=$1 name r
	name=$(jq -r .name "$f")
	r=$(jq .target_rate "$f")
	jq -e '.sock_diag.with_2_subflows == .connections and .connections > 0' "$f" >/dev/null ||
		fail "A $name: $(jq -r '"\(.sock_diag.with_2_subflows) of \(.connections)"' "$f") connections have 2 subflows at the peak (sock_diag)"
	if [ "$r" = 1000 ]; then
		jq -e '.latency.p99_us < 1000' "$f" >/dev/null ||
			fail "A $name: p99 event-to-command $(jq .latency.p99_us "$f") µs at 1000 conn/s (target < 1000 µs)"
	fi
	if [ "$conns" -ge 10000 ]; then
		jq -e '.rss_mib.peak < 40' "$f" >/dev/null ||
			fail "A $name: RSS $(jq .rss_mib.peak "$f") MiB at $conns connections (target < 40 MiB)"
	fi
	jq -e '.daemon_connections.after == 0' "$f" >/dev/null ||
		fail "A $name: the daemon still holds $(jq .daemon_connections.after "$f") connections after all closed"
	jq -e '.goroutines.after <= .goroutines.idle' "$f" >/dev/null ||
		fail "A $name: goroutines $(jq -r '"\(.goroutines.idle) idle, \(.goroutines.after) after the close"' "$f")"
	jq -e --argjson tol "$HEAP_TOL_MIB" '.heap_inuse_mib.after <= .heap_inuse_mib.idle + $tol' "$f" >/dev/null ||
		fail "A $name: heap in use $(jq -r '"\(.heap_inuse_mib.idle) MiB idle, \(.heap_inuse_mib.after) MiB \(.after_close_s) s after the close"' "$f") (tolerance $HEAP_TOL_MIB MiB)"
	jq -e --argjson tol "$RSS_TOL_MIB" '.rss_mib.after <= .rss_mib.idle + $tol' "$f" >/dev/null ||
		fail "A $name: RSS $(jq -r '"\(.rss_mib.idle) MiB idle, \(.rss_mib.after) MiB \(.after_close_s) s after the close"' "$f") (tolerance $RSS_TOL_MIB MiB)"
}

run_a "a-paced" "$rate"
run_a "a-max" 0

# ---------------------------------------------------------------- B
log "B: server-side announce; client on the in-kernel PM (add_addr_accepted 1, subflows 1)"
nsx "$CLI" sysctl -q -w net.mptcp.pm_type=0
nsx "$CLI" ip mptcp endpoint flush
nsx "$CLI" ip mptcp limits set add_addr_accepted 1 subflows 1
nsx "$SRV" sysctl -q -w net.mptcp.pm_type=1
nsx "$SRV" ip mptcp endpoint flush
start_server # a listener created under pm_type=1
mkdir -p "$W/b/policies.d"
cat >"$W/b/config.yaml" <<EOF
policy_dir: policies.d
log_level: warn
default:
  mode: single
EOF
cat >"$W/b/policies.d/bench.yaml" <<EOF
name: bench
match: { ports: [$PORT] }
mode: single
announce: [$SRV_ADDR2]
EOF
"$BIN/mptcp-pm" policy check "$W/b/config.yaml" "$W/b/policies.d/bench.yaml" >/dev/null

RUNS_B=()
# run_b NAME: the server's PM is mptcpd or mptcp-pm.
run_b() {
	local name=$1 pm=$2 pid ctl=$W/$1.sock
	log "B $name: $pm on the server, $conns connections at $rate conn/s"
	if [ "$pm" = mptcpd ]; then
		start "$name-daemon" ip netns exec "$SRV" $MPTCPD --path-manager=sspi --load-plugins=sspi \
			--notify-flags=existing,skip_link_local,skip_loopback --log=stderr
		pid=$PID
		wait_line "$W/$name-daemon.err" 'path manager initialized' 10 "$pid" ||
			{ echo "bench-scale: mptcpd did not start: $(cat "$W/$name-daemon.err")" >&2; exit 1; }
	else
		start "$name-daemon" "$BIN/mptcp-pm" -n "$SRV" daemon -c "$W/b/config.yaml" --set-pm-type --log-level warn --control "$ctl" ${evbuf:+--event-buffer "$evbuf"}
		pid=$PID
		wait_status "$ctl" || { echo "bench-scale: the daemon did not start: $(cat "$W/$name-daemon.err")" >&2; exit 1; }
	fi
	sleep 1
	procstat "$pid" >"$W/$name-proc-idle.json"
	mib "$SRV" >"$W/$name-mib-srv-0.json"
	mib "$CLI" >"$W/$name-mib-cli-0.json"
	start "$name-evlat" "$BIN/mptcp-evlat" -client "$CLI" -server "$SRV" -json
	local ev=$PID
	wait_line "$W/$name-evlat.err" '^ready' 10 "$ev" || { echo "bench-scale: mptcp-evlat: $(cat "$W/$name-evlat.err")" >&2; exit 1; }
	load "$name" "$rate"
	local want base last=-1 since=$SECONDS got=0
	want=$(opened "$name")
	base=$(jq .MPJoinAckRx "$W/$name-mib-srv-0.json")
	# Until every connection has been joined (the server's MPJoinAckRx),
	# or nothing moves for 5 s.
	while :; do
		got=$(($(mib "$SRV" | jq .MPJoinAckRx) - base))
		[ "$got" -ge "$want" ] && break
		if [ "$got" != "$last" ]; then since=$SECONDS last=$got; fi
		[ $((SECONDS - since)) -ge 5 ] && { log "B $name: $got of $want connections joined"; break; }
		sleep 0.1
	done
	procstat "$pid" >"$W/$name-proc-peak.json"
	mib "$SRV" >"$W/$name-mib-srv-1.json"
	mib "$CLI" >"$W/$name-mib-cli-1.json"
	if [ "$pm" = mptcp-pm ]; then status "$ctl" >"$W/$name-status-peak.json"; else echo null >"$W/$name-status-peak.json"; fi
	stop "$LOAD_PID" USR1
	stop "$ev"
	sleep 2
	procstat "$pid" >"$W/$name-proc-after.json"
	stop "$pid"
	# What the daemon logged, most frequent lines first (timestamps and
	# tokens folded).
	sed -E 's/^time=[^ ]+ //; s/token [0-9a-f]{8}/token X/g' "$W/$name-daemon.err" | sort | uniq -c | sort -rn | head -5 |
		jq -R -s 'split("\n") | map(select(length > 0) | sub("^ +"; ""))' >"$W/$name-log.json"
	jq -n --arg name "$name" --arg pm "$pm" --argjson hz "$HZ" \
		--slurpfile client "$W/$name-client.out" --slurpfile ev "$W/$name-evlat.out" --slurpfile st "$W/$name-status-peak.json" \
		--slurpfile pi "$W/$name-proc-idle.json" --slurpfile pp "$W/$name-proc-peak.json" --slurpfile pa "$W/$name-proc-after.json" \
		--slurpfile s0 "$W/$name-mib-srv-0.json" --slurpfile s1 "$W/$name-mib-srv-1.json" \
		--slurpfile c0 "$W/$name-mib-cli-0.json" --slurpfile c1 "$W/$name-mib-cli-1.json" --slurpfile lg "$W/$name-log.json" '
		def mib: . / 1048576 | . * 100 | round / 100;
		($client[0]) as $c | ($ev[0]) as $e |
		{name: $name, pm: $pm, client: $c, evlat: $e, connections: $c.mptcp,
		 announced: $e.announced, joined: $e.served,
		 server_est_to_announced: $e.server_est_to_announced, server_est_to_sub: $e.server_est_to_sub,
		 kernel: {server_add_addr_tx: ($s1[0].AddAddrTx - $s0[0].AddAddrTx), client_add_addr_rx: ($c1[0].AddAddr - $c0[0].AddAddr),
		          server_join_ack_rx: ($s1[0].MPJoinAckRx - $s0[0].MPJoinAckRx)},
		 cpu_us_per_conn: ((($pp[0].cpu_ticks - $pi[0].cpu_ticks) / $hz * 1e6) / ([$c.mptcp, 1] | max) | round),
		 rss_mib: {idle: ($pi[0].rss_kib * 1024 | mib), peak: ($pp[0].rss_kib * 1024 | mib), after: ($pa[0].rss_kib * 1024 | mib),
		           hwm: ($pa[0].hwm_kib * 1024 | mib)},
		 daemon_status: (if $st[0] then {latency: $st[0].latency, commands: $st[0].commands, refused: $st[0].refused,
		                 runtime: $st[0].runtime} else null end),
		 daemon_log: $lg[0],
		 did_the_job: ($e.announced > 0)}' >"$W/$name.json"
	RUNS_B+=("$W/$name.json")
}

if [ "$with_mptcpd" = 1 ]; then run_b b-mptcpd mptcpd; fi
run_b b-mptcp-pm mptcp-pm

# ---------------------------------------------------------------- report
for f in "${RUNS_A[@]}"; do check_a "$f"; done
jq -e '.announced == .connections and .joined == .connections' "$W/b-mptcp-pm.json" >/dev/null ||
	fail "B mptcp-pm: $(jq -r '"\(.announced) announced, \(.joined) joined of \(.connections)"' "$W/b-mptcp-pm.json")"

ratio='null'
mptcpd_note=""
if [ "$with_mptcpd" = 1 ]; then
	if jq -e .did_the_job "$W/b-mptcpd.json" >/dev/null; then
		ratio=$(jq -n --slurpfile a "$W/b-mptcp-pm.json" --slurpfile b "$W/b-mptcpd.json" '
			def r(x; y): if y == 0 or y == null then null else (x / y * 1000 | round / 1000) end;
			{est_to_announced_p50: r($a[0].server_est_to_announced.p50_us; $b[0].server_est_to_announced.p50_us),
			 est_to_announced_p99: r($a[0].server_est_to_announced.p99_us; $b[0].server_est_to_announced.p99_us),
			 est_to_sub_p50: r($a[0].server_est_to_sub.p50_us; $b[0].server_est_to_sub.p50_us),
			 est_to_sub_p99: r($a[0].server_est_to_sub.p99_us; $b[0].server_est_to_sub.p99_us),
			 cpu_per_conn: r($a[0].cpu_us_per_conn; $b[0].cpu_us_per_conn),
			 rss_peak: r($a[0].rss_mib.peak; $b[0].rss_mib.peak)}')
	else
		mptcpd_note=$(jq -r '"mptcpd 0.12 (sspi) did not do the job: \(.announced) of \(.connections) connections got an ADD_ADDR (kernel: server AddAddrTx \(.kernel.server_add_addr_tx), client AddAddr \(.kernel.client_add_addr_rx), joins \(.kernel.server_join_ack_rx)); its log: \(.daemon_log | join(" | "))"' "$W/b-mptcpd.json")
	fi
fi

b_files=("$W/b-mptcp-pm.json")
if [ "$with_mptcpd" = 1 ]; then b_files=("$W/b-mptcpd.json" "$W/b-mptcp-pm.json"); fi
jq -n --argjson conns "$conns" --argjson rate "$rate" --arg kernel "$(uname -r)" --arg note "$mptcpd_note" \
	--argjson ratio "$ratio" \
	--slurpfile a1 "${RUNS_A[0]}" --slurpfile a2 "${RUNS_A[1]}" \
	--slurpfile b <(jq -s . "${b_files[@]}") \
	--arg fails "$(printf '%s\n' "${FAILS[@]+"${FAILS[@]}"}")" \
	'{benchmark: "scale", kernel: $kernel, connections: $conns, rate: $rate, date: (now | todate),
	  client_pm: [$a1[0], $a2[0]], server_announce: $b[0], ratio_mptcp_pm_over_mptcpd: $ratio,
	  mptcpd_note: (if $note == "" then null else $note end),
	  targets_missed: ($fails | split("\n") | map(select(length > 0)))}' >"$out"

# The summary.
echo
echo "scale benchmark: $conns connections, Linux $(uname -r), $(nproc) cores"
echo
echo "A. mptcp-pm on the client (interactive: a second subflow per connection)"
printf '%-22s %12s %12s\n' "" "$(jq -r '"\(.target_rate) conn/s"' "${RUNS_A[0]}")" "max rate"
row() { printf '%-22s %12s %12s\n' "$1" "$(jq -r "$2" "${RUNS_A[0]}")" "$(jq -r "$2" "${RUNS_A[1]}")"; }
row "opened (conn/s)" '"\(.connections) (\(.client.rate | round))"'
row "failed dials" '.client.failed'
row "dial p50/p99 ms" '"\(.client.dial_p50_ms)/\(.client.dial_p99_ms)"'
row "ev→cmd p50 µs" '.latency.p50_us'
row "ev→cmd p99 µs" '.latency.p99_us'
row "ev→cmd max µs" '.latency.max_us'
row "ev→cmd count" '.latency.count'
row "est→sub p50/p99 µs" '"\(.evlat.est_to_sub.p50_us | round)/\(.evlat.est_to_sub.p99_us | round)"'
row "served (conn/s)" '"\(.served) (\(.served_per_s | round))"'
row "2 subflows (diag)" '"\(.sock_diag.with_2_subflows)/\(.sock_diag.connections)"'
row "CPU µs/conn" '.cpu_us_per_conn'
row "CPU µs/conn w/ close" '.cpu_us_per_conn_with_close'
row "RSS MiB idle/peak" '"\(.rss_mib.idle)/\(.rss_mib.peak)"'
row "RSS MiB after/HWM" '"\(.rss_mib.after)/\(.rss_mib.hwm)"'
row "goroutines i/p/a" '"\(.goroutines.idle)/\(.goroutines.peak)/\(.goroutines.after)"'
row "heap MiB i/p/a" '"\(.heap_inuse_mib.idle)/\(.heap_inuse_mib.peak)/\(.heap_inuse_mib.after)"'
row "conns held after" '.daemon_connections.after'
row "settled after (s)" '.after_close_s'
row "commands/refused" '"\(.commands)/\(.refused)"'
row "resyncs" '.resyncs'
row "evlat overflows" '.evlat.client.overflows'
echo
echo "B. Server announces $SRV_ADDR2 to each connection, client (kernel PM) joins it; $rate conn/s"
printf '%-22s' ""
for f in "${b_files[@]}"; do printf ' %14s' "$(jq -r .pm "$f")"; done
printf ' %10s\n' "ratio"
brow() {
	local f
	printf '%-22s' "$1"
	for f in "${b_files[@]}"; do printf ' %14s' "$(jq -r "$2" "$f")"; done
	printf ' %10s\n' "$(jq -rn --argjson r "$ratio" "\$r${3:-.none} // \"-\"")"
}
brow "connections" '.connections'
brow "announced" '.announced'
brow "joined" '.joined'
brow "est→ADD_ADDR p50 µs" 'if .server_est_to_announced.count > 0 then .server_est_to_announced.p50_us | round else "-" end' .est_to_announced_p50
brow "est→ADD_ADDR p99 µs" 'if .server_est_to_announced.count > 0 then .server_est_to_announced.p99_us | round else "-" end' .est_to_announced_p99
brow "est→join p50 µs" 'if .server_est_to_sub.count > 0 then .server_est_to_sub.p50_us | round else "-" end' .est_to_sub_p50
brow "est→join p99 µs" 'if .server_est_to_sub.count > 0 then .server_est_to_sub.p99_us | round else "-" end' .est_to_sub_p99
brow "CPU µs/conn" '.cpu_us_per_conn' .cpu_per_conn
brow "RSS MiB idle/peak" '"\(.rss_mib.idle)/\(.rss_mib.peak)"' .rss_peak
brow "server AddAddrTx" '.kernel.server_add_addr_tx'
brow "daemon ev→cmd p50 µs" '.daemon_status.latency.p50_us // "-"'
brow "daemon ev→cmd p99 µs" '.daemon_status.latency.p99_us // "-"'
brow "evlat overflows" '.evlat.client.overflows + .evlat.server.overflows'
[ -z "$mptcpd_note" ] || { echo; echo "$mptcpd_note"; }
echo
echo "results: $out"
if [ ${#FAILS[@]} -gt 0 ]; then
	echo
	echo "targets missed:"
	printf '  %s\n' "${FAILS[@]}"
	exit 1
fi
echo "all targets met"
