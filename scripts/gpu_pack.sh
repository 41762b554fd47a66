#!/usr/bin/env bash
# Prepare what scripts/gpu_session.sh needs on a GPU machine that has no network and no copy of ../shared:
# .devcarry/ (git-ignored through .git/info/exclude, never committed) with
#   whl/          seqeval (built here) and jsonschema with its needs, for the machine's Python 3.12
#   me5.tar       models/me5-small-anercorp, weights xz-compressed (the 4-bit origin packs to ~1/4)
#   shared.tar    the ANERcorp CAMeL split, AQMAR and one SaudiNewsNet day (>= 300 articles), unpacked there
#                 to ../shared/data as here (research-only data: carried to the machine, never into the repo)
# Run from the repo root after `bash scripts/build_offline_encoder.sh`. The device tool carries `.devcarry`.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ARAQUOTE_SHARED:-../shared}"
D=.devcarry
grep -qx '/.devcarry/' .git/info/exclude || echo '/.devcarry/' >> .git/info/exclude
mkdir -p "$D/whl"
rm -f "$D"/whl/*.whl
.venv/bin/python -m pip wheel -q --no-deps -w "$D/whl" "seqeval==$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("seqeval"))')"
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$D/whl" \
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
if [ ! -f "$D/me5.tar" ]; then
  tmp="$(mktemp -d)"
  cp -r models/me5-small-anercorp "$tmp/"
  xz -T2 -6 "$tmp/me5-small-anercorp/model.safetensors"
  tar -C "$tmp" -cf "$D/me5.tar" me5-small-anercorp
  rm -rf "$tmp"
fi
tar -C "$SHARED" -cf "$D/shared.tar" data/anercorp/camel_split_reconstructed data/aqmar data/saudinewsnet/2015-07-21.zip
du -sh "$D"/* "$D"/whl/*
