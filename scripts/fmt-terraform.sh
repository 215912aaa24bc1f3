#!/usr/bin/env bash
# make fmt, the Terraform half: `terraform fmt -recursive` on each Terraform folder of the repository that
# exists (examples/ today; modules/ and blueprints/ once they do), with the terraform install-terraform.sh
# gives (the one on PATH, else the cache's). Fails when terraform fmt does, so a file it cannot parse shows.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

terraform="$("$REPO_ROOT/scripts/install-terraform.sh")"
if ! terraform_at_least "$terraform" 1 8; then
  echo "make fmt: $terraform is $(first_line "$terraform" version); Terraform before 1.8 cannot parse the" \
    "provider-defined function calls in examples/. Put Terraform 1.8 or later on PATH, or name it in TERRAFORM." >&2
  exit 1
fi
cd "$REPO_ROOT"
for dir in examples modules blueprints; do
  if [ -d "$dir" ]; then
    echo "terraform fmt -recursive $dir"
    "$terraform" fmt -recursive "$dir"
  fi
done
