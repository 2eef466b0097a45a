#!/usr/bin/env bash
# staticcheck on every module of the workspace; any finding fails CI.
# The version is pinned: 2026.2.2 (module v0.8.2) understands Go 1.26.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=v0.8.2
go install "honnef.co/go/tools/cmd/staticcheck@${version}"
bin="$(go env GOBIN)"
staticcheck="${bin:-$(go env GOPATH)/bin}/staticcheck"
"$staticcheck" -version

status=0
for m in $(go list -m -f '{{.Dir}}'); do
	echo "staticcheck: $m"
	(cd "$m" && "$staticcheck" ./...) || status=1
done
exit "$status"
