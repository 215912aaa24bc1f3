#!/usr/bin/env bash
# Installs moto's EC2 server (from PyPI) into the repository's ignored cache, once.
#
# The lab's `up` runs this on first use; `make test` may run it up front. Idempotent: a venv that already
# holds the pinned version is left alone. The cache is `<repo>/.cache`, or $MCP_EGRESS_CACHE when set.
set -euo pipefail

MOTO_VERSION="5.2.1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MCP_EGRESS_CACHE:-$here/../.cache}"
venv="$cache/moto-venv"

installed() {
    [ -x "$venv/bin/moto_server" ] && [ "$(cat "$venv/.moto-version" 2>/dev/null)" = "$MOTO_VERSION" ]
}
installed && exit 0

# Several labs may start at once on a fresh checkout: one installs, the others wait for it.
mkdir -p "$cache"
exec 9>"$cache/.moto-install.lock"
flock 9
installed && exit 0

echo "mcp-egress-lab: installing moto[server]==$MOTO_VERSION from PyPI into $venv (first use only)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "$MOTO_VERSION" > "$venv/.moto-version"
echo "mcp-egress-lab: moto $MOTO_VERSION installed" >&2
