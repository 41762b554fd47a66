#!/usr/bin/env bash
# One prepared session on a lent GPU machine (see .library/device; run scripts/gpu_pack.sh here first and carry
# .devcarry). Everything it measures is written under $OUT: log.txt and results.tar.gz. Stages, each time-boxed so
# that the whole script ends inside one 10-minute device call:
#   A. issue 8: scripts/bench_speed.py --device cuda (AraBERT-base-shaped random encoder and the offline me5-small
#      encoder; fp32 and bf16; araquote vs the HF pipeline vs the bare forward pass) on 300 SaudiNewsNet articles.
#   B. issue 5 (STAGES=tune): scripts/tune_anercorp.py: learning rate x epochs tuned on the ANERcorp train hold-out, the winner
#      trained on all of train at 8 seeds, then `araquote benchmark` scores each seed and their ensemble on test.
#   B'. issue 5 (STAGES=seeds): no tuning, configs/anercorp-full.yaml at 8 seeds side by side, benchmarked.
# Choose stages with STAGES (default "speed"); "probe" times one short training run. Measured on an H200 (2026-11-29):
# setup 26-31 s; speed: the info job 19 s, building the AraBERT-base-shaped checkpoint 6 s, each araquote job on it
# 23-34 s (fp32/bf16 x batch 16/64), so both encoders with the HF pipeline need about 7 min (SPEED_S=420); seeds:
# 8 full-train runs side by side 101-105 s wall, then the benchmark about 45 s. "tune" has not run yet: its
# deadlines (sweep 300 s, finals 130 s, benchmark 90 s) add to about 9 min. A session's 15 device minutes hold one
# machine start and ONE of "speed" or "tune", not both.
# fp32 matrix products use TF32 tensor cores (TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1) in stage B: the recipe is the
# CPU one (precision: fp32 in the configs), the GPU only runs it faster.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1  # NB: a bare `wait` below would also wait for this tee, forever
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY="${PY:-python3}"
SPEED_S="${SPEED_S:-420}" SWEEP_S="${SWEEP_S:-300}" FINAL_S="${FINAL_S:-130}" BENCH_S="${BENCH_S:-90}"
stamp() { echo "=== [$((SECONDS))s] $*"; }
pack() {  # everything small that this session produced -> $OUT/results.tar.gz (rewritten after each stage)
  tar -czf "$OUT/results.tar.gz" --exclude='*.safetensors' --exclude='*/checkpoint*' --exclude='*/model/*' \
    $(ls -d benchmarks/results/speed/gpu-h200 benchmarks/results/anercorp-tuned configs/benchmarks/anercorp-tuned.yaml \
      benchmarks/results/anercorp-gpu configs/benchmarks/anercorp-gpu.yaml /tmp/tune/sweep.json 2>/dev/null) 2>/dev/null
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

STAGES="${STAGES:-speed}"
has() { [[ " $STAGES " == *" $1 "* ]]; }

if has probe; then  # one short hold-out training run: seconds per step on the GPU (progress bar in probe.log);
  # a run still going at PROBE_S gets SIGABRT, and faulthandler prints where every thread was
  stamp "probe: hold-out training, ${PROBE_STEPS:-40} steps"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -l 5 > "$OUT/smi.txt" 2>&1 &
  SMI=$!
  TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 PYTHONFAULTHANDLER=1 timeout -s ABRT "${PROBE_S:-70}" \
    $PY -m araquote train configs/anercorp-holdout.yaml --set train.epochs=1 --set "train.max_steps=${PROBE_STEPS:-40}" \
    --set output_dir=/tmp/probe > "$OUT/probe.log" 2>&1
  echo "probe rc $?"
  kill $SMI
  tr '\r' '\n' < "$OUT/probe.log" | grep -v "^\s*$" | tail -25
  cat /tmp/probe/metrics.json 2>/dev/null | head -c 600; echo
fi

has speed && {
stamp "A. speed benchmark on the GPU"
# SIGTERM at SPEED_S: bench_speed writes the report of the jobs that finished (marked incomplete) and exits 3
timeout -k 30 "$SPEED_S" $PY scripts/bench_speed.py --device cuda --encoder models/me5-small-anercorp \
  --encoder arabert-base-shaped --articles 300 --dtypes fp32,bf16 --batch-sizes 16,64 --hf-batch-sizes 8,32,64 \
  --latency-articles 10 --rss-articles 0 \
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
has seeds && {  # no tuning: configs/anercorp-full.yaml as it is, 8 seeds side by side, each and their ensemble on test
stamp "B'. ANERcorp: the anercorp-full recipe at 8 seeds on the GPU, benchmark"
export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
PYTHONFAULTHANDLER=1 timeout -s ABRT $((FINAL_S + BENCH_S + 20)) $PY scripts/tune_anercorp.py --skip-sweep \
  --final-seeds 13,14,15,16,17,18,19,20 --jobs 8 --final-deadline "$FINAL_S" --work /tmp/tune --system me5-gpu \
  --bench-config configs/benchmarks/anercorp-gpu.yaml --bench-out benchmarks/results/anercorp-gpu --suites anercorp-test
echo "seeds rc $?"
pack
}
stamp "done"
ls -la "$OUT"
