"""``araquote data silver``: high-precision rule labels on raw news -> attribution-only training documents.

Only the patterns that are rarely wrong are kept (a cue followed by a
complementiser, or a cue + colon + marked quotation). The documents are
annotated for the attribution layer only: their entities are unknown, so they
add no entity loss. Mix them with gold in a config at a weight below 1::

    data:
      train: [data/train.jsonl, {path: silver.jsonl, weight: 0.3}]
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from araquote.inference.batch import iter_inputs
from araquote.inference.rules import RuleTagger
from araquote.inference.schema import validate


def iter_saudinewsnet(path: str | Path, limit: int = 0) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(id, text, meta)`` of SaudiNewsNet articles from a daily zip (title + content)."""
    n = 0
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".json"):
                continue
            for k, art in enumerate(json.loads(zf.read(name).decode("utf-8"))):
                text = f"{art.get('title', '').strip()}\n\n{art.get('content', '').strip()}".strip()
                if not text:
                    continue
                yield f"snn-{Path(name).stem}-{k:05d}", text, {"source": art.get("source", ""), "url": art.get("url", "")}
                n += 1
                if limit and n >= limit:
                    return


def _items(inputs: Sequence[str], max_docs: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    n = 0
    for raw in inputs:
        if raw.endswith(".zip"):
            stream: Any = iter_saudinewsnet(raw)
        else:
            stream = ((it.id, it.text or "", it.meta) for it in iter_inputs([raw]) if not it.error)
        for item in stream:
            yield item
            n += 1
            if max_docs and n >= max_docs:
                return


def make_silver(inputs: Sequence[str], output: str, max_docs: int = 0) -> dict[str, int]:
    """Label raw articles with the high-precision rules; write attribution-only documents."""
    tagger = RuleTagger(high_precision=True)
    counts = {"documents": 0, "with_quotes": 0, "quotes": 0}
    with open(output, "w", encoding="utf-8") as fh:
        for doc_id, text, meta in _items(inputs, max_docs):
            doc = tagger.tag_one(doc_id, text, {**meta, "silver": True})
            counts["documents"] += 1
            if validate(doc):
                continue  # never write a document that breaks the contract
            counts["with_quotes"] += bool(doc.quotes)
            counts["quotes"] += len(doc.quotes)
            for q in doc.quotes:
                q.speaker_name = None
            fh.write(doc.to_json() + "\n")
    return counts
