#!/usr/bin/env bash
# make run-scaled needs HAProxy (Debian's `haproxy` package): installed here when missing
# and this machine can (root with apt-get); otherwise says what to install.
set -euo pipefail
command -v haproxy >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/haproxy ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing haproxy (apt-get)" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  exit 0
fi
echo "error: make run-scaled needs HAProxy: apt-get install haproxy (Debian/Ubuntu), brew install haproxy (macOS)" >&2
exit 1
