#!/usr/bin/env bash
# tests/deploy/test_prometheus.py checks and unit-tests the alert rules with promtool,
# from Debian's `prometheus` package. Installs it with apt when missing and this runs as
# root; otherwise says what to install (the test is then skipped, saying why).
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing Debian's prometheus package for promtool" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus > /dev/null
else
  echo "warning: promtool not found; the rule checks are skipped: apt-get install prometheus" >&2
fi
