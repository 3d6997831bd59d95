#!/bin/sh
# Install the Debian packages pgcoalesce needs to build and test, when missing.
# Used by `make deps` (and so by `make run` / `make test`); nodejs runs the
# Node.js client library's tests (clients/node). Idempotent and
# quiet when everything is already there.
set -eu

PKGS="gcc make pkg-config libpq-dev libev-dev libcjson-dev libreadline-dev postgresql postgresql-contrib python3 groff-base netcat-openbsd nodejs"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "pgcoalesce: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "pgcoalesce: not root and no sudo; install them with: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
