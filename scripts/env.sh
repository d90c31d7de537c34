#!/usr/bin/env bash
# Create (once) and activate the project's virtual environment. Source this file:
#     source scripts/env.sh
#
# The environment is cached outside the clone, keyed by the hash of the pinned constraints
# (.ci/constraints.txt) and the Python version, so CI and developers reuse it until the pins
# change. Override the cache folder with STABLEMOTION_CACHE, the interpreter with PYTHON.
# When you add a dependency to pyproject.toml, pin it in .ci/constraints.txt too.
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_py="${PYTHON:-python3}"
_cache="${STABLEMOTION_CACHE:-$HOME/.cache/stablemotion-dlc}"
_key="$( (cat "$_root/.ci/constraints.txt"; "$_py" -c 'import sys; print(sys.version)') \
        | sha256sum | cut -c1-16)"
VENV="$_cache/venv-$_key"
_log="$_cache/pip-$_key.log"
mkdir -p "$_cache"
_pip() {  # quiet pip; show its log only when it fails
  "$VENV/bin/python" -m pip "$@" >"$_log" 2>&1 || { tail -n 60 "$_log" >&2; return 1; }
}
if [ ! -f "$VENV/.complete" ]; then
  echo "[env] building $VENV (first run: several minutes)" >&2
  rm -rf "$VENV"
  "$_py" -m venv "$VENV"
  _pip install --upgrade "pip<27"
  _pip install -c "$_root/.ci/constraints.txt" -r "$_root/.ci/constraints.txt"
  touch "$VENV/.complete"
fi
# The project itself, editable, from this checkout. Also installs any dependency added to
# pyproject.toml but not pinned yet (fast when nothing changed).
_pip install --no-build-isolation -c "$_root/.ci/constraints.txt" \
    -e "$_root[dlc,napari,smpl,eks,dev]"
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
export HF_HUB_OFFLINE=1
set +euo pipefail
