"""The corpus authoring form: one readable article per file, inline bracket markup.

A source file has a header, a ``---`` line, then the article body::

    id: aq-0001
    section: politics
    style: wire
    ---
    [CUE:1 وقال] [SPEAKER:1 وزير الخارجية [PER أحمد سالم]] [QUOTE:1:indirect إن بلاده ...].

Markup (spans must nest; same-layer spans never overlap):

* ``[PER …]`` ``[ORG …]`` ``[LOC …]`` ``[MISC …]`` (any upper-case label): an entity.
* ``[SPEAKER:n …]`` ``[CUE:n …]``: the speaker and cue of quote record ``n``.
* ``[QUOTE:n:kind …]``: the quote of record ``n``; kind is direct, indirect or mixed.
* ``[QUOTE:n:kind:^m …]``: pro-drop / pronoun continuation: record ``n`` has no
  SPEAKER of its own and points to the SPEAKER of record ``m`` (implicit speaker).
* ``\\[``, ``\\]``, ``\\\\``: literal brackets and backslash.
* ``&nbsp;`` ``&rlm;`` ``&lrm;`` ``&zwnj;`` ``&zwj;``: invisible characters, written visibly.

The builder turns a file into a :class:`~araquote.inference.schema.Document`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from araquote.inference.schema import (
    ATTRIBUTION,
    ATTRIBUTION_LABELS,
    ENTITIES,
    LAYERS,
    QUOTE_KINDS,
    Document,
    DocumentError,
    QuoteRecord,
    Span,
    validate,
)

ENTITY_CODES = {"&nbsp;": "\u00a0", "&rlm;": "\u200f", "&lrm;": "\u200e", "&zwnj;": "\u200c", "&zwj;": "\u200d"}
_OPEN_RE = re.compile(r"\[([A-Z][A-Z0-9_]*)(?::([A-Za-z0-9]+))?(?::([a-z]+))?(?::\^([A-Za-z0-9]+))? ")
_HEADER_RE = re.compile(r"^([a-z_]+):\s*(.*)$")


class MarkupError(DocumentError):
    """A source file's markup is malformed."""


@dataclass
class _Open:
    label: str
    key: str | None
    kind: str | None
    ref: str | None
    start: int
    line: int


@dataclass
class _Parsed:
    text: str = ""
    spans: list[tuple[int, int, str, str | None, str | None, str | None, int]] = field(default_factory=list)


def parse_source(source: str, path: str = "<string>") -> Document:
    """Parse one authoring file into a validated document.

    Raises:
        MarkupError: naming the file and line of the first problem found, or
            listing every contract violation of the built document.
    """
    header, body, body_line = _split_header(source, path)
    doc_id = header.pop("id", None)
    if not doc_id:
        raise MarkupError(f"{path}: header needs an 'id: …' line")
    layers = [x.strip() for x in header.pop("layers", ",".join(LAYERS)).split(",") if x.strip()]
    parsed = _parse_body(body, path, body_line)
    doc = _to_document(doc_id, parsed, layers, dict(header), path)
    errors = validate(doc)
    if errors:
        raise MarkupError(f"{path}: " + "\n  ".join(errors))
    return doc


def _split_header(source: str, path: str) -> tuple[dict[str, str], str, int]:
    lines = source.lstrip("\ufeff").split("\n")
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.strip() == "---":
            body = "\n".join(lines[i + 1 :]).strip("\n")
            return header, body, i + 2
        if not line.strip() or line.startswith("#"):
            continue
        m = _HEADER_RE.match(line.strip())
        if not m:
            raise MarkupError(f"{path}:{i + 1}: header line must be 'key: value', got {line!r}")
        header[m.group(1)] = m.group(2).strip()
    raise MarkupError(f"{path}: no '---' line between header and body")


def _parse_body(body: str, path: str, first_line: int) -> _Parsed:
    out: list[str] = []
    length = 0
    stack: list[_Open] = []
    parsed = _Parsed()
    i, line = 0, first_line
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in "[]\\":
            out.append(body[i + 1])
            length += 1
            i += 2
            continue
        if ch == "&":
            code = next((c for c in ENTITY_CODES if body.startswith(c, i)), None)
            if code:
                out.append(ENTITY_CODES[code])
                length += 1
                i += len(code)
                continue
        if ch == "[":
            m = _OPEN_RE.match(body, i)
            if not m:
                snippet = body[i : i + 30].split("\n")[0]
                raise MarkupError(
                    f"{path}:{line}: '[' must open a span like '[PER …]', '[SPEAKER:1 …]', '[QUOTE:1:direct …]' "
                    f"(write '\\[' for a literal bracket); got {snippet!r}"
                )
            stack.append(_Open(m.group(1), m.group(2), m.group(3), m.group(4), length, line))
            i = m.end()
            continue
        if ch == "]":
            if not stack:
                raise MarkupError(f"{path}:{line}: ']' closes nothing (write '\\]' for a literal bracket)")
            op = stack.pop()
            parsed.spans.append((op.start, length, op.label, op.key, op.kind, op.ref, op.line))
            i += 1
            continue
        if ch == "\n":
            line += 1
        out.append(ch)
        length += 1
        i += 1
    if stack:
        op = stack[-1]
        raise MarkupError(f"{path}:{op.line}: span [{op.label} opened here is never closed")
    parsed.text = "".join(out)
    return parsed


def _to_document(doc_id: str, parsed: _Parsed, layers: list[str], meta: dict[str, str], path: str) -> Document:
    text = parsed.text
    ordered = sorted(parsed.spans, key=lambda s: (s[0], -s[1]))
    spans: list[Span] = []
    roles: dict[str, dict[str, Span]] = {}
    quote_info: dict[str, tuple[str, str | None]] = {}
    for k, (start, end, label, key, kind, ref, line) in enumerate(ordered):
        raw_start, raw_end = start, end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise MarkupError(f"{path}:{line}: empty span [{label} at {raw_start}:{raw_end}")
        layer = ATTRIBUTION if label in ATTRIBUTION_LABELS else ENTITIES
        span = Span(f"s{k + 1}", start, end, layer, label)
        spans.append(span)
        if layer == ENTITIES:
            if key or kind or ref:
                raise MarkupError(f"{path}:{line}: entity [{label}] takes no ':n' record key")
            continue
        if not key:
            raise MarkupError(f"{path}:{line}: [{label} needs a record key, e.g. [{label}:1 …]")
        slot = roles.setdefault(key, {})
        if label in slot:
            raise MarkupError(f"{path}:{line}: record {key} has two {label} spans")
        slot[label] = span
        if label == "QUOTE":
            if kind not in QUOTE_KINDS:
                raise MarkupError(f"{path}:{line}: [QUOTE:{key}:kind …] needs kind in {', '.join(QUOTE_KINDS)}, got {kind!r}")
            quote_info[key] = (kind, ref)
        elif kind or ref:
            raise MarkupError(f"{path}:{line}: only QUOTE takes a kind or ^ref, not [{label}:{key}:…]")
    records = _records(roles, quote_info, path)
    return Document(doc_id, text, layers, spans, records, meta)


def _records(roles: dict[str, dict[str, Span]], quote_info: dict[str, tuple[str, str | None]], path: str) -> list[QuoteRecord]:
    records = []
    for key, slot in roles.items():
        if "QUOTE" not in slot:
            raise MarkupError(f"{path}: record {key} has {sorted(slot)} but no QUOTE")
        kind, ref = quote_info[key]
        speaker = slot.get("SPEAKER")
        implicit = False
        if ref is not None:
            if speaker is not None:
                raise MarkupError(f"{path}: record {key} has its own SPEAKER and a ^{ref} reference; use one")
            target = roles.get(ref, {}).get("SPEAKER")
            if target is None:
                raise MarkupError(f"{path}: record {key} points to ^{ref}, which has no SPEAKER span")
            speaker, implicit = target, True
        records.append(
            QuoteRecord(slot["QUOTE"].id, speaker.id if speaker else None, slot["CUE"].id if "CUE" in slot else None, kind, implicit)
        )
    records.sort(key=lambda r: int(r.quote[1:]))
    return records


def load_source_dir(directory: str | Path) -> list[Document]:
    """Parse every ``*.txt`` authoring file under ``directory`` (sorted by path; ``_*`` folders skipped)."""
    docs = []
    root = Path(directory)
    for path in sorted(root.rglob("*.txt")):
        if any(part.startswith("_") for part in path.relative_to(root).parts):
            continue  # _example/ and other underscore folders are documentation, not corpus
        docs.append(parse_source(path.read_text(encoding="utf-8"), str(path)))
    ids: dict[str, str] = {}
    for doc in docs:
        if doc.id in ids:
            raise MarkupError(f"duplicate document id {doc.id!r}")
        ids[doc.id] = doc.id
    return docs
