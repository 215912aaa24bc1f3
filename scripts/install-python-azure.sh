#!/usr/bin/env bash
# Installs the Azure SDK for Python's identity and network management libraries (from PyPI) into the
# repository's ignored cache (`.cache/python-azure-venv`, or under $MCP_EGRESS_CACHE), once.
#
# The lab's test `lab_azure_python` drives the lab's ARM with them: ClientSecretCredential through the lab's
# authority host, NetworkManagementClient at its default api-version. Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"
install_python_venv python-azure-venv "azure-identity==1.27.0" "azure-mgmt-network==33.1.0"
