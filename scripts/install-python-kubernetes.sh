#!/usr/bin/env bash
# Installs the official Python Kubernetes client (from PyPI) into the repository's ignored cache, once.
#
# The lab's test `kube_python` drives the lab's Kubernetes API with it; `make test` runs this up front.
# Idempotent: a venv that already holds the pinned version is left alone. The cache is `<repo>/.cache`, or
# $MCP_EGRESS_CACHE when set. The client's major version follows the Kubernetes minor it speaks (34 for 1.34,
# what the lab serves).
set -euo pipefail

CLIENT_VERSION="34.1.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MCP_EGRESS_CACHE:-$here/../.cache}"
venv="$cache/python-kubernetes-venv"

installed() {
    [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.kubernetes-version" 2>/dev/null)" = "$CLIENT_VERSION" ]
}
installed && exit 0

# Tests running in parallel on a fresh checkout: one installs, the others wait for it.
mkdir -p "$cache"
exec 9>"$cache/.python-kubernetes-install.lock"
flock 9
installed && exit 0

echo "mcp-egress-lab: installing kubernetes==$CLIENT_VERSION from PyPI into $venv (first use only)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes==$CLIENT_VERSION"
echo "$CLIENT_VERSION" > "$venv/.kubernetes-version"
echo "mcp-egress-lab: Python kubernetes client $CLIENT_VERSION installed" >&2
