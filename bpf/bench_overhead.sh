#!/usr/bin/env bash
# Overhead of the eBPF probes on bulk MPTCP throughput (see README.md).
#
# Two namespaces joined by two veth pairs, one MPTCP connection with two
# subflows, the client pinned to CPU 0 and the server to CPU 1 (taskset).
# Each repetition runs the transfer without and with the probes attached,
# alternating which goes first. Needs root, ip(8), taskset and 2 CPUs.
#
#   bpf/bench_overhead.sh [REPS [SECONDS]]     # defaults: 5 reps of 3 s
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/bpf.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -tags bench -c -o "$bin" ./bpf/
BPF_OVERHEAD_REPS="${1:-5}" BPF_OVERHEAD_SECONDS="${2:-3}" \
	"$bin" -test.run '^TestOverhead$' -test.v -test.timeout 10m
