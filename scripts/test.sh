#!/usr/bin/env bash
# Runs the whole test suite: unit, integration (in-process servers driven by
# client-go and real kubectl) and the end-to-end tests that need root.
#   sudo ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
export PATH=$PATH:/usr/local/go/bin

gofmt_out=$(gofmt -l cmd internal test 2>/dev/null || true)
if [ -n "$gofmt_out" ]; then
	echo "gofmt needed on:"; echo "$gofmt_out"; exit 1
fi
go vet ./...
go build -o bin/skiff ./cmd/skiff
go test -count=1 -timeout 20m ./...
# Fuzz the request decoder and the patch paths for a few seconds each, on
# top of the seed corpora every go test run replays.
for target in FuzzDecodeBody FuzzPatch; do
	go test -run '^$' -fuzz "^$target\$" -fuzztime 10s ./internal/apiserver/
done
