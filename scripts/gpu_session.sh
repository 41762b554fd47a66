#!/usr/bin/env bash
# One prepared session on a lent GPU machine (see .library/device; run scripts/gpu_pack.sh here first and carry
# .devcarry). Everything it measures is written under $OUT: log.txt and results.tar.gz. Stages, each time-boxed so
# that the whole script ends inside one 10-minute device call:
#   A. issue 8: scripts/bench_speed.py --device cuda (AraBERT-base-shaped random encoder and the offline me5-small
#      encoder; fp32 and bf16; araquote vs the HF pipeline vs the bare forward pass) on 300 SaudiNewsNet articles.
#   B. issue 5: scripts/tune_anercorp.py: learning rate x epochs tuned on the ANERcorp train hold-out, the winner
#      trained on all of train at 8 seeds, then `araquote benchmark` scores each seed and their ensemble on test.
# fp32 matrix products use TF32 tensor cores (TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1) in stage B: the recipe is the
# CPU one (precision: fp32 in the configs), the GPU only runs it faster.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY="${PY:-python3}"
SPEED_S="${SPEED_S:-110}" SWEEP_S="${SWEEP_S:-170}" FINAL_S="${FINAL_S:-100}" BENCH_S="${BENCH_S:-110}"
stamp() { echo "=== [$((SECONDS))s] $*"; }
pack() {  # everything small that this session produced -> $OUT/results.tar.gz (rewritten after each stage)
  tar -czf "$OUT/results.tar.gz" --exclude='*.safetensors' --exclude='*/checkpoint*' --exclude='*/model/*' \
    $(ls -d benchmarks/results/speed/gpu-h200 benchmarks/results/anercorp-tuned configs/benchmarks/anercorp-tuned.yaml \
      /tmp/tune/sweep.json 2>/dev/null) 2>/dev/null
}

stamp "setup"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .devcarry/whl/*.whl || exit 3
export PYTHONPATH=/tmp/site
$PY -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 4
mkdir -p models ../shared && tar -C models -xf .devcarry/me5.tar && tar -C ../shared -xf .devcarry/shared.tar || exit 5
$PY -c "import lzma, shutil; shutil.copyfileobj(lzma.open('models/me5-small-anercorp/model.safetensors.xz'), open('models/me5-small-anercorp/model.safetensors', 'wb'))" || exit 6
rm -f models/me5-small-anercorp/model.safetensors.xz
$PY -c "import torch, transformers, araquote.training.train, araquote.training.benchmark, seqeval, jsonschema; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__)" || exit 7

STAGES="${STAGES:-speed tune}"
has() { [[ " $STAGES " == *" $1 "* ]]; }

if has probe; then  # seconds per training step alone and 8 side by side (sizes the tune stage's deadlines)
  export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
  for n in 1 8; do
    stamp "probe: $n hold-out run(s) of 2 epochs side by side"
    t=$SECONDS
    for i in $(seq "$n"); do
      $PY -m araquote train configs/anercorp-holdout.yaml --quiet --set train.epochs=2 --set seed=$((12 + i)) \
        --set output_dir=/tmp/probe/$n-$i > /tmp/probe-$n-$i.log 2>&1 &
    done
    wait
    echo "probe $n: wall $((SECONDS - t)) s"
    for i in $(seq "$n"); do
      $PY -c "import json,sys; m=json.load(open(sys.argv[1])); print(sys.argv[1], 'train_s', m.get('train_seconds'), 'steps', m.get('steps'))" \
        /tmp/probe/$n-$i/metrics.json || tail -20 /tmp/probe-$n-$i.log
      tail -2 /tmp/probe/$n-$i/train_log.jsonl
    done
  done
  unset TORCH_ALLOW_TF32_CUBLAS_OVERRIDE
fi

has speed && {
stamp "A. speed benchmark on the GPU"
timeout "$SPEED_S" $PY scripts/bench_speed.py --device cuda --encoder arabert-base-shaped --encoder models/me5-small-anercorp \
  --articles 300 --dtypes fp32,bf16 --batch-sizes 16,64 --hf-batch-sizes 8,32,64 --latency-articles 20 --rss-articles 0 \
  --out benchmarks/results/speed/gpu-h200
echo "speed rc $?"
pack
}

has tune && {
stamp "B. ANERcorp: tune on the train hold-out, train the winner, benchmark"
export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
timeout $((SWEEP_S + FINAL_S + BENCH_S + 30)) $PY scripts/tune_anercorp.py \
  --grid train.epochs=20,10 --grid train.learning_rate=5e-5,1e-4,1.5e-4,3e-4 --head-ratio 10 --seeds 13,14 \
  --final-seeds 13,14,15,16,17,18,19,20 --jobs 16 --sweep-deadline "$SWEEP_S" --final-deadline "$FINAL_S" \
  --work /tmp/tune --system me5-tuned --bench-config configs/benchmarks/anercorp-tuned.yaml \
  --bench-out benchmarks/results/anercorp-tuned --suites anercorp-test
echo "tune rc $?"
pack
}
stamp "done"
ls -la "$OUT"
