"""``araquote data build``: authoring files -> deterministic stratified train/dev/test JSONL."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from araquote.inference.schema import Document
from araquote.inference.text import split_words

from .authoring import load_source_dir

SPLITS = (("train", 0.70), ("dev", 0.15), ("test", 0.15))


def stratum(doc: Document) -> str:
    """The rarest phenomenon a document shows; splits are balanced within each stratum."""
    n_words = sum(1 for w in split_words(doc.text) if w.text[0].isalnum())
    kinds = {q.kind for q in doc.quotes}
    if n_words > 1500:
        return "long"
    if not doc.quotes:
        return "no_quote"
    if any(q.cue is None for q in doc.quotes):
        return "no_cue"
    if "mixed" in kinds:
        return "mixed"
    if any(q.implicit_speaker for q in doc.quotes):
        return "implicit"
    return "other"


def assign_splits(docs: Sequence[Document]) -> dict[str, list[Document]]:
    """Deterministic 70/15/15 split by document, stratified by :func:`stratum`.

    Within a stratum documents are ordered by a hash of their id and each goes to
    the split furthest below its target share (ties: train, dev, test).
    """
    groups: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        groups[stratum(d)].append(d)
    out: dict[str, list[Document]] = {name: [] for name, _ in SPLITS}
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda d: hashlib.sha1(d.id.encode()).hexdigest())
        counts = {name: 0 for name, _ in SPLITS}
        for k, doc in enumerate(members):
            name = max(SPLITS, key=lambda s: ((k + 1) * s[1] - counts[s[0]], -SPLITS.index(s)))[0]
            counts[name] += 1
            out[name].append(doc)
    for name in out:
        out[name].sort(key=lambda d: d.id)
    return out


def build_corpus(source_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Parse every authoring file and write ``train/dev/test.jsonl``; returns documents per split."""
    docs = load_source_dir(source_dir)
    splits = assign_splits(docs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, members in splits.items():
        for d in members:
            d.meta = {**d.meta, "split": name}
        text = "".join(d.to_json() + "\n" for d in members)
        (out / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return {name: len(members) for name, members in splits.items()}
