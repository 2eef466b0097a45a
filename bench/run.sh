#!/usr/bin/env bash
# Comparative benchmarks: authix against its peers, in one run.
#
#   bash bench/run.sh                       # -bench . -count 6 -benchmem
#   bash bench/run.sh -count 1 -bench Decode  # extra go test flags win
#
# Runs the bench module's benchmarks, keeps the raw output in a temp file
# (BENCH_OUT=path to choose it), summarises it with benchstat when that is
# installed (go install golang.org/x/perf/cmd/benchstat@latest), and prints
# the target ratios computed from the medians by bench/cmd/ratios.
# Compare ratios from one run, never absolute times across runs or machines.
set -euo pipefail
cd "$(dirname "$0")"

out="${BENCH_OUT:-$(mktemp "${TMPDIR:-/tmp}/authix-bench.XXXXXX")}"
echo "==> go test -run '^\$' -bench . -count 6 -benchmem $* (raw output: $out)"
go test -run '^$' -bench . -count 6 -benchmem "$@" . | tee "$out"

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ] && [ -x "$(go env GOPATH)/bin/benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
fi
if [ -n "$benchstat" ]; then
	echo
	echo "==> benchstat"
	"$benchstat" "$out"
else
	echo
	echo "(benchstat not found; go install golang.org/x/perf/cmd/benchstat@latest adds it)"
fi

echo
echo "==> ratios (medians; raw output in $out)"
go run ./cmd/ratios < "$out"
