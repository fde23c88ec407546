#!/usr/bin/env bash
# Sets up this machine and brings up a one-node Skiff cluster:
#   sudo ./scripts/install.sh [DATA_DIR]
# Installs missing packages, builds bin/skiff, imports the demo httpd image
# (busybox's httpd serving "It works!", so that `image: httpd` runs with no
# registry access), starts `skiff server` in the background (control plane
# and this machine as its node) and waits until both are ready. Logs go to
# DATA_DIR/server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/var/lib/skiff}

./scripts/deps.sh
export PATH=$PATH:/usr/local/go/bin
go build -o bin/skiff ./cmd/skiff

mkdir -p "$data"
if ! bin/skiff image ls --data-dir "$data" | grep -q '^docker.io/library/httpd:latest '; then
	go run ./scripts/demoimage -o "$data/httpd-demo.tar"
	bin/skiff image import --data-dir "$data" "$data/httpd-demo.tar"
	rm -f "$data/httpd-demo.tar"
fi
if [ -f "$data/server.pid" ] && kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
	echo "skiff server already running (pid $(cat "$data/server.pid"))"
else
	nohup bin/skiff server --data-dir "$data" >"$data/server.log" 2>&1 &
	echo $! >"$data/server.pid"
fi
# Ready once the API serves and this machine's node is Ready.
for _ in $(seq 1 60); do
	if grep -q "skiff server ready" "$data/server.log" 2>/dev/null &&
		grep -q 'msg="node ready"' "$data/server.log" 2>/dev/null; then
		echo "Skiff is ready (pid $(cat "$data/server.pid")). To use it:"
		echo "  export KUBECONFIG=$data/kubeconfig.yaml"
		echo "  kubectl get namespaces"
		exit 0
	fi
	if ! kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
		echo "skiff server exited:" >&2
		tail -20 "$data/server.log" >&2
		exit 1
	fi
	sleep 0.5
done
echo "skiff server did not become ready in 30s; see $data/server.log" >&2
exit 1
