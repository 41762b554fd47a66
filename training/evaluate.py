"""``araquote evaluate``: tag gold texts with a model (or the rules) and score with the shared scorer."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from araquote.inference.attribution import resolve
from araquote.inference.schema import Document

from .corpus import read_corpus
from .metrics import score


def load_gold(paths: Sequence[str]) -> list[Document]:
    docs: list[Document] = []
    for p in paths:
        docs.extend(read_corpus(p))
    return docs


def oracle_predictions(gold: Sequence[Document]) -> list[Document]:
    """Gold spans with records re-built by the resolver: scores the resolver alone."""
    out = []
    for g in gold:
        d = copy.deepcopy(g)
        d.quotes = resolve(d)
        out.append(d)
    return out


def evaluate(model: str | Sequence[str], data: Sequence[str], oracle_spans: bool = False, device: str = "auto",
             dtype: str = "fp32") -> dict[str, Any]:
    """Score ``model`` ('rules', a checkpoint dir, or several averaged as an ensemble) on gold JSONL files."""
    gold = load_gold(data)
    if oracle_spans:
        pred = oracle_predictions(gold)
        system = "oracle-spans + resolver"
    else:
        from araquote.inference.ensemble import load_tagger

        tagger = load_tagger(model, device=device, dtype=dtype)
        pred = list(tagger.tag_documents((d.id, d.text) for d in gold))
        system = model if isinstance(model, str) else " + ".join(model)
    report = score(gold, pred)
    report["system"] = system
    report["data"] = list(data)
    return report


def format_summary(report: dict[str, Any]) -> str:
    """A few human-readable lines: micro-F1 per layer, record F1, speaker accuracy."""
    lines = [f"system: {report.get('system', '?')}  documents: {report['documents']}"]
    for layer, v in report.get("layers", {}).items():
        m = v["micro"]
        lines.append(f"  {layer:12} micro P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}")
    q = report.get("quotes")
    if q:
        rec = q["records"]
        lines.append(
            f"  quote records F1 @0.3 {rec['overlap_0.3']['f1']:.3f}  @0.8 {rec['overlap_0.8']['f1']:.3f}  "
            f"speaker acc explicit {rec['speaker_explicit_accuracy']}  implicit {rec['speaker_implicit_accuracy']}"
        )
    return "\n".join(lines)
