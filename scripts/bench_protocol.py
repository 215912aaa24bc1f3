#!/usr/bin/env python3
"""make bench-protocol: `terraform plan` over 1,000 data source instances, ours against hashicorp/null 2.1.2 (Go).

In one run, alternating, five times each: plan wall time, then (in separate runs, so the measuring wrapper
does not touch the timed ones) the provider process's peak RSS. Prints medians and the ratios ours/Go.
Prints figures only; asserts nothing about time.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("MCP_EGRESS_CACHE", os.path.join(REPO, ".cache"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
INSTANCES = int(os.environ.get("BENCH_INSTANCES", "1000"))

OURS = f"""
terraform {{
  required_providers {{
    aviatrix = {{ source = "mcp-egress/aviatrix" }}
  }}
}}
data "aviatrix_mcp_egress_domains" "bench" {{
  count   = {INSTANCES}
  domains = ["api${{count.index}}.example.com", "*.cdn.example.com", "registry.npmjs.org"]
}}
"""

GO = f"""
terraform {{
  required_providers {{
    null = {{ source = "hashicorp/null" }}
  }}
}}
data "null_data_source" "bench" {{
  count  = {INSTANCES}
  inputs = {{ name = "api${{count.index}}.example.com", cdn = "*.cdn.example.com", registry = "registry.npmjs.org" }}
}}
"""

# Runs the real provider as a child, with the same stdio, and records its peak RSS (KiB) when it exits.
RSS_EXEC = r"""
import os, signal, subprocess, sys
out, real = sys.argv[1], sys.argv[2]
child = subprocess.Popen([real] + sys.argv[3:])
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: child.send_signal(n))
_, status, usage = os.wait4(child.pid, 0)
with open(out, "a") as f:
    f.write(f"{usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def terraform_bin():
    path = subprocess.run([os.path.join(REPO, "scripts", "install-terraform.sh")], check=True, capture_output=True, text=True).stdout.strip()
    return path


def workspace(root, name, config, source, provider_dir):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write(config)
    with open(os.path.join(d, "terraform.rc"), "w") as f:
        f.write(f'provider_installation {{\n  dev_overrides {{\n    "{source}" = "{provider_dir}"\n  }}\n  direct {{}}\n}}\n')
    return d


def wrapped_dir(root, name, binary, rss_file):
    """A dev_overrides directory whose provider is the real binary under the RSS recorder."""
    d = os.path.join(root, name)
    os.makedirs(d)
    script = os.path.join(root, "rss_exec.py")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(RSS_EXEC)
    wrapper = os.path.join(d, os.path.basename(binary))
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec {sys.executable} {script} {rss_file} {binary} "$@"\n')
    os.chmod(wrapper, 0o755)
    return d


def plan(tf, d):
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.path.join(d, "terraform.rc"), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    env.pop("TF_LOG", None)
    start = time.monotonic()
    r = subprocess.run([tf, "plan", "-input=false", "-no-color", "-parallelism=10"], cwd=d, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"terraform plan failed in {d}:\n{r.stdout}\n{r.stderr}")
    return elapsed


def main():
    tf = terraform_bin()
    ours_bin = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "terraform-provider-aviatrix")
    go_dir = os.path.join(CACHE, "null-provider")
    go_bin = os.path.join(go_dir, "terraform-provider-null")
    for b in (ours_bin, go_bin):
        if not os.path.exists(b):
            sys.exit(f"missing {b}: run `make bench-protocol`, which builds and installs both")
    version = subprocess.run([tf, "version"], capture_output=True, text=True).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory() as root:
        ours_rss, go_rss = os.path.join(root, "ours.rss"), os.path.join(root, "go.rss")
        timed = {
            "ours": workspace(root, "ours", OURS, "mcp-egress/aviatrix", os.path.dirname(ours_bin)),
            "go": workspace(root, "go", GO, "hashicorp/null", go_dir),
        }
        measured = {
            "ours": workspace(root, "ours-rss", OURS, "mcp-egress/aviatrix", wrapped_dir(root, "ours-bin", ours_bin, ours_rss)),
            "go": workspace(root, "go-rss", GO, "hashicorp/null", wrapped_dir(root, "go-bin", go_bin, go_rss)),
        }
        # One warm-up each, so neither side pays for a cold page cache.
        plan(tf, timed["ours"])
        plan(tf, timed["go"])
        times = {"ours": [], "go": []}
        for _ in range(RUNS):
            for side in ("ours", "go"):
                times[side].append(plan(tf, timed[side]))
        rss = {"ours": [], "go": []}
        for _ in range(RUNS):
            for side, path in (("ours", ours_rss), ("go", go_rss)):
                open(path, "w").close()
                plan(tf, measured[side])
                with open(path) as f:
                    rss[side].append(max(int(x) for x in f.read().split()))
    print(f"bench-protocol: terraform plan over {INSTANCES} data source instances, {RUNS} alternating runs each ({version})")
    print(f"{'':>28}  {'ours (Rust)':>14}  {'null 2.1.2 (Go)':>16}  {'ours/Go':>8}")
    mt = {k: statistics.median(v) for k, v in times.items()}
    mr = {k: statistics.median(v) for k, v in rss.items()}
    print(f"{'plan wall time, median (s)':>28}  {mt['ours']:>14.3f}  {mt['go']:>16.3f}  {mt['ours'] / mt['go']:>8.2f}")
    print(f"{'provider peak RSS, median (MiB)':>28}  {mr['ours'] / 1024:>14.1f}  {mr['go'] / 1024:>16.1f}  {mr['ours'] / mr['go']:>8.2f}")
    print("all wall times (s): ours " + " ".join(f"{t:.3f}" for t in times["ours"]) + " | go " + " ".join(f"{t:.3f}" for t in times["go"]))


if __name__ == "__main__":
    main()
