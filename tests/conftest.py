"""Shared fixtures: tiny Arabic documents, a tiny WordPiece tokenizer and a tiny BERT, built locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from araquote.inference.schema import Document
from araquote.training.authoring import parse_source

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

DOC_A = """id: tiny-a
---
[CUE:1 قال] [SPEAKER:1 وزير الخارجية [PER أحمد سالم]] [QUOTE:1:indirect إن بلاده لن تقبل أي تسوية في [LOC سوريا]]، [CUE:2 مضيفا] [QUOTE:2:indirect:^1 أن المحادثات مع [ORG الأمم المتحدة] ستستأنف قريبا].
[CUE:3 وتابع]: «[QUOTE:3:direct:^1 نحن لا نبحث عن انتصار إعلامي]».
"""

DOC_B = """id: tiny-b
---
«[QUOTE:1:direct الوضع في [LOC غزة] خطير جدا]»، [CUE:1 قالت] [SPEAKER:1 [PER منى العتيبي] المتحدثة باسم [ORG الهلال الأحمر]].
وأعلن المحافظ افتتاح [MISC مهرجان الربيع] في [LOC وبالرياض] أمس.
"""


@pytest.fixture(scope="session")
def tiny_docs() -> list[Document]:
    return [parse_source(DOC_A, "a.txt"), parse_source(DOC_B, "b.txt")]


def write_jsonl(path: Path, docs: list[Document]) -> Path:
    path.write_text("".join(d.to_json() + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory, tiny_docs: list[Document]) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    for split in ("train", "dev", "test"):
        write_jsonl(d / f"{split}.jsonl", tiny_docs)
    return d


def tiny_config_yaml(corpus: Path, out: Path, epochs: int = 80, extra: str = "") -> str:
    return f"""
name: tiny
output_dir: {out}
seed: 7
data:
  train: [{corpus / 'train.jsonl'}]
  dev: [{corpus / 'dev.jsonl'}]
  test: [{corpus / 'test.jsonl'}]
model:
  encoder: from_scratch
  from_scratch: {{vocab_size: 300, hidden_size: 64, num_layers: 2, num_heads: 2, intermediate_size: 128, max_position_embeddings: 128}}
  max_length: 64
  stride: 16
  dropout: 0.0
train:
  epochs: {epochs}
  batch_size: 4
  learning_rate: 3.0e-3
  warmup_ratio: 0.0
  precision: fp32
  early_stopping_patience: 0
  log_every: 5
{extra}"""


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A tiny model overfit on the two tiny documents (session-scoped: trained once)."""
    from araquote.training.config import load_config
    from araquote.training.train import train

    out = tmp_path_factory.mktemp("run")
    cfg_path = out / "tiny.yaml"
    cfg_path.write_text(tiny_config_yaml(tiny_corpus, out / "run"), encoding="utf-8")
    train(load_config(cfg_path), progress=False)
    return out / "run"


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
