#!/usr/bin/env bash
# Handover benchmark: mptcp-pm in handover mode against the kernel's own
# path manager with a backup (and an active) cellular endpoint, on the
# same testbed, in one run. A voice-like stream (100-byte record every
# 10 ms, echoed) starts on Wi-Fi; at 3 s the Wi-Fi path is cut (or
# blackholed); the figure is the longest gap between two echoes, median of
# RUNS runs per path manager, and its ratio to the kernel PM with a backup
# endpoint. -i takes a comma-separated list of impairments, each run in
# turn: cut (link down), blackhole (every packet dropped, link up), loss
# (30% random drop each way).
#
#   sudo scripts/bench-handover.sh [-n RUNS] [-i cut,blackhole,loss] [-o results.json]
set -euo pipefail
runs=5 impair=cut out=""
while getopts "n:i:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	i) impair=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '2,14p' "$0"; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*) echo "bench-handover: -n wants a number of runs, got '$runs'" >&2; exit 1 ;; esac
for i in ${impair//,/ }; do
	case $i in cut|blackhole|loss) ;; *) echo "bench-handover: -i wants cut, blackhole or loss (comma-separated), got '$i'" >&2; exit 1 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-handover: needs root (network namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/.."
if [ -n "$out" ]; then out=$(realpath -m "$out"); fi
BENCH_RUNS=$runs BENCH_IMPAIR=$impair BENCH_JSON=$out \
	go test -tags bench -count=1 -timeout 30m -run '^TestBenchHandover$' ./tests/ -v 2>&1 |
	tee /tmp/bench-handover.log | sed -n '/^handover benchmark/,/^[^ ]*--- /p' | grep -v -- '^---\|^=== \|^PASS\|^ok'
grep -q "^--- FAIL\|^FAIL" /tmp/bench-handover.log && { echo "bench-handover: the benchmark itself failed, see /tmp/bench-handover.log" >&2; exit 1; }
exit 0
