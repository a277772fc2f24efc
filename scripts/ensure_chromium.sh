#!/usr/bin/env bash
# Install Debian's Chromium once (the web envs drive it through Playwright; never
# `playwright install`). Never fails the caller: without root or apt the browser tests
# skip locally and fail under CI=true, saying why.
set -uo pipefail
command -v chromium >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ensure_chromium: chromium not installed and cannot install it (need root + apt)." >&2
  exit 0
fi
echo "ensure_chromium: installing chromium (Debian) ..."
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
  >/tmp/mtenvs-apt-chromium.log 2>&1 || echo "ensure_chromium: install failed (see /tmp/mtenvs-apt-chromium.log)." >&2
exit 0
