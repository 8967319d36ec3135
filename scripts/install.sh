#!/usr/bin/env bash
# Installs mptcp-pm with "make install" (binary, man page, shell
# completions, default configuration and example policy, systemd unit) and
# starts the daemon on the default configuration: with systemd
# when it runs, otherwise in the background with its log in
# /var/log/mptcp-pm.log. An existing configuration is kept.
#
#   sudo scripts/install.sh            # PREFIX=/usr/local by default
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install.sh: needs root" >&2; exit 1; }
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
prefix=${PREFIX:-/usr/local}
etc=/etc/mptcp-pm

command -v make >/dev/null || {
	echo "== installing make"
	command -v apt-get >/dev/null || { echo "install.sh: needs make" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null
}

echo "== install (make install: binary, man page, completions, unit, configuration)"
# The build directory is a temporary one, so that nothing in the tree ends
# up owned by root.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
make --no-print-directory install PREFIX="$prefix" BUILDDIR="$build"

echo "== configuration"
# As the daemon will load them: its policy_dir, wherever it points.
"$prefix/bin/mptcp-pm" policy check -c "$etc/config.yaml"

echo "== start"
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now mptcp-pm.service
	systemctl restart mptcp-pm.service
else
	if pid=$(pgrep -x -f "$prefix/bin/mptcp-pm daemon -c $etc/config.yaml --set-pm-type"); then
		kill "$pid" && sleep 0.5
	fi
	nohup "$prefix/bin/mptcp-pm" daemon -c "$etc/config.yaml" --set-pm-type >>/var/log/mptcp-pm.log 2>&1 &
	echo "no systemd here: started the daemon in the background (pid $!), log in /var/log/mptcp-pm.log"
fi
for _ in $(seq 50); do
	"$prefix/bin/mptcp-pm" status >/dev/null 2>&1 && break
	sleep 0.1
done
"$prefix/bin/mptcp-pm" status
