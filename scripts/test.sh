#!/usr/bin/env bash
# make test: runs every test of the workspace once, through cargo test, and ends with one summary line:
# "test: N passed, N failed, N skipped". Skips are tests that print "SKIP:" (a tool too old or absent).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
# The cache is a fallback: a terraform already on PATH (newer than the PyPI one) wins.
export PATH="$PATH:$CACHE_BIN"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cd "$REPO_ROOT"
cargo test --workspace --no-fail-fast -- --nocapture 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# cargo counts a skipped test (one that returns early after printing SKIP:) as passed; count it once.
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$log")
skipped=$(awk '/SKIP:/ { n++ } END { print n + 0 }' "$log")
echo
echo "test: $((passed - skipped)) passed, $failed failed, $skipped skipped"
exit "$status"
