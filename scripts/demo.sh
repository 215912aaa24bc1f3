#!/usr/bin/env bash
# make demo: the seed's kill chain, end to end, against the lab (emulated controller, Azure, EC2 and
# Kubernetes on loopback). It brings up the lab, applies the AWS blueprint's existing-cluster root
# (blueprints/obot-mcp-egress-aws/existing-cluster: gateway, routes, onboarding, tiers 1-3, Obot) through the
# real terraform CLI against the freshly built provider (dev_overrides, no registry), starts a pod for the MCP
# server `healthcare-mcp`, narrates each stage of the attack with what the gateway decided, shows the
# FirewallPolicies and the lab's inventory, destroys, and proves the lab is back at its baseline. Output can be
# piped to a file (`make demo 2>&1 | tee demo.log`). Every step that goes wrong stops the demo with what it
# printed.
#
# The scenario page (`mcp-egress-lab ui`) runs beside the lab for the whole demo and its URL is printed first.
# With KEEP=1 (`make demo KEEP=1`) the demo stops before the destroy and keeps the lab, the applied blueprint
# and the page running, so the kill chain can be played in the browser, until Ctrl-C stops both.
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
lab_dir="$work/lab"
root="$work/blueprints/obot-mcp-egress-aws/existing-cluster"
namespace="obot-mcp"
pod="healthcare-mcp-7f4d9c"
started=$SECONDS
ui_pid=""

cleanup() {
  if [ -n "$ui_pid" ]; then kill "$ui_pid" 2>/dev/null || true; wait "$ui_pid" 2>/dev/null || true; fi
  if [ -f "$lab_dir/lab.env" ]; then "$lab" down --dir "$lab_dir" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT

# fail WHAT OUTPUT: says what failed, with everything it printed, and stops the demo.
fail() {
  printf '%s\n' "$2" >&2
  echo "demo: $1" >&2
  exit 1
}

# stage TITLE: a numbered heading, with the seconds since the start.
stage_no=0
stage() {
  stage_no=$((stage_no + 1))
  printf '\n== %d. %s  [%ds]\n' "$stage_no" "$1" "$((SECONDS - started))"
}

# tf_progress ARGS...: terraform ARGS in the root, one progress line per resource as it completes; the whole
# output kept in $work/tf.log for `fail`.
tf_progress() {
  local code=0
  (cd "$root" && "$terraform" "$@" -no-color >"$work/tf.log" 2>&1) &
  local pid=$! shown=0
  while kill -0 "$pid" 2>/dev/null; do
    shown=$(show_new_lines "$shown")
    sleep 0.3
  done
  wait "$pid" || code=$?
  show_new_lines "$shown" >/dev/null
  return "$code"
}

# show_new_lines N: prints (to stderr) the resources completed in tf.log after its first N lines; echoes the
# new line count.
show_new_lines() {
  local total
  total=$(wc -l <"$work/tf.log")
  if [ "$total" -gt "$1" ]; then
    sed -n "$(($1 + 1)),${total}p" "$work/tf.log" |
      sed -n -E -e 's/^(module\.[a-z0-9_]+\.)?([a-z0-9_]+\.[a-z0-9_]+(\[[^]]*\])?): Creation complete after ([0-9a-z]+).*/   created   \1\2 (\4)/p' \
        -e 's/^(module\.[a-z0-9_]+\.)?([a-z0-9_]+\.[a-z0-9_]+(\[[^]]*\])?): Destruction complete after ([0-9a-z]+).*/   destroyed \1\2 (\4)/p' >&2
  fi
  echo "$total"
}

lab_up() {
  stage "the lab: an Aviatrix controller, EC2, ARM and a Kubernetes API on loopback (mcp-egress-lab up)"
  "$lab" up --dir "$lab_dir" | sed 's/^/   /'
  set -a
  # shellcheck disable=SC1091
  source "$lab_dir/lab.env"
  set +a
  cat >"$work/terraform.rc" <<RC
provider_installation {
  dev_overrides {
    "mcp-egress/aviatrix" = "$provider_dir"
  }
  direct {}
}
RC
  export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
}

# start_page: the scenario page on a free loopback port; it prints its URL on its first line.
start_page() {
  "$lab" ui --dir "$lab_dir" --port "${UI_PORT:-0}" --namespace "$namespace" >"$work/ui.out" 2>"$work/ui.err" &
  ui_pid=$!
  for _ in $(seq 100); do
    grep -q '^scenario page: ' "$work/ui.out" 2>/dev/null && break
    kill -0 "$ui_pid" 2>/dev/null || fail "mcp-egress-lab ui stopped" "$(cat "$work/ui.err")"
    sleep 0.1
  done
  ui_url="$(sed -n 's/^scenario page: //p' "$work/ui.out")"
  [ -n "$ui_url" ] || fail "mcp-egress-lab ui printed no URL" "$(cat "$work/ui.err")"
  echo "   the scenario page: $ui_url"
}

# keep: with KEEP=1, leaves the lab, the blueprint and the page running until Ctrl-C.
keep() {
  echo
  echo "== KEEP=1: the blueprint stays applied; the scenario page: $ui_url"
  echo "   play the kill chain there; the lab is in $lab_dir (. $lab_dir/lab.env to use it)."
  echo "   Ctrl-C stops the page and the lab and removes everything the demo made."
  wait "$ui_pid" || true
}

apply_blueprint() {
  stage "terraform apply: blueprints/obot-mcp-egress-aws/existing-cluster, inputs only from lab.env"
  mkdir -p "$work/blueprints"
  cp -r "$REPO_ROOT/modules" "$work/"
  cp -r "$REPO_ROOT/blueprints/obot-mcp-egress-aws" "$work/blueprints/"
  rm -rf "$root/.terraform" "$root"/terraform.tfstate*
  (cd "$root" && "$terraform" get -no-color >/dev/null 2>&1) || fail "terraform get (the local modules) failed" "$(cd "$root" && "$terraform" get -no-color 2>&1)"
  echo "   $(first_line "$terraform" version); gateway, routes, onboarding, tiers 1 and 3, CRDs, Obot, tier 2:"
  tf_progress apply -auto-approve || fail "terraform apply failed" "$(cat "$work/tf.log")"
  grep -q "Check block assertion failed\|Warning: Check" "$work/tf.log" && fail "a check of the blueprint failed" "$(cat "$work/tf.log")"
  sed -n 's/^Apply complete! /   /p' "$work/tf.log"
  echo "   the blueprint's checks passed: exfil.attacker.io is dropped by tier 3, each server reaches its own domain by tier 2"
  local out
  out="$(cd "$root" && "$terraform" plan -detailed-exitcode -no-color 2>&1)" || fail "the plan after apply is not empty (exit $?)" "$out"
  echo "   a second plan is empty"
}

kill_chain() {
  stage "the dependency is compromised (outside this control)"
  echo "   A poisoned package update lands in the healthcare-mcp server's dependencies. Nothing here can stop"
  echo "   that: supply-chain review and image signing are other controls. What it can reach is ours."

  stage "the server runs: Obot starts healthcare-mcp in $namespace (here: kubectl apply of its pod)"
  kubectl apply -f - >/dev/null <<POD || fail "kubectl apply of the pod failed" ""
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$pod", "namespace": "$namespace", "labels": {"app": "healthcare-mcp"}},
 "spec": {"containers": [{"name": "mcp", "image": "ghcr.io/obot-platform/mcp-images/stdio-wrapper:v0.24.2"}]}}
POD
  # The kubelet stand-in gives the pod an IP within a second or so; until then the field is empty.
  local ip="" deadline=$((SECONDS + 30))
  while [ -z "$ip" ] && [ "$SECONDS" -lt "$deadline" ]; do
    if ! ip="$(kubectl get pod -n "$namespace" "$pod" -o 'jsonpath={.status.podIP}' 2>&1)"; then
      fail "kubectl get pod failed" "$ip"
    fi
    [ -n "$ip" ] || sleep 0.2
  done
  [ -n "$ip" ] || fail "the pod got no IP" "$(kubectl get pod -n "$namespace" "$pod" -o yaml 2>&1)"
  echo "   pod $namespace/$pod is running with IP $ip; it carries the compromised code"

  stage "the server does its job: api.ehr.example.com, permitted by tier 2 (its own FirewallPolicy)"
  local line
  line="$("$lab" attempt --dir "$lab_dir" --pod "$namespace/$pod" --dst api.ehr.example.com:443)" || fail "attempt failed" "$line"
  echo "   $line"
  [[ "$line" == *"action=permit rule=tier2-healthcare-mcp"* ]] || fail "the server's own call was not permitted by tier 2" "$line"

  stage "the payload tries to exfiltrate to exfil.attacker.io: dropped by tier 3 and logged"
  line="$("$lab" attempt --dir "$lab_dir" --pod "$namespace/$pod" --dst exfil.attacker.io:443)" || fail "attempt failed" "$line"
  echo "   $line"
  [[ "$line" == *"action=drop rule=tier3-default-deny"* ]] || fail "the exfiltration was not dropped by tier3-default-deny" "$line"
  echo "   the drop line names the pod, the domain, the port, the rule and the time: what the SIEM receives"
  echo "   (log_export sends the gateway's decisions to your syslog server)"
}

show_state() {
  stage "what an auditor sees: kubectl get firewallpolicy -n $namespace, and the lab's inventory"
  kubectl get firewallpolicy -n "$namespace" 2>&1 | sed 's/^/   /'
  local code=0 out
  out="$("$lab" inventory --dir "$lab_dir" --diff 2>&1)" || code=$?
  [ "$code" = 1 ] || fail "the lab should now hold the blueprint's objects (inventory --diff exit $code)" "$out"
  python3 -c '
import json, sys
d = json.load(sys.stdin)
kinds = {}
for o in d["added"]:
    key = o["system"] + " " + o["kind"]
    kinds[key] = kinds.get(key, 0) + 1
print("   added beyond the baseline: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
print("   changed: " + ", ".join(sorted({c["system"] + " " + c["kind"] for c in d["changed"]})))' <<<"$out"
}

destroy_blueprint() {
  stage "terraform destroy: servers first, then Obot and its namespaces, the policy, the onboarding, routes, gateway"
  tf_progress destroy -auto-approve || fail "terraform destroy failed" "$(cat "$work/tf.log")"
  sed -n 's/^Destroy complete! /   /p' "$work/tf.log"
  local code=0 out
  out="$("$lab" inventory --dir "$lab_dir" --diff 2>&1)" || code=$?
  case "$code" in
    0) echo "   mcp-egress-lab inventory --diff: no differences; the lab is back at its baseline" ;;
    1) fail "the lab holds more than its baseline" "$out" ;;
    *) fail "mcp-egress-lab inventory --diff could not compare (exit $code)" "$out" ;;
  esac
}

lab_up
start_page
apply_blueprint
kill_chain
show_state
if [ "${KEEP:-0}" = 1 ]; then
  keep
  exit 0
fi
destroy_blueprint
printf '\ndemo: done in %ds; the scenario page was at %s (`make demo KEEP=1` keeps it running)\n' "$((SECONDS - started))" "$ui_url"
