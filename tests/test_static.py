"""Tooling gates from pyproject.toml: ruff lint on the tree, mypy on inference/, and the import boundary."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_inference_never_imports_training():
    for path in (ROOT / "inference").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert "training" not in name.split(".") and name not in ("datasets", "accelerate", "seqeval"), f"{path.name} imports {name}"


def test_ruff_lint_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed")
    proc = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_mypy_on_inference():
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "inference"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
