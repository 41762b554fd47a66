"""Readers: corpus JSONL and CoNLL-style NER files -> validated documents.

CoNLL files (ANERcorp, AQMAR) hold ``TOKEN TAG`` lines; documents are rebuilt
by joining tokens with single spaces, so entity spans get real character
offsets. ANERcorp's ``PERS`` becomes ``PER``; AQMAR's ``MIS0..3`` become ``MISC``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from araquote.inference.schema import (
    ATTRIBUTION,
    ENTITIES,
    Document,
    DocumentError,
    Span,
    bio_to_spans,
    read_jsonl,
    validate,
)

from .config import DataSource

LABEL_MAP = {"PERS": "PER", "PERSON": "PER", "MIS": "MISC", "MIS0": "MISC", "MIS1": "MISC", "MIS2": "MISC",
             "MIS3": "MISC", "MIS-0": "MISC", "MIS-1": "MISC", "MIS-2": "MISC", "MIS-3": "MISC", "ORGANIZATION": "ORG",
             "LOCATION": "LOC"}


def read_corpus(path: str | Path, check: bool = True) -> list[Document]:
    """Read a corpus JSONL file; with ``check``, every contract violation is raised at once."""
    docs: list[Document] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for lineno, doc in read_jsonl(str(path)):
        if doc.id in seen:
            errors.append(f"{path}:{lineno}: duplicate document id {doc.id!r} (first on line {seen[doc.id]})")
        seen.setdefault(doc.id, lineno)
        if check:
            errors.extend(validate(doc, where=f"{path}:{lineno}"))
        docs.append(doc)
    if errors:
        raise DocumentError(f"{len(errors)} problem(s) in {path}:\n  " + "\n  ".join(errors[:50]))
    return docs


def read_conll(path: str | Path, doc_tokens: int = 0, map_labels: bool = True) -> list[Document]:
    """Read ``TOKEN TAG`` lines into entity-only documents.

    Args:
        path: the file; a line's tag is after its last space or tab (one ANERcorp token holds a space).
        doc_tokens: pack consecutive sentences into documents of about this many tokens (0 = one per sentence).
        map_labels: map PERS->PER and MIS*->MISC.
    """
    p = Path(path)
    sentences: list[list[tuple[str, str]]] = [[]]
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if sentences[-1]:
                    sentences.append([])
                continue
            token, _, tag = line.rstrip(" \t").rpartition(" ") if "\t" not in line else line.rpartition("\t")
            tag = tag.strip()
            if not token.strip():  # invisible-only tokens (U+200F) carry no text to offset
                continue
            if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise DocumentError(f"{p}:{lineno}: tag {tag!r} is not O, B-X or I-X")
            sentences[-1].append((token.strip(), _map(tag) if map_labels else tag))
    sentences = [s for s in sentences if s]
    return [_to_doc(f"{p.stem}-{k + 1:05d}", group, str(p)) for k, group in enumerate(_pack(sentences, doc_tokens))]


def aqmar_tag(tag: str) -> str:
    """Repair AQMAR's tag typos: ``I--ORG`` -> ``I-ORG``, ``MIS1``` -> MISC, ``IO``/``OO``/language tags -> O."""
    tag = tag.strip().strip("`").replace("--", "-")
    prefix, _, label = tag.partition("-")
    if prefix not in ("B", "I") or not label:
        return "O"
    label = label.upper()
    if label.startswith("MIS"):
        return f"{prefix}-MISC"
    if label in ("PER", "PERS", "LOC", "ORG"):
        return f"{prefix}-{LABEL_MAP.get(label, label)}"
    return "O"  # ENGLISH, SPANISH and other stray tags are not entity types


def read_aqmar(path: str | Path, doc_tokens: int = 0) -> list[Document]:
    """AQMAR Wikipedia NER files (``TOKEN TAG``), tag typos repaired, MIS0-3 -> MISC."""
    p = Path(path)
    lines = []
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                lines.append("")
                continue
            token, _, tag = line.rstrip(" \t").rpartition(" ") if "\t" not in line else line.rpartition("\t")
            lines.append(f"{token} {aqmar_tag(tag)}" if token.strip() else "")
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as tmp:
        tmp.write("\n".join(lines) + "\n")
    try:
        docs = read_conll(tmp.name, doc_tokens=doc_tokens)
    finally:
        Path(tmp.name).unlink()
    for k, d in enumerate(docs):
        d.id = f"{p.stem}-{k + 1:05d}"
        d.meta = {"source": str(p)}
    return docs


def _map(tag: str) -> str:
    if tag == "O":
        return tag
    prefix, label = tag[:2], tag[2:]
    return prefix + LABEL_MAP.get(label, label)


def _pack(sentences: list[list[tuple[str, str]]], doc_tokens: int) -> Iterable[list[tuple[str, str]]]:
    if doc_tokens <= 0:
        yield from sentences
        return
    cur: list[tuple[str, str]] = []
    for s in sentences:
        if cur and len(cur) + len(s) > doc_tokens:
            yield cur
            cur = []
        cur = cur + s
    if cur:
        yield cur


def _to_doc(doc_id: str, tokens: list[tuple[str, str]], source: str) -> Document:
    offsets, pos, parts = [], 0, []
    for tok, _ in tokens:
        offsets.append((pos, pos + len(tok)))
        parts.append(tok)
        pos += len(tok) + 1
    text = " ".join(parts)
    spans = []
    for k, (first, last, label) in enumerate(bio_to_spans([t for _, t in tokens])):
        spans.append(Span(f"s{k + 1}", offsets[first][0], offsets[last - 1][1], ENTITIES, label))
    return Document(doc_id, text, [ENTITIES], spans, [], {"source": source})


def load_source(src: DataSource) -> list[Document]:
    """Documents of one configured data source, with its weight recorded in ``meta``."""
    if not Path(src.path).exists():
        raise DocumentError(f"data file not found: {src.path}")
    if src.format == "jsonl":
        docs = read_corpus(src.path)
    elif src.format == "aqmar":
        docs = read_aqmar(src.path, doc_tokens=src.doc_tokens)
    else:
        docs = read_conll(src.path, doc_tokens=src.doc_tokens)
    if src.portion:
        n = len(docs)
        docs = docs[int(src.portion[0] * n) : int(src.portion[1] * n)]
    if src.max_docs:
        docs = docs[: src.max_docs]
    for d in docs:
        d.meta = {**d.meta, "weight": src.weight}
        if src.layers is not None:
            keep_layers(d, src.layers)
    return docs


def keep_layers(doc: Document, layers: Iterable[str]) -> None:
    """Drop every layer of ``doc`` but ``layers`` (with its spans, and its quote records without attribution).

    A layer the document does not carry stays absent: the training loss is masked per layer, so such a
    document teaches only the layers it keeps.
    """
    wanted = set(layers)
    doc.layers = [layer for layer in doc.layers if layer in wanted]
    doc.spans = [s for s in doc.spans if s.layer in wanted]
    if ATTRIBUTION not in wanted:
        doc.quotes = []


def collect_labels(docs: Iterable[Document]) -> dict[str, list[str]]:
    """Labels per layer as declared by the data: attribution fixed, entity labels in frequency order."""
    counts: Counter[str] = Counter()
    has_attr = False
    for d in docs:
        has_attr |= ATTRIBUTION in d.layers
        counts.update(s.label for s in d.spans if s.layer == ENTITIES)
    labels: dict[str, list[str]] = {}
    if has_attr:
        labels[ATTRIBUTION] = ["SPEAKER", "CUE", "QUOTE"]
    default = ["PER", "ORG", "LOC", "MISC"]
    ents = [lab for lab in default if lab in counts] + sorted(lab for lab in counts if lab not in default)
    if ents:
        labels[ENTITIES] = ents
    return labels
