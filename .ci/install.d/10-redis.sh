#!/usr/bin/env bash
# redisstore's tests start their own redis-server from PATH.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	# The tests start their own servers; the packaged service is not needed.
	systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true
fi
redis-server --version
