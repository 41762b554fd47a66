#!/usr/bin/env bash
# Self-training data for configs/anercorp-selftrain.yaml: SaudiNewsNet articles (../shared/data, research-only:
# written under runs/, never committed) tagged by the four-model me5-anercorp ensemble of the anercorp-full
# benchmark. Needs those four runs (araquote benchmark configs/benchmarks/anercorp-full.yaml).
#   bash scripts/build_anercorp_silver.sh [RUNS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-benchmarks/results/anercorp-full/runs/me5-anercorp}
mkdir -p runs/silver
# articles of 80-900 words from the newest daily zips down, until 125,000 words (the size of ANERcorp train)
.venv/bin/python - <<'PY'
import glob
import json

from araquote.training.silver import iter_saudinewsnet

words = 0
with open("runs/silver/snn-input.jsonl", "w", encoding="utf-8") as out:
    for z in sorted(glob.glob("../shared/data/saudinewsnet/*.zip"), reverse=True):
        for doc_id, text, _ in iter_saudinewsnet(z):
            n = len(text.split())
            if 80 <= n <= 900 and words < 125_000:
                out.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
                words += n
print(f"runs/silver/snn-input.jsonl: {words} words")
PY
models=()
for seed in 13 14 15 16; do models+=(--model "$RUNS/seed-$seed/model"); done
.venv/bin/araquote tag "${models[@]}" runs/silver/snn-input.jsonl -o runs/silver/snn-anercorp-ensemble.jsonl --device cpu --quiet
