#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages the test suite needs on top
# of Go: the end-to-end tests build network namespaces (iproute2,
# util-linux, procps), impair paths (nftables, iptables, ethtool), load
# and inspect eBPF programs (clang, llvm, libbpf-dev, bpftool), and run
# mptcpize, curl, ping, groff and the shells of the completion tests; the
# race detector needs cgo (gcc, libc6-dev). scripts/install.sh
# --with-test-deps and .ci/run run it.
#
#   sudo scripts/test-deps.sh
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "test-deps.sh: needs root" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "test-deps.sh: needs apt-get (Debian or Ubuntu)" >&2; exit 1; }
packages=(iproute2 nftables ethtool iputils-ping util-linux procps iptables
	clang llvm libbpf-dev bpftool curl mptcpize groff-base make zsh fish gcc libc6-dev)
echo "== installing the test packages: ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
