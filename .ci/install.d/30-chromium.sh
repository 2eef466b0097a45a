#!/usr/bin/env bash
# Chromium for the browser test in e2e/ (AUTHIX_REQUIRE_BROWSER=1 in .ci/env
# makes that test fail rather than skip without it). Debian's package.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends chromium
fi
# Debian's wrapper script may print a harmless shell warning on stderr.
chromium --version 2>/dev/null
