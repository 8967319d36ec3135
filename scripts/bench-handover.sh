#!/usr/bin/env bash
# Handover benchmark: mptcp-pm (handover, handover with warm standby,
# interactive) against the kernel's own path manager with a backup (and an
# active) cellular endpoint, on the same testbed, in one run. Each path
# manager runs RUNS times, interleaved; the medians are reported, with
# every run. -w takes a comma-separated list of workloads:
#   voice     a voice-like stream (100-byte record every 10 ms, echoed)
#             starts on Wi-Fi; at 3 s the Wi-Fi path is impaired (-i);
#             figure: the longest gap between two echoes, and its ratio to
#             the kernel PM with a backup endpoint (the default workload).
#   download  the server sends 20 Mbit/s to the client's Wi-Fi address; at
#             3 s the Wi-Fi path is impaired (-i); the run ends at 8 s;
#             figures: the longest time without data after the break, the
#             goodput from the break +1 s; x: a dead run (the download
#             broke, or no data in its last 2 s).
#   jitter    the same download; from 3 s the Wi-Fi path has RTT +80 ms
#             +-80 ms and 1% loss each way for BENCH_JITTER_SECONDS
#             (default 60); figures: handovers, subflows on cellular,
#             bytes through the client's wwan0, the longest gap.
# -i takes a comma-separated list of impairments (voice and download),
# each run in turn: cut (link down), blackhole (every packet dropped, link
# up), loss (30% random drop each way).
#
#   sudo scripts/bench-handover.sh [-n RUNS] [-w voice,download,jitter] [-i cut,blackhole,loss] [-o results.json]
set -euo pipefail
runs=5 impair=cut workloads=voice out=""
while getopts "n:i:w:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	i) impair=$OPTARG ;;
	w) workloads=$OPTARG ;;
	o) out=$OPTARG ;;
	*) sed -n '2,24p' "$0"; exit 2 ;;
	esac
done
case $runs in ''|*[!0-9]*) echo "bench-handover: -n wants a number of runs, got '$runs'" >&2; exit 1 ;; esac
for i in ${impair//,/ }; do
	case $i in cut|blackhole|loss) ;; *) echo "bench-handover: -i wants cut, blackhole or loss (comma-separated), got '$i'" >&2; exit 1 ;; esac
done
for w in ${workloads//,/ }; do
	case $w in voice|download|jitter) ;; *) echo "bench-handover: -w wants voice, download or jitter (comma-separated), got '$w'" >&2; exit 1 ;; esac
done
jitter_seconds=${BENCH_JITTER_SECONDS:-60}
case $jitter_seconds in ''|*[!0-9]*|0) echo "bench-handover: BENCH_JITTER_SECONDS wants a number of seconds, got '$jitter_seconds'" >&2; exit 1 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench-handover: needs root (network namespaces)" >&2; exit 1; }
cd "$(dirname "$0")/.."
if [ -n "$out" ]; then out=$(realpath -m "$out"); fi
BENCH_RUNS=$runs BENCH_IMPAIR=$impair BENCH_WORKLOADS=$workloads BENCH_JITTER_SECONDS=$jitter_seconds BENCH_JSON=$out \
	go test -tags bench -count=1 -timeout 6h -run '^TestBenchHandover$' ./tests/ -v 2>&1 |
	tee /tmp/bench-handover.log | sed -n '/^handover benchmark/,/^[^ ]*--- /p' | grep -v -- '^---\|^=== \|^PASS\|^ok'
grep -q "^--- FAIL\|^FAIL" /tmp/bench-handover.log && { echo "bench-handover: the benchmark itself failed, see /tmp/bench-handover.log" >&2; exit 1; }
exit 0
