#!/usr/bin/env bash
# Installs Debian's headless Chromium and its WebDriver (chromium, chromium-driver) for the scenario page's
# browser test (acceptance-tests/tests/ui_browser.rs). Idempotent: does nothing when both already run.
# Installing needs root (apt-get): as another user it uses `sudo -n` when that works, else it says what to
# run and leaves the rest of `make tools` going; the browser test then skips with that reason (under CI it
# fails instead).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  && chromedriver --version >/dev/null 2>&1; then
  say "chromium and chromedriver already installed: $(first_line chromedriver --version)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get on this machine: install chromium and chromedriver with the system's package manager"
  exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    say "chromium/chromedriver are missing and installing them needs root: sudo bash $0"
    say "the scenario page's browser test skips until then"
    exit 0
  fi
fi
say "installing chromium and chromium-driver with apt-get (first use only)"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
say "installed: $(first_line chromedriver --version)"
