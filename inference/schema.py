"""The one schema: layers, labels, spans, quote records, documents, BIO <-> spans.

Everything that reads or writes annotations (corpus, trainer, tagger, scorer)
goes through this module; see ``shared/ANNOTATION.md`` for the contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .text import word_boundaries

ATTRIBUTION = "attribution"
ENTITIES = "entities"
LAYERS: tuple[str, ...] = (ATTRIBUTION, ENTITIES)
ATTRIBUTION_LABELS: tuple[str, ...] = ("SPEAKER", "CUE", "QUOTE")
DEFAULT_ENTITY_LABELS: tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")
QUOTE_KINDS: tuple[str, ...] = ("direct", "indirect", "mixed")
OUTSIDE = "O"


class AraquoteError(Exception):
    """Base class of the project's domain errors."""


class DocumentError(AraquoteError, ValueError):
    """A document breaks the annotation contract."""


@dataclass(slots=True)
class Span:
    """A labelled span ``[start, end)`` of one layer, in raw code points."""

    id: str
    start: int
    end: int
    layer: str
    label: str
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "layer": self.layer,
            "label": self.label,
        }
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
        return out


@dataclass(slots=True)
class QuoteRecord:
    """Who said what: span ids of the QUOTE, its SPEAKER and CUE."""

    quote: str
    speaker: str | None = None
    cue: str | None = None
    kind: str = "indirect"
    implicit_speaker: bool = False
    speaker_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "quote": self.quote,
            "speaker": self.speaker,
            "cue": self.cue,
            "kind": self.kind,
            "implicit_speaker": self.implicit_speaker,
        }
        if self.speaker_name is not None:
            out["speaker_name"] = self.speaker_name
        return out


@dataclass(slots=True)
class Document:
    """One article with its spans on zero, one or two layers."""

    id: str
    text: str
    layers: list[str] = field(default_factory=lambda: list(LAYERS))
    spans: list[Span] = field(default_factory=list)
    quotes: list[QuoteRecord] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def spans_of(self, layer: str) -> list[Span]:
        """Spans of one layer, sorted by start offset."""
        return sorted((s for s in self.spans if s.layer == layer), key=lambda s: (s.start, s.end))

    def span_by_id(self) -> dict[str, Span]:
        return {s.id: s for s in self.spans}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "layers": list(self.layers),
            "spans": [s.to_dict() for s in sorted(self.spans, key=lambda s: (s.start, s.end, s.layer))],
            "quotes": [q.to_dict() for q in self.quotes],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        return dumps_line(self.to_dict())

    @classmethod
    def from_dict(cls, obj: Any, where: str = "") -> Document:
        """Build a document from parsed JSON, checking types (not content; see :func:`validate`)."""
        prefix = f"{where}: " if where else ""
        if not isinstance(obj, dict):
            raise DocumentError(f"{prefix}a document must be a JSON object, got {type(obj).__name__}")
        doc_id = obj.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise DocumentError(f"{prefix}field 'id' must be a non-empty string, got {doc_id!r}")
        prefix = f"{where} (document {doc_id}): " if where else f"document {doc_id}: "
        text = obj.get("text")
        if not isinstance(text, str):
            raise DocumentError(f"{prefix}field 'text' must be a string, got {type(text).__name__}")
        known = {"id", "text", "layers", "spans", "quotes", "meta"}
        extra = set(obj) - known
        if extra:
            raise DocumentError(f"{prefix}unknown field(s) {sorted(extra)}; allowed: {sorted(known)}")
        layers = obj.get("layers", list(LAYERS) if obj.get("spans") else [])
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise DocumentError(f"{prefix}'layers' must be a list of strings, got {layers!r}")
        spans = [_span_from(s, prefix, i) for i, s in enumerate(_list_field(obj, "spans", prefix))]
        quotes = [_quote_from(q, prefix, i) for i, q in enumerate(_list_field(obj, "quotes", prefix))]
        meta = obj.get("meta", {})
        if not isinstance(meta, dict):
            raise DocumentError(f"{prefix}'meta' must be an object, got {type(meta).__name__}")
        return cls(doc_id, text, layers, spans, quotes, meta)


def _list_field(obj: dict[str, Any], name: str, prefix: str) -> list[Any]:
    value = obj.get(name, [])
    if not isinstance(value, list):
        raise DocumentError(f"{prefix}'{name}' must be a list, got {type(value).__name__}")
    return value


def _span_from(obj: Any, prefix: str, i: int) -> Span:
    if not isinstance(obj, dict):
        raise DocumentError(f"{prefix}spans[{i}] must be an object")
    sid = obj.get("id", f"s{i + 1}")
    for key, typ in (("start", int), ("end", int), ("layer", str), ("label", str)):
        value = obj.get(key)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise DocumentError(f"{prefix}span {sid}: '{key}' must be {typ.__name__}, got {value!r}")
    if not isinstance(sid, str):
        raise DocumentError(f"{prefix}spans[{i}]: 'id' must be a string, got {sid!r}")
    score = obj.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float)) or not -1e300 < score < 1e300):
        shown = "an integer out of range" if isinstance(score, int) and not isinstance(score, bool) else repr(score)[:40]
        raise DocumentError(f"{prefix}span {sid}: 'score' must be a finite number, got {shown}")
    return Span(sid, obj["start"], obj["end"], obj["layer"], obj["label"], score)


def _quote_from(obj: Any, prefix: str, i: int) -> QuoteRecord:
    if not isinstance(obj, dict):
        raise DocumentError(f"{prefix}quotes[{i}] must be an object")
    quote = obj.get("quote")
    if not isinstance(quote, str):
        raise DocumentError(f"{prefix}quotes[{i}]: 'quote' must be a span id string, got {quote!r}")
    for key in ("speaker", "cue", "speaker_name"):
        if obj.get(key) is not None and not isinstance(obj.get(key), str):
            raise DocumentError(f"{prefix}quotes[{i}]: '{key}' must be a string or null, got {obj.get(key)!r}")
    implicit = obj.get("implicit_speaker", False)
    if not isinstance(implicit, bool):
        raise DocumentError(f"{prefix}quotes[{i}]: 'implicit_speaker' must be true/false, got {implicit!r}")
    kind = obj.get("kind", "indirect")
    return QuoteRecord(quote, obj.get("speaker"), obj.get("cue"), kind, implicit, obj.get("speaker_name"))


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def dumps_line(obj: Any) -> str:
    """One JSONL line: UTF-8 text kept readable, but U+2028/U+2029/U+0085 escaped so that
    readers splitting on any line break (``str.splitlines``) never cut a record."""
    return json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS)


def validate(doc: Document, labels: dict[str, Sequence[str]] | None = None, where: str = "") -> list[str]:
    """Return every contract violation of ``doc`` as a message naming the document and span.

    Args:
        doc: the document to check.
        labels: allowed labels per layer; entity labels default to any upper-case
            name (a corpus may declare its own types), attribution labels are fixed.
        where: file:line prefix for messages.
    """
    pre = f"{where} " if where else ""
    errors: list[str] = []
    allowed = {ATTRIBUTION: tuple(ATTRIBUTION_LABELS)}
    if labels:
        allowed.update({k: tuple(v) for k, v in labels.items()})
    for layer in doc.layers:
        if layer not in LAYERS:
            errors.append(f"{pre}{doc.id}: unknown layer {layer!r} in 'layers'; known: {', '.join(LAYERS)}")
    starts, ends = word_boundaries(doc.text)
    seen: set[str] = set()
    n = len(doc.text)
    for s in doc.spans:
        at = f"{pre}{doc.id} span {s.id} [{s.start}:{s.end}]"
        if s.id in seen:
            errors.append(f"{at}: duplicate span id {s.id!r}")
        seen.add(s.id)
        if s.layer not in LAYERS:
            errors.append(f"{at}: unknown layer {s.layer!r}; known: {', '.join(LAYERS)}")
            continue
        if s.layer not in doc.layers:
            errors.append(f"{at}: layer {s.layer!r} is not in the document's 'layers' {doc.layers}")
        if s.layer in allowed and s.label not in allowed[s.layer]:
            errors.append(f"{at}: unknown label {s.label!r} on layer {s.layer}; known: {', '.join(allowed[s.layer])}")
        elif s.layer == ENTITIES and not (s.label.isupper() and s.label.replace("_", "").isalnum()):
            errors.append(f"{at}: entity label {s.label!r} must be upper-case letters/digits/_ (e.g. PER)")
        if not 0 <= s.start < s.end <= n:
            errors.append(f"{at}: offsets out of range (text has {n} characters; need 0 <= start < end <= {n})")
            continue
        if s.start not in starts or s.end not in ends:
            errors.append(f"{at}: span {doc.text[s.start:s.end]!r} is not on word boundaries")
    errors.extend(_overlaps(doc, pre))
    errors.extend(_check_quotes(doc, pre))
    return errors


def _overlaps(doc: Document, pre: str) -> list[str]:
    errors = []
    for layer in LAYERS:
        prev: Span | None = None
        for s in doc.spans_of(layer):
            if prev is not None and s.start < prev.end:
                errors.append(
                    f"{pre}{doc.id}: spans {prev.id} [{prev.start}:{prev.end}] and {s.id} [{s.start}:{s.end}] "
                    f"overlap on layer {layer} (same-layer spans never overlap)"
                )
            if prev is None or s.end > prev.end:
                prev = s
    return errors


def _check_quotes(doc: Document, pre: str) -> list[str]:
    errors = []
    by_id = doc.span_by_id()
    in_record: dict[str, int] = {}
    for i, q in enumerate(doc.quotes):
        at = f"{pre}{doc.id} quote record {i} (quote {q.quote})"
        for role, sid, label in (("quote", q.quote, "QUOTE"), ("speaker", q.speaker, "SPEAKER"), ("cue", q.cue, "CUE")):
            if sid is None:
                if role == "quote":
                    errors.append(f"{at}: 'quote' is required")
                continue
            span = by_id.get(sid)
            if span is None:
                errors.append(f"{at}: {role} points to unknown span id {sid!r}")
            elif span.layer != ATTRIBUTION or span.label != label:
                errors.append(f"{at}: {role} must point to a {label} span, but {sid} is {span.layer}/{span.label}")
        if q.kind not in QUOTE_KINDS:
            errors.append(f"{at}: unknown kind {q.kind!r}; known: {', '.join(QUOTE_KINDS)}")
        if q.quote in in_record:
            errors.append(f"{at}: QUOTE {q.quote} already belongs to quote record {in_record[q.quote]}")
        in_record[q.quote] = i
        if q.implicit_speaker and q.speaker is None:
            errors.append(f"{at}: implicit_speaker is true but 'speaker' is null")
    if ATTRIBUTION in doc.layers:
        for s in doc.spans:
            if s.layer == ATTRIBUTION and s.label == "QUOTE" and s.id not in in_record:
                errors.append(f"{pre}{doc.id} span {s.id} [{s.start}:{s.end}]: QUOTE without a quote record")
    return errors


def read_jsonl(path: str, strict: bool = True) -> Iterable[tuple[int, Document]]:
    """Yield ``(line_number, document)`` from a JSONL file, with errors naming file and line.

    Raises:
        DocumentError: on invalid UTF-8, malformed JSON or a malformed document.
    """
    try:
        fh = open(path, "rb")
    except (IsADirectoryError, PermissionError) as exc:  # FileNotFoundError is left to the caller
        raise DocumentError(f"{path}: cannot read this file ({exc.strerror})") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            yield lineno, parse_jsonl_line(raw, f"{path}:{lineno}")


def parse_jsonl_line(raw: bytes | str, where: str) -> Document:
    """Parse one JSONL line into a document; errors name ``where``."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{where}: invalid UTF-8 at byte {exc.start}: {exc.reason}") from None
    raw = raw.lstrip("\ufeff")
    try:
        obj = loads_json(raw)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{where}: malformed JSON at column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, 5,000-digit numbers, absurd nesting
        raise DocumentError(f"{where}: malformed JSON: {exc}") from None
    problem = json_problem(obj)
    if problem:
        raise DocumentError(f"{where}: {problem}")
    return Document.from_dict(obj, where)


#: Deepest nesting accepted in a JSON line (a document needs 4; ``meta`` gets the rest).
MAX_JSON_DEPTH = 64


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (write null or a finite number)")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {literal[:40]} is out of range")
    return value


def loads_json(raw: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and out-of-range numbers, which cannot be written back as JSON.

    Raises:
        ValueError: (``json.JSONDecodeError`` for syntax errors) on anything that is not strict JSON.
    """
    return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why parsed JSON ``value`` cannot be written back as UTF-8 JSON, or None when it can.

    Finds strings and keys holding an unpaired surrogate (a ``"\\ud800"`` escape)
    and nesting deeper than ``max_depth``. Iterative, so any depth is safe.
    """
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > max_depth:
            return f"JSON nested deeper than {max_depth} levels at '{path}'"
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"{path or 'value'} holds an unpaired surrogate at character {exc.start}"
        elif isinstance(node, dict):
            for key, child in node.items():
                name = key.encode("utf-8", "backslashreplace").decode("utf-8")
                if name != key:
                    return f"key {name!r} in '{path or 'top level'}' holds an unpaired surrogate"
                stack.append((f"{path}.{key}" if path else key, child, depth + 1))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(node))
    return None


# --- BIO <-> spans ---------------------------------------------------------------


def bio_labels(labels: Sequence[str]) -> list[str]:
    """BIO tag set for a layer's labels: ``["O", "B-X", "I-X", ...]``."""
    tags = [OUTSIDE]
    for label in labels:
        tags += [f"B-{label}", f"I-{label}"]
    return tags


def spans_to_bio(n_words: int, word_spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """Encode word-index spans ``(first, last_exclusive, label)`` as BIO tags."""
    tags = [OUTSIDE] * n_words
    for first, last, label in word_spans:
        for k in range(first, last):
            tags[k] = ("B-" if k == first else "I-") + label
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Decode BIO tags into word-index spans ``(first, last_exclusive, label)``.

    Lenient like seqeval's default mode: an ``I-X`` after ``O`` or after another
    label starts a new span, so any tag sequence yields valid, non-crossing spans.
    """
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate(tags):
        prefix, _, name = tag.partition("-")
        if tag == OUTSIDE or prefix not in ("B", "I") or not name:
            if start >= 0:
                spans.append((start, i, label))
            start, label = -1, ""
        elif prefix == "B" or name != label or start < 0:
            if start >= 0:
                spans.append((start, i, label))
            start, label = i, name
    if start >= 0:
        spans.append((start, len(tags), label))
    return spans
