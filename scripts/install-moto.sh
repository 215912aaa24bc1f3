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

if [ -x "$venv/bin/moto_server" ] && [ "$(cat "$venv/.moto-version" 2>/dev/null)" = "$MOTO_VERSION" ]; then
    exit 0
fi

echo "mcp-egress-lab: installing moto[server]==$MOTO_VERSION from PyPI into $venv (first use only)" >&2
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "$MOTO_VERSION" > "$venv/.moto-version"
echo "mcp-egress-lab: moto $MOTO_VERSION installed" >&2
