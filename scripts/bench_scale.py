#!/usr/bin/env python3
"""make bench-scale: `aviatrix_mcp_egress_server` at 10, 100 and 500 servers against the lab, beside
`kubectl apply` plus `kubectl wait` of the same FirewallPolicy objects in the same run.

For each size: terraform apply (which returns only when the controller has reconciled every policy), the empty
re-plan, and destroy; then the baseline: the very objects our apply wrote, applied from one file with kubectl and
waited for with `kubectl wait` until the controller reports each reconciled, then deleted. Prints figures and
ratios; asserts nothing about time (a failed apply or a non-empty re-plan does stop the run).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10,100,500").split(",")]
PARALLELISM = os.environ.get("BENCH_PARALLELISM", "")
NAMESPACE = "bench-mcp"
LAB = os.path.join(REPO, "target", "debug", "mcp-egress-lab")
PROVIDER_DIR = os.environ.get("BENCH_PROVIDER_DIR", os.path.join(REPO, "target", "release"))

SETUP = """
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
variable "eks_cluster_id" { type = string }
resource "aviatrix_mcp_egress_cluster" "k8s" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
"""

SERVERS = """
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
resource "aviatrix_mcp_egress_server" "bench" {
  count     = %d
  namespace = "%s"
  name      = "bench-${count.index}"
  domains   = ["api${count.index}.example.com", "*.cdn.example.com"]
}
"""


def progress(text):
    print(f"bench-scale: {text}", file=sys.stderr, flush=True)


def run(args, env, cwd=None, check=True):
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"bench-scale: {' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def timed(args, env, cwd=None):
    started = time.monotonic()
    done = run(args, env, cwd)
    return time.monotonic() - started, done


def lab_env(lab_dir):
    """The environment after `. lab.env`, as a user's shell has it."""
    dumped = subprocess.run(["bash", "-c", '. "$1" && env -0', "lab-env", os.path.join(lab_dir, "lab.env")],
                            check=True, capture_output=True).stdout
    return dict(entry.split("=", 1) for entry in dumped.decode().split("\0") if "=" in entry)


def workspace(root, name, config, env):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write(config)
    rc = os.path.join(d, "terraform.rc")
    with open(rc, "w") as f:
        f.write(f'provider_installation {{\n  dev_overrides {{\n    "mcp-egress/aviatrix" = "{PROVIDER_DIR}"\n  }}\n  direct {{}}\n}}\n')
    env = dict(env, TF_CLI_CONFIG_FILE=rc, TF_IN_AUTOMATION="1")
    return d, env


def baseline_objects(env, count):
    """The FirewallPolicies our apply wrote, stripped to what a user would commit to git."""
    listed = json.loads(run(["kubectl", "get", "firewallpolicy", "-n", NAMESPACE, "-o", "json"], env).stdout)
    items = []
    for item in listed["items"]:
        meta = item["metadata"]
        items.append({
            "apiVersion": item["apiVersion"], "kind": item["kind"],
            "metadata": {"name": "kubectl-" + meta["name"], "namespace": NAMESPACE, "labels": {"bench": "kubectl"}},
            "spec": item["spec"],
        })
    if len(items) != count:
        sys.exit(f"bench-scale: expected {count} FirewallPolicies after apply, found {len(items)}")
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main():
    terraform = run([os.path.join(REPO, "scripts", "install-terraform.sh")], os.environ).stdout.strip()
    root = tempfile.mkdtemp(prefix="bench-scale-")
    lab_dir = os.path.join(root, "lab")
    progress(f"starting the lab in {lab_dir}")
    run([LAB, "up", "--dir", lab_dir], os.environ)
    rows = []
    try:
        env = lab_env(lab_dir)
        if not shutil.which("kubectl", path=env["PATH"]):
            sys.exit("bench-scale: kubectl not found; run `make tools`")
        run(["kubectl", "create", "namespace", NAMESPACE], env)
        setup_dir, setup_env = workspace(root, "setup", SETUP, env)
        progress("onboarding the lab's EKS cluster")
        run([terraform, "apply", "-auto-approve", "-input=false"], setup_env, setup_dir)
        extra = [f"-parallelism={PARALLELISM}"] if PARALLELISM else []
        for n in SIZES:
            d, tf_env = workspace(root, f"servers-{n}", SERVERS % (n, NAMESPACE), env)
            progress(f"{n} servers: terraform apply")
            apply_s, _ = timed([terraform, "apply", "-auto-approve", "-input=false"] + extra, tf_env, d)
            progress(f"{n} servers: re-plan")
            plan_s, planned = timed([terraform, "plan", "-detailed-exitcode", "-input=false"] + extra, tf_env, d)
            if planned.returncode != 0:
                sys.exit(f"bench-scale: the re-plan at {n} servers is not empty:\n{planned.stdout[-3000:]}")
            objects = baseline_objects(env, n)
            progress(f"{n} servers: terraform destroy")
            destroy_s, _ = timed([terraform, "destroy", "-auto-approve", "-input=false"] + extra, tf_env, d)
            manifest = os.path.join(root, f"kubectl-{n}.json")
            with open(manifest, "w") as f:
                json.dump(objects, f)
            progress(f"{n} servers: kubectl apply + kubectl wait")
            started = time.monotonic()
            # The lab's API server publishes no OpenAPI document for custom resources, which kubectl's
            # client-side validation would fetch; the API server still checks the objects against the CRD.
            run(["kubectl", "apply", "--validate=false", "-f", manifest], env)
            wait = ["kubectl", "wait", "-n", NAMESPACE, "firewallpolicy", "-l", "bench=kubectl", "--timeout=900s",
                    "--for=jsonpath={.status.lastReconciledGeneration}=1"]
            run(wait, env)
            kubectl_s = time.monotonic() - started
            run(["kubectl", "delete", "-f", manifest, "--wait=true"], env)
            rows.append((n, apply_s, plan_s, destroy_s, kubectl_s))
        progress("taking the cluster off the controller")
        run([terraform, "destroy", "-auto-approve", "-input=false"], setup_env, setup_dir)
        run(["kubectl", "delete", "namespace", NAMESPACE, "--wait=true"], env)
    finally:
        run([LAB, "down", "--dir", lab_dir], os.environ, check=False)

    par = PARALLELISM or "10 (terraform's default)"
    build = os.path.basename(os.path.normpath(PROVIDER_DIR))
    print(f"\naviatrix_mcp_egress_server against the lab ({build} provider build), terraform parallelism {par}; baseline: kubectl apply + kubectl wait of the same objects\n")
    print(f"{'servers':>8} {'apply s':>9} {'per server ms':>14} {'re-plan s':>10} {'destroy s':>10} {'kubectl s':>10} {'apply/kubectl':>14}")
    for n, apply_s, plan_s, destroy_s, kubectl_s in rows:
        print(f"{n:>8} {apply_s:>9.1f} {1000 * apply_s / n:>14.0f} {plan_s:>10.1f} {destroy_s:>10.1f} {kubectl_s:>10.1f} {apply_s / kubectl_s:>13.2f}x")
    print("\nAims at 500: apply within 2x of the kubectl baseline, re-plan under 5 s (figures above; nothing asserted).")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
