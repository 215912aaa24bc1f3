#!/usr/bin/env bash
# Installs the official Python Kubernetes client (from PyPI) into the repository's ignored cache
# (`.cache/python-kubernetes-venv`, or under $MCP_EGRESS_CACHE), once.
#
# The lab's test `kube_python` drives the lab's Kubernetes API with it; `make test` runs this up front.
# Idempotent. The client's major version follows the Kubernetes minor it speaks (34 for 1.34, what the lab
# serves).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"
install_python_venv python-kubernetes-venv "kubernetes==34.1.0"
