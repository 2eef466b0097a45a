#!/usr/bin/env bash
# Python interop tests (interop_test.go, cmd/authix) need a python3 that can
# import cryptography.fernet. They look for python3 on PATH, then
# /usr/bin/python3; when neither has cryptography, install Debian's
# python3-cryptography, which puts both at /usr/bin/python3.
set -euo pipefail

has_fernet() { "$1" -c 'import cryptography.fernet' >/dev/null 2>&1; }

for py in "$(command -v python3 || true)" /usr/bin/python3; do
	if [ -n "$py" ] && [ -x "$py" ] && has_fernet "$py"; then
		echo "python: $py has cryptography $("$py" -c 'import cryptography; print(cryptography.__version__)')"
		exit 0
	fi
done

echo "python: no python3 with cryptography; installing python3-cryptography"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-cryptography

if ! has_fernet /usr/bin/python3; then
	echo "python: /usr/bin/python3 still cannot import cryptography.fernet" >&2
	exit 1
fi
echo "python: /usr/bin/python3 has cryptography $(/usr/bin/python3 -c 'import cryptography; print(cryptography.__version__)')"
