#!/usr/bin/env bash
# The browser test drives Debian's Chromium (never a browser download). Installs it with
# apt when missing and this runs as root; otherwise says what to install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium for the browser test" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
else
  echo "error: Chromium is needed for the browser test: apt-get install chromium" >&2
  exit 1
fi
