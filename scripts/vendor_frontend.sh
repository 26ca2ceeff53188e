#!/usr/bin/env bash
# Front-end libraries the gateway serves, vendored at setup from the npm registry:
# `npm ci` of tools/frontend (versions and integrity hashes pinned by its
# package-lock.json), then the built files (and their licences) are copied to
# gateway/static/vendor/, which git ignores. Pages load them from /static/vendor/;
# nothing is fetched from a CDN or at run time. Re-runs only when the lock changed.
#
#   chart.js  the console's dashboard charts (chart.umd.min.js, MIT)
#   axe-core  accessibility checks in the browser tests (axe.min.js, MPL-2.0); copied
#             next to the test-only files, not linked from any page
set -euo pipefail
cd "$(dirname "$0")/.."

tools=tools/frontend
vendor=gateway/static/vendor
stamp=$(sha256sum "$tools/package-lock.json" | cut -c1-16)
if [ -f "$vendor/.installed" ] && [ "$(cat "$vendor/.installed")" = "$stamp" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || {
  echo "error: npm is needed to vendor the console's chart library (apt-get install npm)." >&2
  exit 1
}
echo "[setup] vendoring front-end libraries from $tools (npm ci)"
npm ci --prefix "$tools" --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p "$vendor"
modules=$tools/node_modules
cp "$modules/chart.js/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$modules/chart.js/LICENSE.md" "$vendor/chart.js.LICENSE.md"
cp "$modules/axe-core/axe.min.js" "$vendor/axe.min.js"
cp "$modules/axe-core/LICENSE" "$vendor/axe-core.LICENSE"
echo "$stamp" > "$vendor/.installed"
