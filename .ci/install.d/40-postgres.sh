#!/usr/bin/env bash
# pgstore's tests start their own PostgreSQL clusters, and PgBouncers in
# front of them, from Debian's packages, as the postgres OS user
# (pgstore/pgtest); the packaged services are not used.
set -euo pipefail
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ] || ! command -v pgbouncer >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends postgresql pgbouncer >/dev/null
fi
# The packages may start a cluster on port 5432 and a pgbouncer on 6432; the
# tests start their own on free ports.
for svc in postgresql pgbouncer; do
	systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
id postgres
"$(bindir)/postgres" --version
pgbouncer --version | head -n 1
