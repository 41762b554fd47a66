#!/usr/bin/env bash
# Create .venv and install araquote with the given extras (default: train,dev). Idempotent.
# torch is pre-installed as a CPU build: `torch==2.13.0` (a CPU wheel on the project machines). Elsewhere set
# ARAQUOTE_TORCH_INDEX=https://download.pytorch.org/whl/cpu to avoid pip pulling a multi-GB CUDA build,
# or ARAQUOTE_TORCH_SPEC to choose another version.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-train,dev}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=".venv/.araquote-installed-${EXTRAS//,/-}"
if [ -n "${ARAQUOTE_SKIP_INSTALL:-}" ] && $VPY -c "import araquote.cli, torch" 2>/dev/null; then
  echo "install: skipped (ARAQUOTE_SKIP_INSTALL set and .venv works)"
  exit 0
fi
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && $VPY -c "import araquote.cli, torch" 2>/dev/null; then
  echo "install: .venv is up to date ($EXTRAS)"
  exit 0
fi
$VPY -m pip install -q --upgrade pip
TORCH_SPEC="${ARAQUOTE_TORCH_SPEC:-torch==2.13.0}"
if ! $VPY -c "import torch" 2>/dev/null; then
  if [ -n "${ARAQUOTE_TORCH_INDEX:-}" ]; then
    $VPY -m pip install -q "$TORCH_SPEC" --index-url "$ARAQUOTE_TORCH_INDEX"
  else
    $VPY -m pip install -q "$TORCH_SPEC"
  fi
fi
$VPY -m pip install -q -e ".[$EXTRAS]"
touch "$stamp"
echo "install: done ($EXTRAS)"
