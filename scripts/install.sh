#!/usr/bin/env bash
# Installs mptcp-pm (binary, default configuration and policies, systemd
# unit) and starts the daemon on the default configuration: with systemd
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

echo "== build"
go build -trimpath -o "$prefix/bin/mptcp-pm" ./cmd/mptcp-pm
echo "installed $prefix/bin/mptcp-pm"

echo "== configuration"
install -d -m 0755 "$etc/policies.d"
if [ -e "$etc/config.yaml" ]; then
	echo "kept $etc/config.yaml"
else
	install -m 0644 policy/defaults/config.yaml "$etc/config.yaml"
	echo "installed $etc/config.yaml"
fi
# Examples are installed under a name the daemon does not read.
for f in policy/defaults/policies.d/*.yaml; do
	dst="$etc/policies.d/$(basename "$f").example"
	[ -e "$dst" ] || { install -m 0644 "$f" "$dst"; echo "installed $dst (an example: not read by the daemon)"; }
done
shopt -s nullglob
"$prefix/bin/mptcp-pm" policy check "$etc/config.yaml" "$etc"/policies.d/*.yaml "$etc"/policies.d/*.yml

echo "== start"
sed "s|/usr/local/bin/mptcp-pm|$prefix/bin/mptcp-pm|" dist/mptcp-pm.service >/etc/systemd/system/mptcp-pm.service 2>/dev/null ||
	echo "no /etc/systemd/system: unit not installed"
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
