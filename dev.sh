#!/usr/bin/env bash
# Set up the project's environment (finding a Python >= 3.12 by itself) and run a job.
#   ./dev.sh main   set up, then run the main job: the scenario comparison on the default profile
#   ./dev.sh test   set up, then run the default test suite
#   ./dev.sh setup  set up only
set -euo pipefail
cd "$(dirname "$0")"

ok_python() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local c
  for c in python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1 && ok_python "$c"; then command -v "$c"; return; fi
  done
  # pyenv shims refuse versions that are not selected: look in pyenv's own folders.
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3 \
           "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 \
           /usr/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.13; do
    if [ -x "$c" ] && ok_python "$c"; then echo "$c"; return; fi
  done
  echo "error: no Python >= 3.12 found (tried python3.12, python3.13, python3, pyenv versions)" >&2
  exit 1
}

setup() {
  if [ ! -x .venv/bin/python ] || ! ok_python .venv/bin/python; then
    rm -rf .venv
    "$(find_python)" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  # Reinstall only when the dependency list changed since the last install.
  if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/python -m pip install --quiet -e '.[test]'
    touch .venv/.installed
  fi
}

cmd="${1:-main}"; shift || true
case "$cmd" in
  setup) setup ;;
  main)  setup; exec .venv/bin/handover compare replications=5 executor=processes executor.workers=2 "$@" ;;
  test)  setup; exec .venv/bin/python -m pytest "$@" ;;
  *) echo "usage: ./dev.sh main|test|setup [args...]" >&2; exit 2 ;;
esac
