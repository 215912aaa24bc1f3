#!/usr/bin/env bash
# Installs moto's EC2 server (from PyPI) into the repository's ignored cache (`.cache/moto-venv`, or under
# $MCP_EGRESS_CACHE), once.
#
# The lab's `up` runs this on first use; `make test` may run it up front. Idempotent: a venv that already
# holds the pinned version is left alone, and several labs starting at once on a fresh checkout wait for the
# one that installs.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"
install_python_venv moto-venv "moto[server]==5.2.1"
