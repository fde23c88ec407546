#!/usr/bin/env bash
# Installs what Skiff needs on a Debian machine, skipping what is present.
# Run as root. Used by scripts/install.sh and scripts/test.sh.
set -euo pipefail

packages=(containerd runc containernetworking-plugins nftables iptables busybox-static etcd-server)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts the packaged daemons; Skiff runs its own.
	for svc in etcd containerd; do
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
		pkill -x "$svc" >/dev/null 2>&1 || true
	done
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || { echo "Go is required (https://go.dev/dl/); install it to /usr/local/go" >&2; exit 1; }
cd "$(dirname "$0")/.."
go mod download
