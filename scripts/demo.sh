#!/usr/bin/env bash
# make demo: brings up the lab (emulated controller, Azure, EC2 and Kubernetes on loopback), runs
# examples/quickstart through the real terraform CLI against the freshly built provider configured only from
# the lab's lab.env, with no registry and no `terraform init` (dev_overrides in a private CLI configuration),
# prints what it shows, proves the lab holds nothing but its baseline, and stops the lab. Leaves nothing
# behind but the repo's ignored cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

terraform="$("$REPO_ROOT/scripts/install-terraform.sh")"
provider_dir="${MCP_EGRESS_PROVIDER_DIR:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug}"
work="$(mktemp -d)"
lab="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/mcp-egress-lab"
cleanup() {
  [ -f "$work/lab/lab.env" ] && "$lab" down --dir "$work/lab" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
echo "== the lab: mcp-egress-lab up"
"$lab" up --dir "$work/lab"
# The provider reads everything from the environment: `provider "aviatrix" {}` needs no attribute.
set -a
# shellcheck disable=SC1091
source "$work/lab/lab.env"
set +a
echo
cp "$REPO_ROOT/examples/quickstart/main.tf" "$work/"
tf_version="$("$terraform" version 2>/dev/null | head -n1 | sed -E 's/^Terraform v([0-9]+)\.([0-9]+).*/\1 \2/')"
read -r major minor <<<"$tf_version"
if [ "$major" -gt 1 ] || [ "$minor" -ge 8 ]; then
  cp "$REPO_ROOT/examples/quickstart/functions.tf" "$work/"
else
  echo "note: $terraform is older than 1.8, which has no provider-defined functions; showing the data source only"
fi
cat > "$work/terraform.rc" <<RC
provider_installation {
  dev_overrides {
    "mcp-egress/aviatrix" = "$provider_dir"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
cd "$work"
echo "== examples/quickstart: terraform apply (Terraform $("$terraform" version 2>/dev/null | head -n1 | cut -d' ' -f2))"
"$terraform" apply -auto-approve -no-color 2>&1 | sed -n '/^Apply complete/,$p'
echo
echo "== a second plan is empty:"
"$terraform" plan -detailed-exitcode -no-color >/dev/null 2>&1 && echo "   no changes (exit 0)"
echo
echo "== a bad entry fails the plan on the exact element:"
sed -i 's/"bücher.example",/"bücher.example",\n    "evil.example.com:443",/' main.tf
"$terraform" plan -no-color 2>&1 | sed -n '/Error:/,$p' || true
echo
echo "== the lab holds nothing but its baseline (mcp-egress-lab inventory --diff):"
if "$lab" inventory --dir "$work/lab" --diff >/dev/null; then echo "   no differences"; else echo "   differences found"; exit 1; fi
