#!/usr/bin/env bash
# make demo: brings up the lab (emulated controller, Azure, EC2 and Kubernetes on loopback), runs
# examples/quickstart and then examples/fabric-aws (apply, empty re-plan, what the lab now holds, destroy)
# through the real terraform CLI against the freshly built provider configured only from the lab's lab.env,
# with no registry and no `terraform init` (dev_overrides in a private CLI configuration), prints what it
# shows, proves the lab holds nothing but its baseline, and stops the lab. Leaves nothing
# behind but the repo's ignored cache. Every step that goes wrong stops the demo with what it printed.
#
# The scenario page (`mcp-egress-lab ui`) runs beside the lab for the whole demo and its URL is printed first.
# With KEEP=1 (`make demo KEEP=1`) the demo then applies examples/containment-aws to namespace obot-mcp and
# keeps the lab and the page running, so the kill chain can be played in the browser, until Ctrl-C stops both.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

terraform="$("$REPO_ROOT/scripts/install-terraform.sh")"
build_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug"
provider_dir="${MCP_EGRESS_PROVIDER_DIR:-$build_dir}"
lab="$build_dir/mcp-egress-lab"
for bin in "$lab" "$provider_dir/terraform-provider-aviatrix"; do
  if [ ! -x "$bin" ]; then
    echo "demo: $bin is missing; build first: cargo build --workspace --bins (make demo does)" >&2
    exit 1
  fi
done
work="$(mktemp -d)"
ui_pid=""
cleanup() {
  if [ -n "$ui_pid" ]; then kill "$ui_pid" 2>/dev/null || true; wait "$ui_pid" 2>/dev/null || true; fi
  if [ -f "$work/lab/lab.env" ]; then "$lab" down --dir "$work/lab" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT

# fail WHAT OUTPUT: says what failed, with everything it printed, and stops the demo.
fail() {
  printf '%s\n' "$2" >&2
  echo "demo: $1" >&2
  exit 1
}

echo "== the lab: mcp-egress-lab up"
"$lab" up --dir "$work/lab"
# The scenario page, on a free loopback port; it prints its URL on its first line.
"$lab" ui --dir "$work/lab" --port "${UI_PORT:-0}" --namespace obot-mcp >"$work/ui.out" 2>"$work/ui.err" &
ui_pid=$!
for _ in $(seq 100); do
  grep -q '^scenario page: ' "$work/ui.out" 2>/dev/null && break
  kill -0 "$ui_pid" 2>/dev/null || fail "mcp-egress-lab ui stopped" "$(cat "$work/ui.err")"
  sleep 0.1
done
ui_url="$(sed -n 's/^scenario page: //p' "$work/ui.out")"
[ -n "$ui_url" ] || fail "mcp-egress-lab ui printed no URL" "$(cat "$work/ui.err")"
echo "== the scenario page: $ui_url"
# The provider reads everything from the environment: `provider "aviatrix" {}` needs no attribute.
set -a
# shellcheck disable=SC1091
source "$work/lab/lab.env"
set +a
echo
cp "$REPO_ROOT/examples/quickstart/main.tf" "$work/"
cat > "$work/terraform.rc" <<RC
provider_installation {
  dev_overrides {
    "mcp-egress/aviatrix" = "$provider_dir"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
tf_version="$(first_line "$terraform" version)" # "Terraform v1.11.4"
if terraform_at_least "$terraform" 1 8; then
  cp "$REPO_ROOT/examples/quickstart/functions.tf" "$work/"
else
  echo "note: $terraform is older than 1.8, which has no provider-defined functions; showing the data source only"
fi
cd "$work"
echo "== examples/quickstart: terraform apply ($tf_version)"
out="$("$terraform" apply -auto-approve -no-color 2>&1)" || fail "terraform apply failed" "$out"
sed -n '/^Apply complete/,$p' <<<"$out"
echo
echo "== a second plan is empty:"
out="$("$terraform" plan -detailed-exitcode -no-color 2>&1)" || fail "the second plan is not empty (exit $?)" "$out"
echo "   no changes (exit 0)"
echo
echo "== a bad entry fails the plan on the exact element:"
sed -i 's/"bücher.example",/"bücher.example",\n    "evil.example.com:443",/' main.tf
grep -q '"evil.example.com:443"' main.tf || fail "could not add the bad entry to main.tf" "$(cat main.tf)"
if out="$("$terraform" plan -no-color 2>&1)"; then fail "the plan passed, but it should refuse evil.example.com:443" "$out"; fi
sed -n '/Error:/,$p' <<<"$out"
echo
echo "== examples/fabric-aws: the gateway, the cluster, the node routes and the masquerade in one apply"
mkdir -p "$work/fabric"
cp "$REPO_ROOT/examples/fabric-aws/main.tf" "$work/fabric/"
cd "$work/fabric"
out="$("$terraform" apply -auto-approve -no-color 2>&1)" || fail "terraform apply of the AWS fabric failed" "$out"
sed -n '/^Apply complete/,$p' <<<"$out"
out="$("$terraform" plan -detailed-exitcode -no-color 2>&1)" || fail "the plan after the fabric apply is not empty (exit $?)" "$out"
echo "   a second plan is empty"
code=0
out="$("$lab" inventory --dir "$work/lab" --diff 2>&1)" || code=$?
[ "$code" = 1 ] || fail "the lab should now hold the fabric (inventory --diff exit $code)" "$out"
added="$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(", ".join(sorted({o["system"] + " " + o["kind"] for o in d["added"]})))' <<<"$out")"
changed="$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(", ".join(sorted({c["system"] + " " + c["kind"] for c in d["changed"]})))' <<<"$out")"
echo "   the lab now holds: $added"
echo "   and changed: $changed"
out="$("$terraform" destroy -auto-approve -no-color 2>&1)" || fail "terraform destroy of the AWS fabric failed" "$out"
sed -n '/^Destroy complete/p' <<<"$out"
cd "$work"
echo
echo "== the lab holds nothing but its baseline (mcp-egress-lab inventory --diff):"
code=0
out="$("$lab" inventory --dir "$work/lab" --diff 2>&1)" || code=$?
case "$code" in
  0) echo "   no differences" ;;
  1) fail "the lab holds more than its baseline" "$out" ;;
  *) fail "mcp-egress-lab inventory --diff could not compare (exit $code)" "$out" ;;
esac

if [ "${KEEP:-0}" != 1 ]; then
  echo
  echo "== the scenario page was at $ui_url; run \`make demo KEEP=1\` to keep it and the lab running"
  exit 0
fi
echo
echo "== KEEP=1: examples/containment-aws applied to namespace obot-mcp, for the page"
python3 - "$work/lab" <<'PY' || fail "could not create namespace obot-mcp in the lab's Kubernetes" ""
import json, re, ssl, sys, urllib.error, urllib.request
lab = sys.argv[1]
config = open(f"{lab}/kubeconfig").read()
server = re.search(r"server:\s*(\S+)", config).group(1)
token = re.search(r"token:\s*(\S+)", config).group(1).strip('"')
body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "obot-mcp"}}).encode()
request = urllib.request.Request(f"{server}/api/v1/namespaces", data=body, method="POST",
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
try:
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=f"{lab}/ca.pem"))
except urllib.error.HTTPError as e:
    if e.code != 409:
        raise
PY
mkdir -p "$work/containment"
cp "$REPO_ROOT/examples/containment-aws/main.tf" "$work/containment/"
cd "$work/containment"
out="$(TF_VAR_mcp_namespace=obot-mcp "$terraform" apply -auto-approve -no-color 2>&1)" \
  || fail "terraform apply of examples/containment-aws failed" "$out"
sed -n '/^Apply complete/p' <<<"$out"
echo
echo "== the scenario page: $ui_url"
echo "   play the kill chain there; the lab is in $work/lab (. $work/lab/lab.env to use it)."
echo "   Ctrl-C stops the page and the lab and removes everything the demo made."
wait "$ui_pid" || true
