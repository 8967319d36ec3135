#!/usr/bin/env bash
# soak.sh - run the mptcp-pm daemon under sustained, realistic churn for a
# long time (default 30 minutes; not for CI) and check that it does not
# degrade (issue 5).
#
# Usage: sudo scripts/soak.sh [-d DURATION] [-o DIR] [-p PREFIX] [-r RATE] [-R RATE] [-a AUDIT] [-k]
#
#   -d DURATION  how long the churn lasts: 30m (default), 2m, 90s, 1h
#   -o DIR       output directory (default: a new /tmp/soak.XXXXXX); it gets
#                samples.jsonl, summary.json, daemon.log and the tools' output
#   -p PREFIX    testbed prefix (default "soak-PID"); must not be in use
#   -r RATE      short connections per second per port (default 3)
#   -R RATE      peer resets per second (port 5405; default 2, 0: none)
#   -a AUDIT     the daemon's --audit-interval (default 5s)
#   -k           keep the built binaries in DIR/bin
#
# Set-up: a testbed of its own (scripts/testbed.sh), the daemon in the client
# namespace (`mptcp-pm -n CLI daemon --set-pm-type`, log level info) with
# four modes: port 5401 handover, 5402 interactive, 5404 single, and the
# default policy (aggregate) for 5403; an MPTCP echo server per port in the
# server namespace (mptcp-stream server, in-kernel PM, subflows 8).
#
# Churn, all in parallel, for DURATION:
#   - one long MPTCP stream per port (mptcp-stream client: a numbered record
#     every 10 ms, echoed, checked for loss and order), plus one from the
#     cellular address to the handover port;
#   - short connections, RATE/s to every port, half from the cellular
#     address: dial, echo 2 KiB (checked), hold 0-2 s, echo again, close
#     (a Go helper built from this script);
#   - peer resets, RATE/s (-R) to port 5405 (default policy): the server
#     reads 1 KiB and closes with SO_LINGER 0 (an MPTCP fastclose/RST),
#     the client keeps its socket open for 0-10 s after the reset (6.18
#     often sends no CLOSED event for these: the daemon's audit must
#     forget them); at the end the client keeps every socket it holds and
#     opens 5 live connections to port 5403;
#   - impairments, one path at a time: cut, blackhole, loss 30, delay 100,
#     each held 4 s and cleared 3 s, on wifi then cell, in a cycle;
#   - a policy change plus `mptcp-pm reload` every 60 s, alternately as
#     SIGHUP; a full `mptcp-pm status` and `connection show` every 5 s.
# Every 10 s a sample goes to samples.jsonl (daemon RSS, CPU time,
# goroutines, heap, connection and subflow counts, commands, refused,
# resyncs, latency, and the kernel's connections by sock_diag).
#
# At the end, with the reset sockets still held, the daemon's view
# (`status -j` tokens) must equal the kernel's (`connection show -j`:
# tokens not in TCP_CLOSE) exactly, within 2 audit intervals + 10 s.
# Checks at the end (exit status 1, each failure named): see CHECKS below
# and scripts/README.md.
# shellcheck disable=SC2016 # $names in single quotes are jq variables
set -euo pipefail

readonly PROG=soak
readonly PORTS=(5401 5402 5403 5404)
readonly RESET_PORT=5405
readonly SRV_ADDR=10.0.3.2 CELL_ADDR=10.0.2.2
readonly SAMPLE_S=10
# Tolerances (see scripts/README.md, "soak.sh"):
readonly GOROUTINE_TOL=2       # end vs idle start
readonly HEAP_FACTOR=1.5 HEAP_SLACK_MIB=4  # end heap_inuse vs warm-up
readonly RSS_FACTOR=1.5 RSS_SLACK_MIB=8    # end RSS vs warm-up
readonly TREND_FACTOR=1.2      # median of the 4th quarter vs the 3rd (+ slack)
readonly REFUSED_PER_CONN=1    # refused commands per short connection, at most

die() {
	echo "$PROG: $*" >&2
	exit 1
}
log() { printf '%s %s: %s\n' "$(date +%T)" "$PROG" "$*" >&2; }
usage() {
	sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

duration=30m out="" prefix="soak-$$" rate=3 resets=2 audit=5s keep=0
while getopts ":d:o:p:r:R:a:kh" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	o) out=$OPTARG ;;
	p) prefix=$OPTARG ;;
	r) rate=$OPTARG ;;
	R) resets=$OPTARG ;;
	a) audit=$OPTARG ;;
	k) keep=1 ;;
	h) usage ;;
	:) die "option -$OPTARG needs an argument" ;;
	*) die "unknown option -$OPTARG (see -h)" ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || die "unexpected argument '$1' (see -h)"

# seconds DURATION: 90, 90s, 2m, 1h, 1h30m -> seconds.
seconds() {
	local d=$1 total=0 n u
	[[ $d =~ ^[0-9]+$ ]] && d=${d}s
	[[ $d =~ ^([0-9]+[hms])+$ ]] || return 1
	while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
		n=$((10#${BASH_REMATCH[1]})) u=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
		case $u in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		esac
	done
	echo "$total"
}
DUR=$(seconds "$duration") || die "invalid -d '$duration' (want e.g. 30m, 2m, 90s, 1h)"
((DUR >= 60)) || die "-d $duration is too short (at least 1m: the checks need 4 quarters of samples)"
[[ $rate =~ ^[1-9][0-9]?$ ]] || die "invalid -r '$rate' (want 1..99 connections per second per port)"
[[ $resets =~ ^[0-9][0-9]?$ ]] || die "invalid -R '$resets' (want 0..99 resets per second)"
AUDIT_S=$(seconds "$audit") || die "invalid -a '$audit' (want e.g. 5s, 1m)"
((AUDIT_S >= 1 && AUDIT_S <= 3600)) || die "invalid -a '$audit' (want 1s..1h)"
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,27}$ ]] || die "invalid -p '$prefix' (1-28 letters, digits or dashes)"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces)"
for c in ip jq go nft awk; do
	command -v "$c" >/dev/null 2>&1 || die "'$c' not found"
done
for ns in "$prefix-cli" "$prefix-rtr" "$prefix-srv"; do
	[[ ! -e /var/run/netns/$ns ]] || die "namespace $ns exists: prefix '$prefix' is in use (pick another with -p)"
done

cd "$(dirname "$0")/.."
ROOT=$PWD
if [[ -n $out ]]; then
	mkdir -p "$out"
	W=$(realpath "$out")
else
	W=$(mktemp -d /tmp/soak.XXXXXX)
fi
BIN=$W/bin
CLI=$prefix-cli SRV=$prefix-srv
CTL=$W/control.sock
SAMPLES=$W/samples.jsonl
SUMMARY=$W/summary.json
HZ=$(getconf CLK_TCK)
# Warm-up: the sample at min(120 s, DUR/4) is the reference for the end.
WARMUP=$((DUR / 4 < 120 ? DUR / 4 : 120))

PIDS=()      # everything we started, killed on exit
DAEMON_PID=""
FAILS=()

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	"$ROOT/scripts/testbed.sh" down "$prefix" >/dev/null 2>&1 || true
	if ((keep == 0)); then rm -rf "$BIN"; fi
	if ((rc != 0)); then
		echo "$PROG: exit $rc; output in $W" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg NAME CMD...: start CMD in the background, stdout in $W/NAME.out, stderr
# in $W/NAME.err; sets PID.
bg() {
	local name=$1
	shift
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	PID=$!
	PIDS+=("$PID")
}

# stop PID [SIGNAL] [SECONDS]: signal PID and wait for it (KILL after
# SECONDS, default 20). Returns PID's exit status.
stop() {
	local pid=$1 sig=${2:-TERM} t=${3:-20} i rc=0
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < t * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s:0:1} != Z ]]
}

fail() {
	FAILS+=("$*")
	log "FAIL: $*"
}

status() { "$BIN/mptcp-pm" -j status --brief --control "$CTL"; }
# mib NS: the MPTcpExt counters of NS as a JSON object.
mib() {
	ip netns exec "$1" cat /proc/net/netstat | awk '/^MPTcpExt:/ { if (!h) { split($0, n); h = 1 } else { split($0, v) } }
		END { printf "{"; for (i = 2; i in n; i++) printf "%s\"%s\":%s", (i > 2 ? "," : ""), n[i], v[i]; print "}" }'
}
kconns() { "$BIN/mptcp-pm" -n "$CLI" -j connection show; }

# ------------------------------------------------------------------ build
log "output in $W; building into $BIN"
mkdir -p "$BIN" "$W/churn" "$W/conf/policies.d"
go build -o "$BIN/" ./cmd/mptcp-pm ./tests/cmd/mptcp-stream ./tests/cmd/mptcp-netem
# impair.sh delay uses it (instead of building its own during the run).
export MPTCP_NETEM=$BIN/mptcp-netem

# The short-connection helper: RATE connections per second to each target,
# each one dial, echo, hold, echo, close; counts per target; prints JSON
# on SIGTERM once the connections in flight are done.
cat >"$W/churn/go.mod" <<'EOF'
module soakchurn

go 1.22
EOF
cat >"$W/churn/main.go" <<'EOF'
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type counts struct {
	Attempts, OK, MPTCP, DialFail, IOError, Corrupt, Skipped atomic.Int64

	mu   sync.Mutex
	errs map[string]int
}

func (c *counts) note(err error) {
	s := err.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s = "timeout"
	} else if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	c.mu.Lock()
	c.errs[s]++
	c.mu.Unlock()
}

func main() {
	targets := flag.String("targets", "", "comma-separated ADDR:PORT list")
	locals := flag.String("locals", ",", "comma-separated local addresses, used in turn (empty: any)")
	rate := flag.Float64("rate", 3, "connections per second per target")
	size := flag.Int("size", 2048, "bytes echoed each time")
	hold := flag.Duration("hold", 2*time.Second, "longest hold between the two echoes")
	timeout := flag.Duration("timeout", 15*time.Second, "deadline of one connection")
	inflight := flag.Int("inflight", 200, "most connections in flight per target")
	resetListen := flag.String("reset-listen", "", "serve peer resets on ADDR:PORT (server side) and nothing else")
	resetTarget := flag.String("reset-target", "", "ADDR:PORT of a reset server; -reset-rate connections per second")
	resetRate := flag.Float64("reset-rate", 0, "connections per second to -reset-target (0: none)")
	live := flag.String("live", "", "with -reset-target: ADDR:PORT of an echo server to hold -live-n connections to once stopped")
	liveN := flag.Int("live-n", 5, "connections to -live")
	flag.Parse()
	if *resetListen != "" {
		resetServer(*resetListen)
		return
	}
	if *resetTarget != "" {
		resetClient(*resetTarget, *resetRate, *live, *liveN)
		return
	}
	ts := strings.Split(*targets, ",")
	ls := strings.Split(*locals, ",")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	all := make([]*counts, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		c := &counts{errs: map[string]int{}}
		all[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, *inflight)
			tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
			defer tick.Stop()
			var cw sync.WaitGroup
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					cw.Wait()
					return
				case <-tick.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					c.Skipped.Add(1)
					continue
				}
				c.Attempts.Add(1)
				local := ls[n%len(ls)]
				cw.Add(1)
				go func() {
					defer cw.Done()
					defer func() { <-sem }()
					one(c, t, local, *size, *hold, *timeout)
				}()
			}
		}()
	}
	wg.Wait()
	type res struct {
		Target   string         `json:"target"`
		Attempts int64          `json:"attempts"`
		OK       int64          `json:"ok"`
		MPTCP    int64          `json:"mptcp"`
		DialFail int64          `json:"dial_failed"`
		IOError  int64          `json:"io_error"`
		Corrupt  int64          `json:"corrupt"`
		Skipped  int64          `json:"skipped"`
		Errors   map[string]int `json:"errors"`
	}
	var out []res
	for i, c := range all {
		out = append(out, res{ts[i], c.Attempts.Load(), c.OK.Load(), c.MPTCP.Load(), c.DialFail.Load(),
			c.IOError.Load(), c.Corrupt.Load(), c.Skipped.Load(), c.errs})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// resetServer accepts MPTCP connections, reads 1 KiB from each and closes
// it with SO_LINGER 0: the peer gets a reset (MP_FASTCLOSE/RST) while it
// still holds its socket.
func resetServer(addr string) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() {
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.ReadFull(conn, make([]byte, 1024))
			time.Sleep(rand.N(500 * time.Millisecond))
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
		}()
	}
}

// resetClient dials target rate times a second, sends 1 KiB, waits for the
// server's reset and keeps the socket open 0-10 s more. On the first
// SIGTERM it stops dialing and closing, opens liveN connections to the
// echo server live (each echoes 2 KiB), prints its counts (JSON, with the
// sockets it holds) and keeps every socket until a second signal.
func resetClient(target string, rate float64, live string, liveN int) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var (
		mu                                   sync.Mutex
		held                                 = map[net.Conn]bool{}
		attempts, dialFail, reset, noReset   int
		stopped                              bool
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-sigs:
			mu.Lock()
			stopped = true
			mu.Unlock()
			var lives []net.Conn
			for i := 0; live != "" && i < liveN; i++ {
				d := net.Dialer{Timeout: 10 * time.Second}
				d.SetMultipathTCP(true)
				conn, err := d.Dial("tcp", live)
				if err != nil {
					continue
				}
				buf := make([]byte, 2048)
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := conn.Write(buf); err == nil {
					if _, err := io.ReadFull(conn, buf); err == nil {
						lives = append(lives, conn)
					}
				}
			}
			time.Sleep(time.Second)
			mu.Lock()
			out, _ := json.Marshal(map[string]int{"attempts": attempts, "dial_failed": dialFail, "reset": reset,
				"no_reset": noReset, "held_at_end": len(held), "live_held": len(lives)})
			mu.Unlock()
			fmt.Println(string(out))
			<-sigs
			return
		case <-tick.C:
		}
		mu.Lock()
		attempts++
		mu.Unlock()
		go func() {
			d := net.Dialer{Timeout: 10 * time.Second}
			d.SetMultipathTCP(true)
			conn, err := d.Dial("tcp", target)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialFail++
				return
			}
			if stopped {
				held[conn] = true
				return
			}
			held[conn] = true
			mu.Unlock()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = conn.Write(make([]byte, 1024))
			_, err = conn.Read(make([]byte, 1))
			time.Sleep(rand.N(10 * time.Second))
			mu.Lock()
			if errors.Is(err, syscall.ECONNRESET) {
				reset++
			} else {
				noReset++
			}
			if !stopped {
				delete(held, conn)
				_ = conn.Close()
			}
		}()
	}
}

func one(c *counts, target, local string, size int, hold, timeout time.Duration) {
	d := net.Dialer{Timeout: timeout}
	d.SetMultipathTCP(true)
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", target)
	if err != nil {
		c.DialFail.Add(1)
		c.note(err)
		return
	}
	defer conn.Close()
	if m, _ := conn.(*net.TCPConn).MultipathTCP(); m {
		c.MPTCP.Add(1)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, size)
	got := make([]byte, size)
	for round := 0; round < 2; round++ {
		for i := range buf {
			buf[i] = byte(rand.Uint32())
		}
		if _, err := conn.Write(buf); err != nil {
			c.IOError.Add(1)
			c.note(err)
			return
		}
		if _, err := io.ReadFull(conn, got); err != nil {
			c.IOError.Add(1)
			c.note(err)
			return
		}
		if !bytes.Equal(buf, got) {
			c.Corrupt.Add(1)
			return
		}
		if round == 0 {
			time.Sleep(rand.N(hold + 1))
		}
	}
	c.OK.Add(1)
}
EOF
(cd "$W/churn" && GOWORK=off GOFLAGS='' go build -o "$BIN/soak-churn" .) || die "building the short-connection helper failed"

# ------------------------------------------------------------------ testbed
log "testbed $prefix (duration ${DUR}s, warm-up ${WARMUP}s, $rate conn/s per port)"
"$ROOT/scripts/testbed.sh" up "$prefix" >/dev/null
ip netns exec "$SRV" sysctl -q -w net.mptcp.pm_type=0
ip -n "$SRV" mptcp limits set subflows 8 add_addr_accepted 8
for ns in "$CLI" "$SRV"; do
	ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_fin_timeout=5
done
# The kernel's MPTCP "firewall blackhole" detection (6.12+) takes the SYNs
# that cut and blackhole drop for a middlebox stripping MPTCP, and then
# opens every new connection as plain TCP for blackhole_timeout (1 hour):
# the churn would no longer be MPTCP. Off in the client.
if [[ -e /proc/sys/net/mptcp/blackhole_timeout ]]; then
	ip netns exec "$CLI" sysctl -q -w net.mptcp.blackhole_timeout=0
fi

# Policies: handover (5401), interactive (5402), single (5404); the
# default is aggregate (5403 and anything else).
cat >"$W/conf/config.yaml" <<EOF
policy_dir: policies.d
log_level: info
interfaces:
  - { name: "wlan*", class: wifi }
  - { name: "wwan*", class: cellular }
default:
  mode: aggregate
EOF
cat >"$W/conf/policies.d/10-voice.yaml" <<EOF
name: voice
match: { ports: [5401] }
mode: handover
paths: { prefer: [wifi], backup: [cellular] }
handover: { hold_down: 2s, rto: 1, loss_percent: 10, rtt_ms: 400 }
EOF
cat >"$W/conf/policies.d/20-chat.yaml" <<EOF
name: chat
match: { ports: [5402] }
mode: interactive
EOF
cat >"$W/conf/policies.d/30-plain.yaml" <<EOF
name: plain
match: { ports: [5404] }
mode: single
EOF
"$BIN/mptcp-pm" policy check "$W/conf/config.yaml" "$W/conf/policies.d/"*.yaml >/dev/null

for port in "${PORTS[@]}"; do
	bg "server-$port" ip netns exec "$SRV" "$BIN/mptcp-stream" server -listen "0.0.0.0:$port"
done
for port in "${PORTS[@]}"; do
	for ((i = 0; i < 50; i++)); do
		grep -q '^listening' "$W/server-$port.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^listening' "$W/server-$port.out" || die "echo server on port $port did not start: $(cat "$W/server-$port.err")"
done
if ((resets > 0)); then
	bg reset-server ip netns exec "$SRV" "$BIN/soak-churn" -reset-listen "0.0.0.0:$RESET_PORT"
	for ((i = 0; i < 50; i++)); do
		grep -q '^listening' "$W/reset-server.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^listening' "$W/reset-server.out" || die "reset server did not start: $(cat "$W/reset-server.err")"
fi

# ------------------------------------------------------------------ daemon
bg daemon "$BIN/mptcp-pm" -n "$CLI" daemon -c "$W/conf/config.yaml" --set-pm-type --control "$CTL" --log-level info --audit-interval "${AUDIT_S}s"
DAEMON_PID=$PID
ln -sf daemon.err "$W/daemon.log"
for ((i = 0; i < 100; i++)); do
	status >/dev/null 2>&1 && break
	alive "$DAEMON_PID" || die "the daemon exited: $(tail -5 "$W/daemon.err")"
	sleep 0.1
done
status >/dev/null 2>&1 || die "the daemon did not answer within 10 s: $(tail -5 "$W/daemon.err")"
sleep 2
status >"$W/status-idle.json"
jq -e --argjson pid "$DAEMON_PID" '.pid == $pid' "$W/status-idle.json" >/dev/null ||
	die "the control socket is served by pid $(jq .pid "$W/status-idle.json"), not by our daemon $DAEMON_PID"
log "daemon pid $DAEMON_PID idle: $(jq -c '{goroutines: .runtime.goroutines, heap_inuse: .runtime.heap_inuse_bytes}' "$W/status-idle.json")"

# ------------------------------------------------------------------ sampler
# sample PHASE: one JSON line on stdout.
sample() {
	local phase=$1 st kc stat rss cpu
	st=$(status 2>/dev/null) || st=null
	kc=$(kconns 2>/dev/null | jq -c '{connections: length, subflows: ([.[].subflows | length] | add // 0)}') || kc=null
	stat=$(cat "/proc/$DAEMON_PID/stat" 2>/dev/null) || stat=""
	if [[ -n $stat ]]; then
		stat=${stat##*) }
		cpu=$(awk -v hz="$HZ" '{printf "%.2f", ($12 + $13) / hz}' <<<"$stat")
		rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo null)
	else
		cpu=null rss=null
	fi
	jq -nc --arg phase "$phase" --argjson t "$(($(date +%s) - T0))" --argjson st "$st" --argjson kc "$kc" \
		--argjson cpu "${cpu:-null}" --argjson rss "${rss:-null}" --argjson alive "$(alive "$DAEMON_PID" && echo true || echo false)" '
		{t: $t, time: (now | todate), phase: $phase, alive: $alive, pid: ($st.pid // null),
		 rss_kib: $rss, cpu_s: $cpu,
		 goroutines: ($st.runtime.goroutines // null), heap_inuse_bytes: ($st.runtime.heap_inuse_bytes // null),
		 heap_objects: ($st.runtime.heap_objects // null),
		 connection_count: ($st.connection_count // null), subflow_count: ($st.subflow_count // null),
		 commands: ($st.commands // null), refused: ($st.refused // null), resyncs: ($st.resyncs // null),
		 latency: ($st.latency // null),
		 kernel_connections: ($kc.connections // null), kernel_subflows: ($kc.subflows // null)}'
}

sampler() {
	trap 'exit 0' TERM
	local next=$T0
	while :; do
		sample churn >>"$SAMPLES" || echo "$(date +%T) sample failed" >&2
		next=$((next + SAMPLE_S))
		while (($(date +%s) < next)); do sleep 0.5; done
	done
}

# impairer: one path at a time, until T0 + DUR - 15 s, then clear all.
impairer() {
	local end=$((T0 + DUR - 15)) path action n=0
	local actions=(cut blackhole "loss 30" "delay 100")
	trap 'exit 0' TERM
	while (($(date +%s) < end)); do
		for path in wifi cell; do
			for action in "${actions[@]}"; do
				(($(date +%s) < end)) || break 2
				# shellcheck disable=SC2086 # "loss 30" is two words
				"$ROOT/scripts/impair.sh" -p "$prefix" "$path" $action >/dev/null 2>&1 ||
					echo "$(date +%T) impair $path $action failed" >&2
				echo "$(date +%T) $path $action" >&2
				sleep 4
				"$ROOT/scripts/impair.sh" -p "$prefix" "$path" clear >/dev/null 2>&1 ||
					echo "$(date +%T) impair $path clear failed" >&2
				n=$((n + 1))
				sleep 3
			done
		done
	done
	"$ROOT/scripts/impair.sh" -p "$prefix" all clear >/dev/null 2>&1 || true
	echo "$(date +%T) done: $n impairments" >&2
	echo "$n"
}

# controller: a policy change and a reload every 60 s (control socket and
# SIGHUP in turn); a full status and a connection show every 5 s.
controller() {
	local end=$((T0 + DUR)) next_reload=$((T0 + 60)) reloads=0 queries=0 qfail=0 hold=2
	trap 'echo "{\"reloads\":$reloads,\"queries\":$queries,\"query_failures\":$qfail}"; exit 0' TERM
	while (($(date +%s) < end)); do
		if (($(date +%s) >= next_reload)); then
			hold=$((hold == 2 ? 3 : 2))
			sed -i "s/hold_down: [0-9]*s/hold_down: ${hold}s/" "$W/conf/policies.d/10-voice.yaml"
			if ((reloads % 2 == 0)); then
				"$BIN/mptcp-pm" reload --control "$CTL" >&2 || echo "$(date +%T) reload failed" >&2
			else
				kill -HUP "$DAEMON_PID" || echo "$(date +%T) SIGHUP failed" >&2
			fi
			reloads=$((reloads + 1))
			echo "$(date +%T) reload $reloads (hold_down ${hold}s)" >&2
			next_reload=$((next_reload + 60))
		fi
		queries=$((queries + 1))
		"$BIN/mptcp-pm" status --control "$CTL" >/dev/null 2>&1 || qfail=$((qfail + 1))
		"$BIN/mptcp-pm" -n "$CLI" connection show >/dev/null 2>&1 || qfail=$((qfail + 1))
		sleep 5
	done
	echo "{\"reloads\":$reloads,\"queries\":$queries,\"query_failures\":$qfail}"
}

# ------------------------------------------------------------------ churn
mib "$CLI" >"$W/mib-start.json"
T0=$(date +%s)
: >"$SAMPLES"
sample idle >>"$SAMPLES"
bg sampler sampler
SAMPLER_PID=$PID

STREAM_PIDS=()
STREAM_NAMES=()
for port in "${PORTS[@]}"; do
	bg "stream-$port" ip netns exec "$CLI" "$BIN/mptcp-stream" client -remote "$SRV_ADDR:$port" -duration "${DUR}s"
	STREAM_PIDS+=("$PID") STREAM_NAMES+=("stream-$port")
done
bg "stream-5401-cell" ip netns exec "$CLI" "$BIN/mptcp-stream" client -local "$CELL_ADDR" -remote "$SRV_ADDR:5401" -duration "${DUR}s"
STREAM_PIDS+=("$PID") STREAM_NAMES+=("stream-5401-cell")

targets=""
for port in "${PORTS[@]}"; do targets+="${targets:+,}$SRV_ADDR:$port"; done
bg churn ip netns exec "$CLI" "$BIN/soak-churn" -targets "$targets" -locals ",$CELL_ADDR" -rate "$rate"
CHURN_PID=$PID
RESET_PID=""
if ((resets > 0)); then
	bg reset-client ip netns exec "$CLI" "$BIN/soak-churn" -reset-target "$SRV_ADDR:$RESET_PORT" -reset-rate "$resets" -live "$SRV_ADDR:5403"
	RESET_PID=$PID
fi
bg impairer impairer
IMPAIR_PID=$PID
bg controller controller
CONTROL_PID=$PID
log "churn running for ${DUR}s: ${#STREAM_PIDS[@]} streams, $rate short conn/s x ${#PORTS[@]} ports, impairments, reloads"

# Wait out the duration, watching the daemon.
died=""
while (($(date +%s) < T0 + DUR)); do
	if ! alive "$DAEMON_PID"; then
		died=$(($(date +%s) - T0))
		fail "the daemon died ${died}s into the run: $(tail -3 "$W/daemon.err" | tr '\n' ' ')"
		break
	fi
	sleep 1
done
[[ -n $died ]] || log "churn done; stopping the traffic"

# ------------------------------------------------------------------ stop
stop "$IMPAIR_PID" TERM 30 || true
"$ROOT/scripts/impair.sh" -p "$prefix" all clear >/dev/null 2>&1 || true
stop "$CONTROL_PID" TERM 10 || true
stop "$CHURN_PID" TERM 45 || fail "the short-connection helper exited with an error: $(tail -3 "$W/churn.err")"
for i in "${!STREAM_PIDS[@]}"; do
	# Each ends by itself after DUR (+ up to 10 s to drain its echoes).
	rc=0
	stop "${STREAM_PIDS[$i]}" CONT 60 || rc=$?
	name=${STREAM_NAMES[$i]}
	if ((rc != 0)) || ! jq -e '.error == null and .sent == .received and .sent > 0 and .mptcp' "$W/$name.out" >/dev/null 2>&1; then
		fail "$name lost or corrupted data (exit $rc): $(cat "$W/$name.out" "$W/$name.err" 2>/dev/null | tail -2 | tr '\n' ' ')"
	fi
done

# The views: with the reset sockets still held (and nothing else opening
# connections), the daemon's tokens must equal the kernel's (not in
# TCP_CLOSE) within 2 audit intervals + 10 s.
dtoks() { "$BIN/mptcp-pm" -j status --control "$CTL" | jq -c '[(.connections // [])[] | select(.server_side | not) | .token] | sort'; }
ktoks() { kconns | jq -c '[.[] | select(.token != "00000000" and .state != "UNCONN") | .token] | sort'; }
views_json=null
if [[ -n $RESET_PID ]]; then
	kill -TERM "$RESET_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		[[ -s $W/reset-client.out ]] && break
		sleep 0.1
	done
	view_start=$(date +%s) equal=false
	while :; do
		dv=$(dtoks 2>/dev/null) || dv=null
		kv=$(ktoks 2>/dev/null) || kv=null
		if [[ $dv != null && $dv == "$kv" ]]; then
			equal=true
			break
		fi
		(($(date +%s) < view_start + 2 * AUDIT_S + 10)) || break
		sleep 1
	done
	held=$(kconns 2>/dev/null | jq --arg p ":$RESET_PORT" '[.[] | select(.remote | endswith($p))] | length') || held=null
	views_json=$(jq -nc --argjson d "$dv" --argjson k "$kv" --argjson eq "$equal" --argjson s "$(($(date +%s) - view_start))" \
		--argjson held "${held:-null}" --argjson rc "$(tail -1 "$W/reset-client.out" 2>/dev/null || echo null)" \
		'{equal: $eq, after_s: $s, daemon: ($d | length), kernel: ($k | length), reset_sockets_held: $held,
		  only_daemon: (($d // []) - ($k // [])), only_kernel: (($k // []) - ($d // [])), reset_client: $rc}') || views_json=null
	log "views: $views_json"
	stop "$RESET_PID" TERM 10 || true
fi

# Settle: until both the daemon and the kernel hold no connection (60 s),
# then 5 s more; the final sample is taken with nothing else running.
log "settling"
settle_start=$(date +%s)
while (($(date +%s) < settle_start + 60)); do
	dc=$(status 2>/dev/null | jq .connection_count) || dc=x
	kc=$(kconns 2>/dev/null | jq length) || kc=x
	[[ $dc == 0 && $kc == 0 ]] && break
	sleep 1
done
sleep 5
stop "$SAMPLER_PID" TERM 5 || true
sample end >>"$SAMPLES"
settled=$(($(date +%s) - settle_start))
mib "$CLI" >"$W/mib-end.json"

# ------------------------------------------------------------------ checks
# CHECKS:
#  1. the daemon is alive, is the same pid, and served every sample;
#  2. every long stream got every record back, in order, over MPTCP; no
#     short connection read back different bytes (corrupt == 0), and each
#     port got short connections through;
#  3. after the settle the daemon's connection_count equals the kernel's
#     (sock_diag) count and both are 0;
#  4. goroutines at the end <= idle start + GOROUTINE_TOL;
#  5. heap_inuse and RSS at the end within FACTOR x warm-up + SLACK;
#  6. no growth over the second half: median of the 4th quarter of the
#     churn samples <= TREND_FACTOR x median of the 3rd + slack, for RSS,
#     heap_inuse, heap_objects and goroutines;
#  7. refused commands: at most REFUSED_PER_CONN per short connection, and
#     their rate in the second half <= 2 x the first half's + 0.5/s;
#  8. no level=ERROR line in the daemon log (none is expected: the only
#     error lines the daemon has are a failed kernel dump and a refused
#     reload, and this run reloads only valid policies).
churn_json=$(cat "$W/churn.out" 2>/dev/null || echo null)
[[ -n $churn_json ]] || churn_json=null
imp=$(tail -1 "$W/impairer.out" 2>/dev/null || echo 0)
[[ $imp =~ ^[0-9]+$ ]] || imp=0
ctl_json=$(tail -1 "$W/controller.out" 2>/dev/null || echo null)
jq -e . >/dev/null 2>&1 <<<"$ctl_json" || ctl_json=null
errors_json=$({ grep 'level=ERROR' "$W/daemon.err" || true; } | sed -E 's/^time=[^ ]+ //; s/token [0-9a-f]{8}/token X/g' | sort | uniq -c | sort -rn |
	jq -R -s 'split("\n") | map(select(length > 0) | sub("^ +"; ""))')
warn_json=$({ grep 'level=WARN' "$W/daemon.err" || true; } | sed -E 's/^time=[^ ]+ //; s/token=[0-9a-f]+/token=X/g; s/token [0-9a-f]{8}/token X/g; s/id [0-9]+/id N/g; s/(local|remote|addr)=[^ ]+/\1=X/g' |
	sort | uniq -c | sort -rn | awk 'NR <= 10' | jq -R -s 'split("\n") | map(select(length > 0) | sub("^ +"; ""))')
streams_json=$(for n in "${STREAM_NAMES[@]}"; do
	jq -c --arg n "$n" '. + {name: $n}' "$W/$n.out" 2>/dev/null || jq -nc --arg n "$n" '{name: $n, error: "no result"}'
done | jq -s .)

jq -n --slurpfile s "$SAMPLES" --argjson dur "$DUR" --argjson warm "$WARMUP" --argjson pid "$DAEMON_PID" \
	--argjson churn "$churn_json" --argjson streams "$streams_json" --argjson imp "$imp" --argjson ctl "$ctl_json" \
	--argjson errors "$errors_json" --argjson warns "$warn_json" --argjson settled "$settled" --argjson views "$views_json" \
	--argjson gtol "$GOROUTINE_TOL" --argjson hf "$HEAP_FACTOR" --argjson hs "$HEAP_SLACK_MIB" \
	--argjson rf "$RSS_FACTOR" --argjson rs "$RSS_SLACK_MIB" --argjson tf "$TREND_FACTOR" \
	--slurpfile m0 "$W/mib-start.json" --slurpfile m1 "$W/mib-end.json" \
	--argjson rpc "$REFUSED_PER_CONN" --arg kernel "$(uname -r)" --arg prefix "$prefix" '
	def median: sort | if length == 0 then null else .[(length / 2 | floor)] end;
	def mib: if . == null then null else . / 1048576 * 100 | round / 100 end;
	($s | map(select(.phase == "churn" and .t <= $dur and .goroutines != null))) as $c |
	($s | map(select(.phase == "idle")) | .[0]) as $idle |
	($s | map(select(.phase == "end")) | .[0]) as $fin |
	($c | map(select(.t >= $warm)) | .[0]) as $w |
	($c | map(select(.t >= $dur / 2 and .t < $dur * 3 / 4))) as $q3 |
	($c | map(select(.t >= $dur * 3 / 4))) as $q4 |
	($c | map(select(.t < $dur / 2))) as $h1 |
	($c | map(select(.t >= $dur / 2))) as $h2 |
	def rate(a): if (a | length) < 2 then 0 else ((a[-1].refused - a[0].refused) / ((a[-1].t - a[0].t) | if . == 0 then 1 else . end)) end;
	def trend(f; slack): {q3: ($q3 | map(f) | median), q4: ($q4 | map(f) | median)} |
		. + {ok: (.q3 != null and .q4 != null and .q4 <= $tf * .q3 + slack)};
	($churn // []) as $ch |
	{soak: {duration_s: $dur, warmup_s: $warm, kernel: $kernel, prefix: $prefix, date: (now | todate), samples: ($s | length),
	        settle_s: $settled},
	 daemon: {pid: $pid, alive_at_end: $fin.alive, same_pid: ([$s[] | select(.pid != null) | .pid] | all(. == $pid)),
	          unanswered_samples: ([$s[] | select(.goroutines == null)] | length),
	          cpu_s: $fin.cpu_s, cpu_ms_per_s: (if $fin.cpu_s == null then null else ($fin.cpu_s - ($idle.cpu_s // 0)) / $dur * 1000 | round end)},
	 figures: {
	   goroutines: {idle: $idle.goroutines, warmup: $w.goroutines, max: ($c | map(.goroutines) | max), end: $fin.goroutines},
	   heap_inuse_mib: {idle: ($idle.heap_inuse_bytes | mib), warmup: ($w.heap_inuse_bytes | mib),
	                    max: ($c | map(.heap_inuse_bytes) | max | mib), end: ($fin.heap_inuse_bytes | mib)},
	   heap_objects: {idle: $idle.heap_objects, warmup: $w.heap_objects, max: ($c | map(.heap_objects) | max), end: $fin.heap_objects},
	   rss_mib: {idle: ($idle.rss_kib * 1024 | mib), warmup: ($w.rss_kib * 1024 | mib), max: ($c | map(.rss_kib) | max * 1024 | mib),
	             end: ($fin.rss_kib * 1024 | mib)},
	   connections: {max_daemon: ($c | map(.connection_count) | max), max_kernel: ($c | map(.kernel_connections // 0) | max),
	                 max_subflows: ($c | map(.subflow_count) | max),
	                 end_daemon: $fin.connection_count, end_kernel: $fin.kernel_connections,
	                 end_daemon_subflows: $fin.subflow_count, end_kernel_subflows: $fin.kernel_subflows},
	   commands: $fin.commands, refused: $fin.refused, resyncs: $fin.resyncs,
	   refused_per_s: {first_half: (rate($h1) * 1000 | round / 1000), second_half: (rate($h2) * 1000 | round / 1000)},
	   latency_end: $fin.latency},
	 trend_q3_q4: {rss_kib: trend(.rss_kib; 2048), heap_inuse_bytes: trend(.heap_inuse_bytes; 1048576),
	               heap_objects: trend(.heap_objects; 5000), goroutines: trend(.goroutines; 5)},
	 short_connections: {per_port: $ch,
	   attempts: ($ch | map(.attempts) | add), ok: ($ch | map(.ok) | add), mptcp: ($ch | map(.mptcp) | add),
	   dial_failed: ($ch | map(.dial_failed) | add), io_error: ($ch | map(.io_error) | add),
	   corrupt: ($ch | map(.corrupt) | add)},
	 streams: $streams, impairments: $imp, control: $ctl, peer_resets: $views,
	 client_mptcp_mib: ([$m1[0] | to_entries[] | select(.key | test("^(MPCapableSYNTX|MPCapableSYNTXDrop|MPCapableSYNTXDisabled|MPCapableFallbackSYNACK|Blackhole|MPJoinSynTx|MPJoinSynAckRx|MPJoinSynTxBindErr|MPJoinSynTxConnectErr|RmAddrTx|MPFastcloseTx|MPRstTx|MPFailTx)$")) |
	                    {key, value: (.value - ($m0[0][.key] // 0))}] | from_entries),
	 daemon_log: {error_lines: $errors, top_warnings: $warns},
	 tolerances: {goroutines: $gtol, heap: "\($hf) x warm-up + \($hs) MiB", rss: "\($rf) x warm-up + \($rs) MiB",
	              trend: "q4 median <= \($tf) x q3 median + slack (RSS 2 MiB, heap 1 MiB, 5000 objects, 5 goroutines)",
	              refused: "<= \($rpc) per short connection; 2nd-half rate <= 2 x 1st-half + 0.5/s"}}' >"$SUMMARY.tmp"

S=$SUMMARY.tmp
q() { jq -r "$1" "$S"; }
qe() { jq -e "$@" "$S" >/dev/null; }

qe '.daemon.alive_at_end == true' || fail "the daemon is not alive at the end"
qe '.daemon.same_pid' || fail "the daemon's pid changed during the run (restarted)"
qe '.daemon.unanswered_samples == 0' || fail "$(q .daemon.unanswered_samples) samples got no status answer from the daemon"
qe '.short_connections.corrupt == 0' || fail "$(q .short_connections.corrupt) short connections read back different bytes"
qe '.short_connections.mptcp >= 0.8 * .short_connections.ok' ||
	fail "only $(q .short_connections.mptcp) of $(q .short_connections.ok) short connections were MPTCP (want >= 80%): the churn did not exercise the daemon (client MPTcpExt: $(jq -c .client_mptcp_mib "$S"))"
qe '(.short_connections.per_port | length) == 4 and (.short_connections.per_port | all(.ok > 0))' ||
	fail "some port got no short connection through: $(q '.short_connections.per_port | map("\(.target) \(.ok)/\(.attempts)") | join(", ")')"
qe '.figures.connections.end_daemon == 0 and .figures.connections.end_kernel == 0' ||
	fail "after ${settled}s of settling the daemon holds $(q .figures.connections.end_daemon) connections, the kernel $(q .figures.connections.end_kernel) (want 0 and 0)"
qe '.figures.connections.end_daemon_subflows == 0' || fail "the daemon still counts $(q .figures.connections.end_daemon_subflows) subflows at the end"
qe --argjson t "$GOROUTINE_TOL" '.figures.goroutines.end <= .figures.goroutines.idle + $t' ||
	fail "goroutines: $(q .figures.goroutines.idle) idle at the start, $(q .figures.goroutines.end) at the end (tolerance +$GOROUTINE_TOL)"
qe --argjson f "$HEAP_FACTOR" --argjson s "$HEAP_SLACK_MIB" '.figures.heap_inuse_mib.end <= $f * .figures.heap_inuse_mib.warmup + $s' ||
	fail "heap in use $(q .figures.heap_inuse_mib.end) MiB at the end, $(q .figures.heap_inuse_mib.warmup) MiB after warm-up (limit ${HEAP_FACTOR}x + ${HEAP_SLACK_MIB} MiB)"
qe --argjson f "$RSS_FACTOR" --argjson s "$RSS_SLACK_MIB" '.figures.rss_mib.end <= $f * .figures.rss_mib.warmup + $s' ||
	fail "RSS $(q .figures.rss_mib.end) MiB at the end, $(q .figures.rss_mib.warmup) MiB after warm-up (limit ${RSS_FACTOR}x + ${RSS_SLACK_MIB} MiB)"
for m in rss_kib heap_inuse_bytes heap_objects goroutines; do
	qe ".trend_q3_q4.$m.ok" || fail "$m grows over the second half: median $(q ".trend_q3_q4.$m.q3") in the 3rd quarter, $(q ".trend_q3_q4.$m.q4") in the 4th"
done
qe --argjson r "$REFUSED_PER_CONN" '.figures.refused <= $r * ([.short_connections.attempts, 1] | max)' ||
	fail "$(q .figures.refused) refused commands for $(q .short_connections.attempts) short connections (limit $REFUSED_PER_CONN each)"
qe '.figures.refused_per_s.second_half <= 2 * .figures.refused_per_s.first_half + 0.5' ||
	fail "refused commands speed up: $(q .figures.refused_per_s.first_half)/s in the first half, $(q .figures.refused_per_s.second_half)/s in the second"
if [[ -n $RESET_PID ]]; then
	qe '.peer_resets.equal == true' ||
		fail "with the reset sockets held, the daemon's view differs from the kernel's: $(jq -c '.peer_resets | {daemon, kernel, only_daemon, only_kernel}' "$S")"
	qe '.peer_resets.reset_client.reset > 0' || fail "no peer reset happened: $(jq -c .peer_resets.reset_client "$S")"
	qe '.peer_resets.reset_client.live_held > 0 and .peer_resets.kernel >= .peer_resets.reset_client.live_held' ||
		fail "the views were compared without live connections: $(jq -c .peer_resets "$S")"
fi
qe '.daemon_log.error_lines | length == 0' || fail "the daemon logged errors: $(q '.daemon_log.error_lines | join(" | ")')"

jq --arg fails "$(printf '%s\n' "${FAILS[@]+"${FAILS[@]}"}")" \
	'. + {failures: ($fails | split("\n") | map(select(length > 0))), pass: ($fails | length == 0)}' "$S" >"$SUMMARY"
rm -f "$S"

# ------------------------------------------------------------------ report
S=$SUMMARY
echo
echo "soak: $(q .soak.duration_s) s on Linux $(q .soak.kernel), daemon pid $(q .daemon.pid), $(q .soak.samples) samples"
printf '  %-26s %s\n' \
	"goroutines idle/warm/max/end" "$(q '.figures.goroutines | "\(.idle)/\(.warmup)/\(.max)/\(.end)"')" \
	"heap MiB idle/warm/max/end" "$(q '.figures.heap_inuse_mib | "\(.idle)/\(.warmup)/\(.max)/\(.end)"')" \
	"heap objects idle/warm/end" "$(q '.figures.heap_objects | "\(.idle)/\(.warmup)/\(.end)"')" \
	"RSS MiB idle/warm/max/end" "$(q '.figures.rss_mib | "\(.idle)/\(.warmup)/\(.max)/\(.end)"')" \
	"CPU s (ms per s)" "$(q '.daemon | "\(.cpu_s) (\(.cpu_ms_per_s))"')" \
	"trend q3->q4 heap MiB" "$(q '.trend_q3_q4.heap_inuse_bytes | "\(.q3 / 1048576 * 100 | round / 100) -> \(.q4 / 1048576 * 100 | round / 100)"')" \
	"trend q3->q4 RSS MiB" "$(q '.trend_q3_q4.rss_kib | "\(.q3 / 1024 * 100 | round / 100) -> \(.q4 / 1024 * 100 | round / 100)"')" \
	"connections max d/k" "$(q '.figures.connections | "\(.max_daemon)/\(.max_kernel) (subflows \(.max_subflows))"')" \
	"connections end d/k" "$(q '"\(.figures.connections.end_daemon)/\(.figures.connections.end_kernel) after \(.soak.settle_s) s settling"')" \
	"commands/refused/resyncs" "$(q '.figures | "\(.commands)/\(.refused)/\(.resyncs)"')" \
	"refused per s h1/h2" "$(q '.figures.refused_per_s | "\(.first_half)/\(.second_half)"')" \
	"latency p50/p99/max us" "$(q '.figures.latency_end | "\(.p50_us)/\(.p99_us)/\(.max_us) (n=\(.count))"')" \
	"short conns ok/attempts" "$(q '.short_connections | "\(.ok)/\(.attempts) (mptcp \(.mptcp), dial failed \(.dial_failed), io error \(.io_error), corrupt \(.corrupt))"')" \
	"streams" "$(q '.streams | map("\(.name) \(.received)/\(.sent) gap \(.max_gap_ms)ms\(if .error then " ERROR " + .error else "" end)") | join("; ")')" \
	"peer resets, views" "$(q '.peer_resets | if . == null then "off" else "\(.reset_client.reset) resets (\(.reset_client.attempts) dialed), views equal: \(.equal) (\(.daemon)/\(.kernel) after \(.after_s) s, \(.reset_sockets_held) reset sockets held)" end')" \
	"impairments, reloads" "$(q '"\(.impairments), \(.control.reloads // "?") (queries \(.control.queries // "?"), failed \(.control.query_failures // "?"))"')" \
	"client MPTcpExt (delta)" "$(jq -c .client_mptcp_mib "$S")" \
	"daemon log errors" "$(q '.daemon_log.error_lines | length')"
echo "  samples: $SAMPLES"
echo "  summary: $SUMMARY"
echo "  daemon log: $W/daemon.err"
if ((${#FAILS[@]} > 0)); then
	echo
	echo "soak FAILED:"
	printf '  %s\n' "${FAILS[@]}"
	exit 1
fi
echo "soak PASSED"
