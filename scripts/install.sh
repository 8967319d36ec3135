#!/usr/bin/env bash
# Installs mptcp-pm with "make install" (binary, man page, shell
# completions, default configuration and example policy, systemd units, the
# daemon's user) and starts the daemon on the default configuration: with
# systemd when it runs, otherwise in the background with its log in
# /var/log/mptcp-pm.log. An existing configuration is kept. The daemon
# runs as the user mptcp-pm, with only the capabilities it needs.
#
#   sudo scripts/install.sh [--with-test-deps]    # PREFIX=/usr/local by default
#
# --with-test-deps also installs the packages the test suite needs
# (scripts/test-deps.sh), so that the README's test command runs the
# end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
test_deps=no
for a in "$@"; do
	case $a in
	--with-test-deps) test_deps=yes ;;
	*) echo "install.sh: unknown argument \"$a\" (want --with-test-deps)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: needs root" >&2; exit 1; }
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
prefix=${PREFIX:-/usr/local}
etc=/etc/mptcp-pm

if [ "$test_deps" = yes ]; then
	scripts/test-deps.sh
fi
command -v make >/dev/null || {
	echo "== installing make"
	command -v apt-get >/dev/null || { echo "install.sh: needs make" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null
}

echo "== install (make install: binary, man page, completions, units, user, configuration)"
# The build directory is a temporary one, so that nothing in the tree ends
# up owned by root.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
make --no-print-directory install PREFIX="$prefix" BUILDDIR="$build"

echo "== the daemon's user"
if command -v systemd-sysusers >/dev/null; then
	systemd-sysusers /etc/sysusers.d/mptcp-pm.conf
elif ! id mptcp-pm >/dev/null 2>&1; then
	useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin mptcp-pm
fi
id mptcp-pm

echo "== configuration"
# As the daemon will load them: its policy_dir, wherever it points.
"$prefix/bin/mptcp-pm" policy check -c "$etc/config.yaml"

echo "== start"
if [ -d /run/systemd/system ]; then
	# Type=notify: restart returns once the daemon said READY=1, that is
	# once its control socket answers.
	systemctl daemon-reload
	systemctl enable mptcp-pm.service
	systemctl restart mptcp-pm.service
else
	# One started by this script, before or since it ran the daemon as a user.
	if pid=$(pgrep -x -f "$prefix/bin/mptcp-pm daemon -c $etc/config.yaml --set-pm-type( --user mptcp-pm)?"); then
		kill "$pid" && sleep 0.5
	fi
	nohup "$prefix/bin/mptcp-pm" daemon -c "$etc/config.yaml" --set-pm-type --user mptcp-pm >>/var/log/mptcp-pm.log 2>&1 &
	echo "no systemd here: started the daemon in the background (pid $!), log in /var/log/mptcp-pm.log"
	# Without systemd nothing listens for the daemon's READY=1: wait
	# for its control socket to answer.
	for _ in $(seq 50); do
		"$prefix/bin/mptcp-pm" status >/dev/null 2>&1 && break
		sleep 0.1
	done
fi
"$prefix/bin/mptcp-pm" status
