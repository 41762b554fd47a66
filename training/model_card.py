"""The model card (``README.md`` in the checkpoint): labels, data, metrics, intended use, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from araquote import __version__
from araquote.inference.model import ModelMeta

from .config import Config


def _metric_rows(metrics: dict[str, Any]) -> list[str]:
    rows = []
    for split in ("dev", "test"):
        rep = metrics.get(split) or {}
        for layer, val in rep.get("layers", {}).items():
            m = val["micro"]
            rows.append(f"| {split} | {layer} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |")
        rec = rep.get("quotes", {}).get("records", {}).get("overlap_0.3")
        if rec:
            rows.append(f"| {split} | quote records (overlap ≥ 0.3) | {rec['precision']:.3f} | {rec['recall']:.3f} | {rec['f1']:.3f} |")
    return rows


def write_model_card(model_dir: Path, meta: ModelMeta, cfg: Config) -> None:
    """Write ``README.md`` with the hub's YAML front matter."""
    data = [f"- {split}: " + ", ".join(f"`{s.path}` ({s.format}, weight {s.weight})" for s in getattr(cfg.data, split))
            for split in ("train", "dev", "test") if getattr(cfg.data, split)]
    labels = "\n".join(f"- `{layer}`: {', '.join(labs)}" for layer, labs in meta.labels.items())
    rows = "\n".join(_metric_rows(meta.metrics)) or "| – | – | – | – | – |"
    weights = {layer: w for layer, w in meta.transition_weights.items() if w}
    prior = (" with the label-bigram prior counted on the training data, weight "
             + ", ".join(f"{w:g} ({layer})" for layer, w in weights.items())) if weights else ""
    lex = {layer: w for layer, w in meta.lexicon_weights.items() if w and meta.lexicons.get(layer)}
    if lex:
        prior += ("; the name lexicon of the training data (" + ", ".join(
            f"{len(meta.lexicons[layer])} {layer} names, weight {w:g}" for layer, w in lex.items()) + ")")
    text = f"""---
language: ar
library_name: araquote
tags: [token-classification, quote-attribution, ner, arabic]
---
# {cfg.name}

An [araquote](https://github.com/araquote/araquote) {__version__} model: one encoder (`{meta.encoder}`) with a
BIO token-classification head per layer, tagging Arabic news for attributed quotes and named entities.

## Labels
{labels}

## Training data
{chr(10).join(data)}

Seed {cfg.seed}; windows of {meta.max_length} subwords with stride {meta.stride}; normalisation `{meta.normalisation}`.
Decoding: constrained BIO Viterbi{prior}.

## Metrics (seqeval entity-level micro averages; quote records by Hungarian matching)
| split | layer | precision | recall | F1 |
|---|---|---|---|---|
{rows}

## Intended use
Tagging Modern Standard Arabic news for who said what (SPEAKER, CUE, QUOTE and quote records) and
named entities (PER, ORG, LOC, MISC and any types the training data declared), with character offsets
into the raw text. Load with `araquote.inference.tagger.Tagger.from_pretrained(DIR)` or `araquote tag --model DIR`.

## Limits
- Trained on news prose; dialectal Arabic, social media and transcripts are out of domain.
- Quote records come from a rule-based resolver over the predicted spans; pro-drop speakers are
  resolved to the most recent compatible speaker and can be wrong across long distances.
- The scores above are on the data listed here; expect lower figures on other outlets and topics.
"""
    (model_dir / "README.md").write_text(text, encoding="utf-8")
