#!/usr/bin/env bash
# Installs boto3, the AWS SDK for Python (from PyPI), into the repository's ignored cache
# (`.cache/boto3-venv`, or under $MCP_EGRESS_CACHE), once.
#
# The lab's test `lab_boto3` drives the lab's EC2 with it, as another real client of EC2 would. Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/python-venv.sh"
install_python_venv boto3-venv "boto3==1.44.5"
