#!/usr/bin/env bash
# Install what the tests need (idempotent) and run the test suite.
# Extra pytest arguments pass through, e.g.  bash scripts/test.sh -k windows
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh train,dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
