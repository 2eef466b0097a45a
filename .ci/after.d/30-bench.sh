#!/usr/bin/env bash
# Runs every benchmark of the root module and of the bench module once, so
# that none of them rots: a benchmark that fails or panics fails CI. One
# iteration each (-benchtime=1x), so the times mean nothing; the numbers
# come from bash bench/run.sh. The bench module builds its million-entry
# revocation stores here too (about 10 s on the CI machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run '^$' -bench . -benchtime=1x -benchmem ./... ./bench/...
