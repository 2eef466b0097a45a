#!/usr/bin/env bash
# Comparative benchmarks: authix against its peers, in one run.
#
#   bash bench/run.sh                          # every benchmark, 6 samples each
#   bash bench/run.sh -count 2 -bench Decode   # fewer samples, one group
#
# Collects -count samples (6 unless given) of every benchmark with
# -benchmem, in rounds: each round runs every benchmark once, so a burst of
# load on the shared machine spreads over all of them instead of skewing one
# group's ratios. Other arguments go to go test as they are (-bench,
# -benchtime, -cpu ...). The raw output is kept in a temp file (BENCH_OUT=path
# to choose it), summarised by benchstat when it is installed
# (go install golang.org/x/perf/cmd/benchstat@latest), then bench/cmd/ratios
# prints the targets computed from the medians.
# Compare ratios from one run, never absolute times across runs or machines.
# Last, when wrk is installed, bench/e2e.sh measures whole requests over
# loopback in as many rounds.
set -euo pipefail
cd "$(dirname "$0")"

rounds=6
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-count | --count | -test.count | --test.count)
		[ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
		rounds="$2"
		shift 2
		;;
	-count=* | --count=* | -test.count=* | --test.count=*)
		rounds="${1#*=}"
		shift
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: -count must be a positive integer, got '$rounds'" >&2
	exit 2
fi

out="${BENCH_OUT:-$(mktemp "${TMPDIR:-/tmp}/authix-bench.XXXXXX")}"
: >"$out"
for ((i = 1; i <= rounds; i++)); do
	echo "==> round $i of $rounds: go test -run '^\$' -bench . -benchmem -count 1 ${args[*]:-} (raw output: $out)"
	go test -run '^$' -bench . -benchmem -count 1 "${args[@]}" . | tee -a "$out"
done

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ] && [ -x "$(go env GOPATH)/bin/benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
fi
echo
if [ -n "$benchstat" ]; then
	echo "==> benchstat"
	"$benchstat" "$out"
else
	echo "(benchstat not found; go install golang.org/x/perf/cmd/benchstat@latest adds it)"
fi

echo
echo "==> ratios (medians of $rounds rounds; raw output in $out)"
go run ./cmd/ratios <"$out"

echo
if command -v wrk >/dev/null && command -v taskset >/dev/null; then
	echo "==> end to end (bash bench/e2e.sh, $rounds rounds)"
	ROUNDS="$rounds" bash ./e2e.sh | sed -n '/^==> medians/,$p'
else
	echo "(end to end skipped: bash bench/e2e.sh needs wrk and taskset; apt-get install wrk)"
fi
