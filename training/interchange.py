"""Interchange with the tools people already use: Label Studio, doccano, CoNLL and Wojood.

Every converter goes through :mod:`araquote.inference.schema`; offsets stay Unicode
code points into the raw text in every format written or read here.

**Label Studio** (:func:`to_labelstudio`, :func:`labelstudio_config`, :func:`from_labelstudio`).
A task is ``{"data": {"id", "text", "layers", "meta"}, "annotations" | "predictions": [{"result": [...]}]}``.
The result list holds:

* one ``labels`` region per span: ``from_name`` is the layer (``attribution`` or
  ``entities``), ``to_name`` is ``text``, ``value`` is ``{start, end, text, labels: [LABEL]}``
  and the region ``id`` is the span id (predictions also carry the span's ``score``);
* per QUOTE region, a per-region ``choices`` result with the same ``id``: ``from_name``
  ``kind`` (``direct`` / ``indirect`` / ``mixed``) and, when the speaker is implicit,
  ``from_name`` ``implicit`` with the choice ``implicit_speaker``. Annotators edit both
  in the region's side panel (they are shown when a QUOTE region is selected);
* ``relation`` results from the QUOTE region to its SPEAKER (``labels: ["speaker"]``)
  and to its CUE (``labels: ["cue"]``). On import the direction does not matter and an
  unlabelled relation takes its role from the label of the non-QUOTE end.

``speaker_name`` (derived by the tagger's resolver) is not exported. Import reads the
last annotation of a task that is not cancelled, rebuilds the quote records (sorted by
quote position), keeps region ids as span ids and validates the documents; every
problem is reported at once with its task id and region id. Label Studio counts offsets
in code points since its 1.x frontends (older versions counted UTF-16 units, which
differ only after emoji); import checks each region's ``text`` against the offsets.

**doccano** (:func:`to_doccano`, :func:`from_doccano`): sequence-labelling JSONL
``{"text", "label": [[start, end, "layer:LABEL"], ...]}``. doccano has one label
namespace, so every label is written ``layer:LABEL`` (``attribution:SPEAKER``,
``entities:PER``); on import a bare label (``PER``) is an entity label and a bare
attribution label is refused as ambiguous. The rest of the document rides along as
doccano metadata, which doccano keeps and exports again: ``doc_id`` (not ``id``, which
doccano overwrites with its own), ``layers``, ``quotes`` (our quote records),
``span_ids`` (``"start:end:layer:LABEL" -> span id``, so unchanged spans keep their ids
and the records stay valid) and ``meta``.

**CoNLL** (:func:`to_conll`): ``WORD TAG`` lines with the BIO tags of one layer, words
from :func:`araquote.inference.text.split_words`, a blank line between documents (or
between sentences, cut only where no span of the layer is open). Documents not
annotated for the layer are skipped: an unannotated layer is unknown, not empty.

**Wojood** (:func:`read_wojood`): nested NER files with ``TOKEN TAG1 [TAG2 ...]`` lines,
one tag column per nesting level, the first column being the outermost level. Only that
column is read (flat, non-overlapping spans for the ``entities`` layer); Wojood's own
21 labels are kept (``PERS`` stays ``PERS`` unless ``map_labels``). Tokens are joined with
single spaces, the ``$#$`` line-break token becomes a newline, and each blank-line
separated sentence is a document (or sentences are packed up to ``doc_tokens`` tokens).
"""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from araquote.inference.schema import (
    ATTRIBUTION,
    ATTRIBUTION_LABELS,
    DEFAULT_ENTITY_LABELS,
    ENTITIES,
    LAYERS,
    QUOTE_KINDS,
    Document,
    DocumentError,
    QuoteRecord,
    Span,
    bio_to_spans,
    read_jsonl,
    spans_to_bio,
    validate,
)
from araquote.inference.text import SENTENCE_END, split_words

from .corpus import LABEL_MAP

TEXT_NAME = "text"
KIND_NAME = "kind"
IMPLICIT_NAME = "implicit"
IMPLICIT_CHOICE = "implicit_speaker"
ROLES = ("speaker", "cue")
ROLE_LABEL = {"speaker": "SPEAKER", "cue": "CUE"}
EXPORT_FORMATS = ("labelstudio", "doccano", "conll")
IMPORT_FORMATS = ("labelstudio", "doccano", "wojood")
WOJOOD_NEWLINE = "$#$"
_PALETTE = ("#f4a261", "#2a9d8f", "#e9c46a", "#8ecae6", "#ffb4a2", "#b5e48c", "#cdb4db", "#ffd6a5", "#a0c4ff")
_TAG_RE = re.compile(r"^(O|[BI]-\S+)$")
MAX_REPORTED = 50


class InterchangeError(DocumentError):
    """A file from (or for) another tool cannot be converted; the message lists every problem found."""


def _raise_all(problems: list[str], what: str) -> None:
    if problems:
        more = f"\n  … and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise InterchangeError(f"{len(problems)} problem(s) in {what}:\n  " + "\n  ".join(problems[:MAX_REPORTED]) + more)


# --- labels ----------------------------------------------------------------------


def labels_for(docs: Iterable[Document], model_dir: str | Path | None = None) -> dict[str, list[str]]:
    """Labels per layer for a labelling config: those used by ``docs`` plus those of a checkpoint.

    A layer that some document is annotated for gets its labels even when no span uses
    them yet (the fixed attribution labels; the default entity labels if none is used).
    """
    seen: dict[str, list[str]] = {}
    for doc in docs:
        for layer in doc.layers:
            seen.setdefault(layer, [])
        for s in doc.spans:
            if s.label not in seen.setdefault(s.layer, []):
                seen[s.layer].append(s.label)
    if model_dir is not None:
        from araquote.inference.model import load_meta

        for layer, names in load_meta(Path(model_dir)).labels.items():
            seen.setdefault(layer, []).extend(n for n in names if n not in seen[layer])
    out: dict[str, list[str]] = {}
    if ATTRIBUTION in seen:
        out[ATTRIBUTION] = list(ATTRIBUTION_LABELS)
    if ENTITIES in seen:
        used = seen[ENTITIES] or list(DEFAULT_ENTITY_LABELS)
        out[ENTITIES] = [x for x in DEFAULT_ENTITY_LABELS if x in used] + sorted(x for x in used if x not in DEFAULT_ENTITY_LABELS)
    return out or {ATTRIBUTION: list(ATTRIBUTION_LABELS), ENTITIES: list(DEFAULT_ENTITY_LABELS)}


# --- Label Studio: export ----------------------------------------------------------


def labelstudio_config(labels: Mapping[str, Sequence[str]]) -> str:
    """The Label Studio labelling config for ``labels`` (layer -> label names).

    One ``<Labels>`` per layer (its name is the layer), the text in a right-to-left
    view, and, when the attribution layer is present, the ``speaker`` / ``cue``
    relations and the per-QUOTE ``kind`` and ``implicit`` choices.
    """
    lines = ["<View>", '  <Header value="$id"/>']
    colour = 0
    for layer in LAYERS:
        if layer not in labels:
            continue
        lines.append(f'  <Labels name="{layer}" toName="{TEXT_NAME}" showInline="true">')
        for name in labels[layer]:
            lines.append(f"    <Label value={quoteattr(name)} background=\"{_PALETTE[colour % len(_PALETTE)]}\"/>")
            colour += 1
        lines.append("  </Labels>")
    lines.append('  <View style="direction: rtl; text-align: right; white-space: pre-wrap; line-height: 2">')
    lines.append(f'    <Text name="{TEXT_NAME}" value="$text"/>')
    lines.append("  </View>")
    if ATTRIBUTION in labels:
        when = 'visibleWhen="region-selected" whenLabelValue="QUOTE"'
        lines += [
            "  <Relations>",
            *(f'    <Relation value="{role}"/>' for role in ROLES),
            "  </Relations>",
            f'  <Choices name="{KIND_NAME}" toName="{TEXT_NAME}" perRegion="true" choice="single" showInline="true" {when}>',
            *(f'    <Choice value="{kind}"/>' for kind in QUOTE_KINDS),
            "  </Choices>",
            f'  <Choices name="{IMPLICIT_NAME}" toName="{TEXT_NAME}" perRegion="true" choice="multiple" {when}>',
            f'    <Choice value="{IMPLICIT_CHOICE}" hint="no SPEAKER in the sentence: the speaker relation points to an earlier mention"/>',
            "  </Choices>",
        ]
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def _region(doc: Document, span: Span, from_name: str, rtype: str, key: str, value: list[str]) -> dict[str, Any]:
    return {
        "id": span.id,
        "from_name": from_name,
        "to_name": TEXT_NAME,
        "type": rtype,
        "value": {"start": span.start, "end": span.end, "text": doc.text[span.start : span.end], key: value},
    }


def _relation(from_id: str, to_id: str, role: str) -> dict[str, Any]:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": "right", "labels": [role]}


def labelstudio_result(doc: Document, scores: bool = False) -> list[dict[str, Any]]:
    """Label Studio result list of one document (regions, per-QUOTE choices, relations)."""
    result: list[dict[str, Any]] = []
    by_id = doc.span_by_id()
    for span in sorted(doc.spans, key=lambda s: (s.start, s.end, s.layer)):
        region = _region(doc, span, span.layer, "labels", "labels", [span.label])
        if scores and span.score is not None:
            region["score"] = round(float(span.score), 4)
        result.append(region)
    for q in doc.quotes:
        quote = by_id[q.quote]
        result.append(_region(doc, quote, KIND_NAME, "choices", "choices", [q.kind]))
        if q.implicit_speaker:
            result.append(_region(doc, quote, IMPLICIT_NAME, "choices", "choices", [IMPLICIT_CHOICE]))
        for role, target in (("speaker", q.speaker), ("cue", q.cue)):
            if target is not None:
                result.append(_relation(q.quote, target, role))
    return result


def to_labelstudio(docs: Iterable[Document], target: str = "annotations", model_version: str = "araquote") -> list[dict[str, Any]]:
    """Documents -> Label Studio tasks, their spans as ``annotations`` or as ``predictions``.

    Predictions carry each span's score and the mean span score as the prediction's
    ``score`` (Label Studio sorts and samples tasks by it).
    """
    if target not in ("annotations", "predictions"):
        raise ValueError(f"unknown Label Studio target {target!r}; known: annotations, predictions")
    tasks = []
    for doc in docs:
        entry: dict[str, Any] = {"result": labelstudio_result(doc, scores=target == "predictions")}
        if target == "predictions":
            scored = [s.score for s in doc.spans if s.score is not None]
            entry["model_version"] = model_version
            if scored:
                entry["score"] = round(sum(scored) / len(scored), 4)
        data = {"id": doc.id, "text": doc.text, "layers": list(doc.layers), "meta": doc.meta}
        tasks.append({"data": data, target: [entry]})
    return tasks


# --- Label Studio: import ----------------------------------------------------------


def labels_from_config(xml: str, where: str = "labelling config") -> dict[str, list[str]]:
    """Allowed labels per layer read from a labelling config's ``<Labels name=LAYER>`` controls."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InterchangeError(f"{where}: not valid XML: {exc}") from None
    out: dict[str, list[str]] = {}
    for control in root.iter("Labels"):
        name = control.get("name", "")
        if name in LAYERS:
            out[name] = [lab.get("value", "") for lab in control.iter("Label")]
    return out


class _Task:
    """Working state while one task's result list is read back."""

    def __init__(self, where: str, text: str) -> None:
        self.where = where
        self.text = text
        self.spans: dict[str, Span] = {}
        self.by_region: dict[str, dict[str, Span]] = {}
        self.kinds: dict[str, str] = {}
        self.implicit: set[str] = set()
        self.relations: list[tuple[str, str, str, str]] = []  # (where, from, to, role or "")
        self.problems: list[str] = []

    def error(self, rid: str | None, message: str) -> None:
        at = f"{self.where} region {rid}" if rid else self.where
        self.problems.append(f"{at}: {message}")


def _visible(s: str) -> str:
    return "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch) == "Cf"))


def _offsets(task: _Task, rid: str, value: Any) -> tuple[int, int] | None:
    if not isinstance(value, dict):
        task.error(rid, "'value' must be an object with start and end")
        return None
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        task.error(rid, f"'start'/'end' must be integer character offsets, got {start!r}/{end!r}")
        return None
    if not 0 <= start < end <= len(task.text):
        task.error(rid, f"offsets {start}:{end} out of range (text has {len(task.text)} characters)")
        return None
    shown = value.get("text")
    if isinstance(shown, str) and _visible(shown) != _visible(task.text[start:end]):
        task.error(rid, f"offsets {start}:{end} select {task.text[start:end]!r} but the region's text is {shown!r} "
                        "(does the tool count UTF-16 units instead of code points?)")
        return None
    return start, end


def _read_labels(task: _Task, item: dict[str, Any], rid: str, allowed: Mapping[str, Sequence[str]]) -> None:
    layer = item.get("from_name")
    if layer not in LAYERS:
        task.error(rid, f"labels from unknown control {layer!r}; known: {', '.join(LAYERS)}")
        return
    value = item.get("value")
    names = value.get("labels") if isinstance(value, dict) else None
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        task.error(rid, f"a region needs exactly one label of {layer!r}, got {names!r}")
        return
    label = names[0]
    known = allowed.get(layer)
    if known is not None and label not in known:
        task.error(rid, f"unknown label {label!r} for {layer!r}; known: {', '.join(known)}")
        return
    offsets = _offsets(task, rid, value)
    if offsets is None:
        return
    layers = task.by_region.setdefault(rid, {})
    if layer in layers:
        task.error(rid, f"region has two {layer!r} results")
        return
    sid = rid if not layers else f"{rid}-{layer}"  # one region labelled on both layers: two spans
    span = Span(sid, offsets[0], offsets[1], layer, label)
    layers[layer] = task.spans[sid] = span


def _read_choices(task: _Task, item: dict[str, Any], rid: str) -> None:
    value = item.get("value")
    choices = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(choices, list):
        task.error(rid, f"choices result without a 'choices' list: {value!r}")
        return
    if item.get("from_name") == KIND_NAME:
        if len(choices) != 1 or choices[0] not in QUOTE_KINDS:
            task.error(rid, f"kind must be one of {', '.join(QUOTE_KINDS)}, got {choices!r}")
            return
        task.kinds[rid] = choices[0]
    elif choices:
        if choices != [IMPLICIT_CHOICE]:
            task.error(rid, f"'{IMPLICIT_NAME}' choices must be [{IMPLICIT_CHOICE!r}] or empty, got {choices!r}")
            return
        task.implicit.add(rid)


def _read_result(task: _Task, result: Any, allowed: Mapping[str, Sequence[str]]) -> None:
    if not isinstance(result, list):
        task.error(None, f"'result' must be a list, got {type(result).__name__}")
        return
    for k, item in enumerate(result):
        if not isinstance(item, dict):
            task.error(None, f"result[{k}] must be an object")
            continue
        rtype, rid = item.get("type"), str(item.get("id", f"#{k}"))
        if rtype == "relation":
            role = item.get("labels") or [""]
            task.relations.append((f"relation {item.get('from_id')}->{item.get('to_id')}", str(item.get("from_id")),
                                   str(item.get("to_id")), role[0] if isinstance(role, list) and len(role) == 1 else str(role)))
        elif rtype == "labels":
            _read_labels(task, item, rid, allowed)
        elif rtype == "choices" and item.get("from_name") in (KIND_NAME, IMPLICIT_NAME):
            _read_choices(task, item, rid)
        elif item.get("from_name") in LAYERS:
            task.error(rid, f"result of type {rtype!r} from {item.get('from_name')!r}; expected type 'labels'")
        # results of other controls (comments, ratings …) are not part of the corpus and are ignored


def _attribution_span(task: _Task, rid: str) -> Span | None:
    return task.by_region.get(rid, {}).get(ATTRIBUTION)


def _link(task: _Task, records: dict[str, QuoteRecord]) -> None:
    for what, a, b, role in task.relations:
        if a not in task.by_region or b not in task.by_region:
            missing = [x for x in (a, b) if x not in task.by_region]
            task.error(None, f"{what}: dangling relation, no labelled region {', '.join(missing)}")
            continue
        ends = [_attribution_span(task, a), _attribution_span(task, b)]
        quotes = [s for s in ends if s is not None and s.label == "QUOTE"]
        others = [s for s in ends if s is not None and s.label != "QUOTE"]
        if len(quotes) != 1 or len(others) != 1:
            task.error(None, f"{what}: a relation must join one QUOTE and one SPEAKER or CUE region of the attribution layer")
            continue
        quote, other = quotes[0], others[0]
        role = role or {v: k for k, v in ROLE_LABEL.items()}.get(other.label, "")
        if role not in ROLES or other.label != ROLE_LABEL[role]:
            task.error(None, f"{what}: relation {role!r} from QUOTE to a {other.label}; known: speaker -> SPEAKER, cue -> CUE")
            continue
        record = records[quote.id]
        if getattr(record, role) is not None:
            task.error(None, f"{what}: QUOTE {quote.id} already has a {role} ({getattr(record, role)})")
            continue
        setattr(record, role, other.id)


def _records(task: _Task, default_kind: str | None) -> list[QuoteRecord]:
    quotes = {s.id: s for s in task.spans.values() if s.layer == ATTRIBUTION and s.label == "QUOTE"}
    records = {qid: QuoteRecord(qid) for qid in quotes}
    for rid in [*task.kinds, *task.implicit]:
        if rid not in task.by_region:
            task.error(rid, "kind/implicit choice for a region that has no label (dangling)")
        elif rid not in quotes:
            task.error(rid, f"kind/implicit choice on a {'/'.join(s.label for s in task.by_region[rid].values())} region; only QUOTE regions take them")
    for qid, record in records.items():
        kind = task.kinds.get(qid, default_kind)
        if kind is None:
            task.error(qid, f"QUOTE has no kind; choose {', '.join(QUOTE_KINDS)} in '{KIND_NAME}'")
        record.kind = kind or "indirect"
        record.implicit_speaker = qid in task.implicit
    _link(task, records)
    return [records[q.id] for q in sorted(quotes.values(), key=lambda s: (s.start, s.end))]


def _pick_annotation(task: dict[str, Any]) -> dict[str, Any] | None:
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    return annotations[-1] if annotations else None


def _task_document(task: Any, k: int, allowed: Mapping[str, Sequence[str]], default_kind: str | None,
                   problems: list[str]) -> Document | None:
    tid = task.get("id", k) if isinstance(task, dict) else k
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get(TEXT_NAME), str):
        problems.append(f"task {tid}: needs data.text (a string)")
        return None
    annotation = _pick_annotation(task)
    if annotation is None:
        return None
    doc_id = str(data.get("id") or f"task-{tid}")
    work = _Task(f"task {tid} (document {doc_id})", data[TEXT_NAME])
    _read_result(work, annotation.get("result"), allowed)
    quotes = _records(work, default_kind)
    layers, meta = data.get("layers", list(LAYERS)), data.get("meta", {})
    if not isinstance(layers, list) or not isinstance(meta, dict):
        work.error(None, "data.layers must be a list and data.meta an object")
        layers, meta = list(LAYERS), {}
    doc = Document(doc_id, work.text, layers, list(work.spans.values()), quotes, meta)
    if not work.problems:
        work.problems.extend(validate(doc, labels=dict(allowed), where=f"task {tid}"))
    problems.extend(work.problems)
    return doc


def from_labelstudio(tasks: Any, labels: Mapping[str, Sequence[str]] | None = None, default_kind: str | None = None,
                     where: str = "Label Studio export") -> list[Document]:
    """Label Studio JSON export (a list of tasks with ``annotations``) -> validated documents.

    Args:
        tasks: the parsed export.
        labels: allowed labels per layer (e.g. from :func:`labels_from_config`); by default
            attribution labels are the fixed three and entity labels any upper-case name.
        default_kind: kind of a QUOTE region without a ``kind`` choice; None makes it an error.
        where: the file name, for messages.

    Tasks without a usable (non-cancelled) annotation are skipped.

    Raises:
        InterchangeError: listing every problem, each with its task id and region id.
    """
    if not isinstance(tasks, list):
        raise InterchangeError(f"{where}: expected a JSON list of tasks, got {type(tasks).__name__}")
    if default_kind is not None and default_kind not in QUOTE_KINDS:
        raise ValueError(f"unknown default kind {default_kind!r}; known: {', '.join(QUOTE_KINDS)}")
    allowed = {ATTRIBUTION: list(ATTRIBUTION_LABELS), **(labels or {})}
    problems: list[str] = []
    docs = [d for k, t in enumerate(tasks) if (d := _task_document(t, k, allowed, default_kind, problems)) is not None]
    _raise_all(problems, where)
    return docs


# --- doccano ------------------------------------------------------------------------


def _span_key(start: int, end: int, tag: str) -> str:
    return f"{start}:{end}:{tag}"


def to_doccano(doc: Document) -> dict[str, Any]:
    """One document -> one doccano sequence-labelling JSONL object (see the module docstring)."""
    spans = sorted(doc.spans, key=lambda s: (s.start, s.end, s.layer))
    return {
        "doc_id": doc.id,
        "text": doc.text,
        "label": [[s.start, s.end, f"{s.layer}:{s.label}"] for s in spans],
        "layers": list(doc.layers),
        "quotes": [q.to_dict() for q in doc.quotes],
        "span_ids": {_span_key(s.start, s.end, f"{s.layer}:{s.label}"): s.id for s in spans},
        "meta": doc.meta,
    }


def _doccano_label(tag: Any, at: str) -> tuple[str, str]:
    if not isinstance(tag, str) or not tag:
        raise InterchangeError(f"{at}: label must be a non-empty string, got {tag!r}")
    layer, sep, label = tag.partition(":")
    if not sep:
        if tag in ATTRIBUTION_LABELS:
            raise InterchangeError(f"{at}: bare label {tag!r} is ambiguous; write 'attribution:{tag}' (entities: 'entities:{tag}')")
        return ENTITIES, tag
    if layer not in LAYERS:
        raise InterchangeError(f"{at}: unknown layer {layer!r} in label {tag!r}; known: {', '.join(LAYERS)}")
    return layer, label


def _doccano_triples(obj: dict[str, Any], at: str) -> list[tuple[int, int, str]]:
    if "entities" in obj and "label" not in obj:  # doccano's newer export: [{start_offset, end_offset, label}]
        items = [[e.get("start_offset"), e.get("end_offset"), e.get("label")] if isinstance(e, dict) else e
                 for e in obj.get("entities") or []]
    else:
        items = obj.get("label") or []
    if not isinstance(items, list):
        raise InterchangeError(f"{at}: 'label' must be a list of [start, end, label]")
    out = []
    for k, item in enumerate(items):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], str)
                and all(isinstance(x, int) and not isinstance(x, bool) for x in item[:2])):
            raise InterchangeError(f"{at}: label[{k}] must be [start, end, \"layer:LABEL\"], got {item!r}")
        out.append((item[0], item[1], item[2]))
    return out


def from_doccano(obj: Any, at: str) -> Document:
    """One doccano JSONL object -> a document (not yet validated); ``at`` is ``file:line``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise InterchangeError(f"{at}: a doccano line must be an object with a 'text' string")
    doc_id = str(obj.get("doc_id") or obj.get("id") or at)
    at = f"{at} (document {doc_id})"
    ids = obj.get("span_ids") if isinstance(obj.get("span_ids"), dict) else {}
    spans: list[Span] = []
    used: set[str] = set()
    seen: set[tuple[int, int, str]] = set()
    for start, end, tag in sorted(set(_doccano_triples(obj, at)), key=lambda t: (t[0], t[1], str(t[2]))):
        layer, label = _doccano_label(tag, f"{at} label {start}:{end}")
        if (start, end, f"{layer}:{label}") in seen:
            continue
        seen.add((start, end, f"{layer}:{label}"))
        sid = ids.get(_span_key(start, end, f"{layer}:{label}"))
        spans.append(Span(sid if isinstance(sid, str) and sid not in used else "", start, end, layer, label))
        used.add(spans[-1].id)
    _fill_ids(spans)
    layers = obj.get("layers") or [x for x in LAYERS if any(s.layer == x for s in spans)] or [ENTITIES]
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise InterchangeError(f"{at}: 'layers' must be a list of layer names, got {layers!r}")
    quotes = [_quote(q, doc_id, at, {s.id for s in spans}) for q in obj.get("quotes") or []]
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    return Document(doc_id, obj["text"], list(layers), spans, quotes, meta)


def _fill_ids(spans: list[Span]) -> None:
    """Give fresh ``sN`` ids to spans without one (new in the tool), after the highest existing number."""
    numbers = [int(s.id[1:]) for s in spans if re.fullmatch(r"s\d+", s.id)]
    n = max(numbers, default=0)
    for s in spans:
        if not s.id:
            n += 1
            s.id = f"s{n}"


def _quote(obj: Any, doc_id: str, at: str, ids: set[str]) -> QuoteRecord:
    # the schema's own parser checks the record's fields and types
    record = Document.from_dict({"id": doc_id, "text": "", "quotes": [obj]}, at).quotes[0]
    for role in ("quote", "speaker", "cue"):
        sid = getattr(record, role)
        if sid is not None and sid not in ids:
            raise InterchangeError(f"{at}: quote record of {record.quote} points to {role} {sid!r}, "
                                   "a span no longer in 'label' (edited in doccano?); fix or drop the record")
    return record


# --- CoNLL ------------------------------------------------------------------------------


def conll_sentences(doc: Document, layer: str, sentences: bool = False) -> list[list[tuple[str, str]]]:
    """``(word, BIO tag)`` rows of one layer, as one block or cut into sentences.

    A sentence ends at sentence-final punctuation or a line break, unless a span of the
    layer continues past it (a QUOTE over several sentences stays in one block).
    """
    words = split_words(doc.text)
    index = {w.start: k for k, w in enumerate(words)}
    ends = {w.end: k for k, w in enumerate(words)}
    word_spans = []
    for s in doc.spans_of(layer):
        first = index.get(s.start, next((k for k, w in enumerate(words) if w.end > s.start), len(words)))
        last = ends.get(s.end, max((k for k, w in enumerate(words) if w.start < s.end), default=first))
        word_spans.append((first, last + 1, s.label))
    tags = spans_to_bio(len(words), word_spans)
    rows = [(w.text, t) for w, t in zip(words, tags, strict=True)]
    if not sentences:
        return [rows] if rows else []
    blocks: list[list[tuple[str, str]]] = [[]]
    for k, row in enumerate(rows):
        blocks[-1].append(row)
        if k + 1 == len(rows) or tags[k + 1].startswith("I-"):
            continue
        if row[0] in SENTENCE_END or "\n" in doc.text[words[k].end : words[k + 1].start]:
            blocks.append([])
    return [b for b in blocks if b]


def to_conll(docs: Iterable[Document], layer: str, sentences: bool = False) -> Iterator[str]:
    """Lines of a ``WORD TAG`` file for one layer (documents not annotated for it are skipped)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    for doc in docs:
        if layer not in doc.layers:
            continue
        for block in conll_sentences(doc, layer, sentences):
            yield from (f"{word} {tag}\n" for word, tag in block)
            yield "\n"


# --- Wojood ----------------------------------------------------------------------------


def _wojood_sentences(path: Path) -> list[list[tuple[str, str, int]]]:
    """Blank-line separated sentences of ``(token, outermost tag, line number)``."""
    sentences: list[list[tuple[str, str, int]]] = [[]]
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                if sentences[-1]:
                    sentences.append([])
                continue
            if len(parts) < 2:
                raise InterchangeError(f"{path}:{lineno}: expected 'TOKEN TAG [TAG ...]', got {line.rstrip()!r}")
            bad = [t for t in parts[1:] if not _TAG_RE.match(t)]
            if bad:
                raise InterchangeError(f"{path}:{lineno}: tag {bad[0]!r} is not O, B-X or I-X")
            sentences[-1].append((parts[0], parts[1], lineno))
    return [s for s in sentences if s]


def _wojood_document(doc_id: str, tokens: list[tuple[str, str, int]], source: str, map_labels: bool) -> Document:
    parts: list[str] = []
    kept: list[tuple[int, int, str]] = []  # (start, end, tag) of each text token
    pos, sep = 0, ""
    for token, tag, _ in tokens:
        if token == WOJOOD_NEWLINE:
            sep = "\n" if parts else ""
            continue
        if parts:
            parts.append(sep or " ")
            pos += len(parts[-1])
        parts.append(token)
        kept.append((pos, pos + len(token), tag))
        pos, sep = pos + len(token), ""
    spans = []
    for k, (first, last, label) in enumerate(bio_to_spans([t for _, _, t in kept])):
        label = LABEL_MAP.get(label, label) if map_labels else label
        spans.append(Span(f"s{k + 1}", kept[first][0], kept[last - 1][1], ENTITIES, label))
    text = "".join(parts)
    return Document(doc_id, text, [ENTITIES], spans, [], {"source": f"{source}:{tokens[0][2]}"})


def read_wojood(path: str | Path, doc_tokens: int = 0, map_labels: bool = False) -> list[Document]:
    """Read a Wojood file (outermost nesting level only) into entity-only documents.

    Args:
        path: ``train.txt`` / ``val.txt`` / ``test.txt`` of Wojood.
        doc_tokens: pack consecutive sentences into documents of about this many tokens
            (0 = one document per sentence); packed sentences are separated by newlines.
        map_labels: map ``PERS`` -> ``PER`` like the ANERcorp reader (default: keep Wojood's labels).
    """
    p = Path(path)
    docs: list[Document] = []
    group: list[tuple[str, str, int]] = []
    for sentence in _wojood_sentences(p):
        if group and (doc_tokens <= 0 or len(group) + len(sentence) > doc_tokens):
            docs.append(_wojood_document(f"wojood-{p.stem}-{len(docs) + 1:05d}", group, p.name, map_labels))
            group = []
        if group:
            group.append((WOJOOD_NEWLINE, "O", sentence[0][2]))
        group.extend(sentence)
    if group:
        docs.append(_wojood_document(f"wojood-{p.stem}-{len(docs) + 1:05d}", group, p.name, map_labels))
    return docs


# --- files ---------------------------------------------------------------------------------


def _read_docs(path: str | Path) -> list[Document]:
    return [doc for _, doc in read_jsonl(str(path))]


def _write_text(path: str | Path, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def config_path(out: str | Path) -> Path:
    """Where the Label Studio labelling config goes beside ``out``: ``tasks.json`` -> ``tasks.config.xml``."""
    return Path(out).with_suffix(".config.xml")


def export_file(fmt: str, source: str | Path, out: str | Path, layer: str = ENTITIES, target: str = "auto",
                model_dir: str | Path | None = None, sentences: bool = False) -> dict[str, Any]:
    """Convert a corpus/tagged JSONL file for another tool; returns what was written.

    Args:
        fmt: labelstudio (also writes the labelling config), doccano or conll.
        source: corpus or tagged JSONL.
        out: output file.
        layer: conll only: the layer whose tags are written.
        target: labelstudio only: annotations, predictions, or auto (predictions when spans have scores).
        model_dir: labelstudio only: a checkpoint whose labels join the config's.
        sentences: conll only: a blank line between sentences, not only between documents.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")
    docs = _read_docs(source)
    counts: dict[str, Any] = {"documents": len(docs), "output": str(out)}
    if fmt == "labelstudio":
        if target == "auto":
            target = "predictions" if any(s.score is not None for d in docs for s in d.spans) else "annotations"
        _write_text(out, json.dumps(to_labelstudio(docs, target), ensure_ascii=False, indent=1) + "\n")
        _write_text(config_path(out), labelstudio_config(labels_for(docs, model_dir)))
        counts.update(target=target, config=str(config_path(out)))
    elif fmt == "doccano":
        _write_text(out, "".join(json.dumps(to_doccano(d), ensure_ascii=False) + "\n" for d in docs))
    else:
        _write_text(out, "".join(to_conll(docs, layer, sentences)))
        counts.update(layer=layer, skipped_not_annotated=sum(layer not in d.layers for d in docs))
    return counts


def _import_doccano(source: Path) -> list[Document]:
    docs, problems = [], []
    with source.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            at = f"{source}:{lineno}"
            try:
                doc = from_doccano(json.loads(raw.decode("utf-8").lstrip("\ufeff")), at)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{at}: not a JSON line: {exc}")
                continue
            except DocumentError as exc:
                problems.append(str(exc))
                continue
            problems.extend(validate(doc, where=at))
            docs.append(doc)
    _raise_all(problems, str(source))
    return docs


def import_file(fmt: str, source: str | Path, out: str | Path, doc_tokens: int = 0, default_kind: str | None = None,
                config: str | Path | None = None) -> dict[str, Any]:
    """Convert another tool's file into corpus JSONL (validated); returns counts.

    Args:
        fmt: labelstudio (JSON export), doccano (JSONL) or wojood (a Wojood ``.txt``).
        source: the input file.
        out: the corpus JSONL to write.
        doc_tokens: wojood only: pack sentences into documents of about this many tokens.
        default_kind: labelstudio only: kind of QUOTE regions without one (default: an error).
        config: labelstudio only: the labelling config whose labels are the allowed ones.
    """
    if fmt not in IMPORT_FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; known: {', '.join(IMPORT_FORMATS)}")
    src = Path(source)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    counts: dict[str, Any] = {}
    if fmt == "labelstudio":
        try:
            tasks = json.loads(src.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InterchangeError(f"{src}: not a Label Studio JSON export: {exc}") from None
        labels = labels_from_config(Path(config).read_text(encoding="utf-8"), str(config)) if config else None
        docs = from_labelstudio(tasks, labels, default_kind, str(src))
        counts["skipped_unannotated"] = len(tasks) - len(docs)
    elif fmt == "doccano":
        docs = _import_doccano(src)
    else:
        docs = read_wojood(src, doc_tokens=doc_tokens)
        problems = [p for d in docs for p in validate(d, where=str(src))]
        _raise_all(problems, str(src))
    _write_text(out, "".join(d.to_json() + "\n" for d in docs))
    counts.update(documents=len(docs), spans=sum(len(d.spans) for d in docs), output=str(out))
    return counts
