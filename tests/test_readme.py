"""Every command block of the README runs, in order, in a sandbox copy of the project (docs cannot rot).

The sandbox links .venv, configs/ and scripts/ and copies data/, so commands run unmodified; training
is kept short through ARAQUOTE_TRAIN_ARGS (read by scripts/quickstart.sh). `bash scripts/test.sh` is the
one command not run here: it is this test suite (CI runs it through .ci/run).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = {"bash scripts/test.sh"}


def blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(lang, body) for lang, body in re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = tmp_path_factory.mktemp("readme")
    for name in (".venv", "configs", "scripts", "docs"):
        (box / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "data", box / "data")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, box / name)
    return box


def test_readme_has_a_block_per_workflow():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for section in ("## Quick start", "## Train", "## Tag", "## Evaluate", "## Annotate", "## Serve", "## Benchmark"):
        assert section in text


@pytest.mark.slow
def test_every_readme_block_runs(sandbox):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "ARAQUOTE_SKIP_INSTALL": "1",
           "ARAQUOTE_TRAIN_ARGS": "--set train.max_steps=3 --set train.epochs=1 --quiet"}
    for lang, body in blocks():
        if lang == "python":
            cmd = [sys.executable, "-c", body]
        else:
            lines = [line for line in body.splitlines() if line.strip() and line.strip() not in NOT_RUN]
            if not lines:
                continue
            cmd = ["bash", "-euo", "pipefail", "-c", "\n".join(lines)]
        proc = subprocess.run(cmd, cwd=sandbox, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"README block failed:\n{body}\n--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-3000:]}"
