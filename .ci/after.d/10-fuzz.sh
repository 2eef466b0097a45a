#!/usr/bin/env bash
# Bounded fuzzing of the root package: every Fuzz target runs for
# AUTHIX_FUZZTIME (default 30s). A crash fails CI. go test writes the failing
# input to testdata/fuzz/<Target>/; it is printed below so that it can be
# committed there, where every later `go test` replays it.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${AUTHIX_FUZZTIME:-30s}"

targets=$(go test -list '^Fuzz' . | grep '^Fuzz' || true)
if [ -z "$targets" ]; then
	echo "no fuzz targets found in the root package" >&2
	exit 1
fi

failed=""
for t in $targets; do
	echo "--- fuzz $t for $fuzztime"
	before=$(ls "testdata/fuzz/$t" 2>/dev/null || true)
	if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s .; then
		failed="$failed $t"
		for f in testdata/fuzz/"$t"/*; do
			[ -e "$f" ] || continue
			if ! grep -qxF "$(basename "$f")" <<<"$before"; then
				echo "new failing input $f (commit it to keep it):"
				cat "$f"
			fi
		done
	fi
done

if [ -n "$failed" ]; then
	echo "fuzzing failed:$failed" >&2
	exit 1
fi
