#!/usr/bin/env bash
# The memory store's churn model test in full: days of simulated time at
# every TTL, logout rate and token age. The README's test command runs it
# under the race detector, which caps each run at 20,000 steps since the
# test is single-threaded; here it runs without the detector, every step.
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -count=1 -run '^TestMemoryStoreChurn$' -v . | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|logouts' | grep -v '=== RUN'
