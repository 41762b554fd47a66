#!/usr/bin/env bash
# Fresh clone -> trained model -> evaluation -> a tagged sample article, on CPU, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT="${ARAQUOTE_QUICKSTART_OUT:-runs/quickstart}"
bash scripts/install.sh train
A=.venv/bin/araquote
echo "== 1/5 validate the bundled corpus"
$A data validate data/train.jsonl data/dev.jsonl data/test.jsonl
echo "== 2/5 train configs/quickstart.yaml (from scratch, CPU)"
# shellcheck disable=SC2086  # ARAQUOTE_TRAIN_ARGS is a list of extra --set options (the README test uses it)
$A train configs/quickstart.yaml --set "output_dir=$OUT" ${ARAQUOTE_TRAIN_ARGS:-} "$@"
echo "== 3/5 evaluate on the test split (model and rules baseline)"
$A evaluate --model "$OUT/model" --data data/test.jsonl -o "$OUT/eval_test.json"
$A evaluate --model rules --data data/test.jsonl -o "$OUT/eval_test_rules.json"
echo "== 4/5 tag the sample article"
$A tag --model "$OUT/model" data/samples/sample_article.txt -o "$OUT/sample.jsonl" --quiet
echo "== 5/5 summary"
.venv/bin/python scripts/quickstart_summary.py "$OUT"
