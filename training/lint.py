"""``araquote data lint``: likely misses and inconsistencies in an annotated corpus.

Rules (each flag is ``RULE doc-id [start:end] 'text': message``):

* ``missed-quote``: a reporting verb followed, within its clause, by a
  complementiser (إن/أن/بأن) or by a colon and an opening quotation mark, where
  neither the verb is a CUE nor the complementiser/mark touches a QUOTE
  (prayers "سائلا الله أن" and the preposition بين "between" are skipped).
* ``label-conflict``: the same entity string labelled differently in different places.
* ``kind-marks``: a QUOTE whose record kind disagrees with its quotation marks.
* ``boundary``: a span that starts or ends inside a word (from the validator).

A flag can be accepted in the allow-list (YAML: ``- {rule, doc, text, reason}``);
every entry needs a reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import yaml

from araquote.inference.attribution import quote_kind
from araquote.inference.rules import COMPLEMENTISERS, fold, is_cue
from araquote.inference.schema import ATTRIBUTION, ENTITIES, Document, read_jsonl, validate
from araquote.inference.text import split_words

_OPEN = "«“\"„"
_WINDOW = 10
_AMBIGUOUS = frozenset({"بين", "وبين", "نقل"})  # "between", "transport": rarely reporting verbs


def _covered(doc: Document, label: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in doc.spans if s.layer == ATTRIBUTION and s.label == label]


def _inside(pos: int, ranges: Sequence[tuple[int, int]], slack: int = 2) -> bool:
    return any(a - slack <= pos < b + slack for a, b in ranges)


def missed_quotes(doc: Document) -> list[tuple[str, int, int, str]]:
    """Cue verbs that introduce a complement or quotation that is not annotated."""
    if ATTRIBUTION not in doc.layers:
        return []
    words = split_words(doc.text)
    cues, quotes = _covered(doc, "CUE"), _covered(doc, "QUOTE")
    flags = []
    for i, w in enumerate(words):
        if not w.text[0].isalnum() or not is_cue(w.text) or _inside(w.start, cues, 0) or fold(w.text) in _AMBIGUOUS:
            continue
        for j in range(i + 1, min(len(words), i + _WINDOW)):
            wj = words[j]
            if wj.text in ".؟?!" or (j > i + 1 and is_cue(wj.text)) or "\n" in doc.text[words[j - 1].end : wj.start]:
                break
            direct = wj.text in _OPEN and words[j - 1].text == ":"
            if (COMPLEMENTISERS.match(fold(wj.text)) and fold(words[j - 1].text) != "الله") or direct:
                if not _inside(wj.start, quotes):
                    flags.append(("missed-quote", w.start, wj.end, "reporting verb + complement/quotation with no QUOTE"))
                break
    return flags


def kind_marks(doc: Document) -> list[tuple[str, int, int, str]]:
    by_id = doc.span_by_id()
    out = []
    for q in doc.quotes:
        span = by_id.get(q.quote)
        if span is None:
            continue
        found = quote_kind(doc.text, span)
        if found != q.kind:
            out.append(("kind-marks", span.start, span.end, f"kind is {q.kind} but the marks say {found}"))
    return out


def label_conflicts(docs: Sequence[Document]) -> list[tuple[str, str, int, int, str]]:
    seen: dict[str, dict[str, list[tuple[str, int, int]]]] = defaultdict(lambda: defaultdict(list))
    for d in docs:
        for s in d.spans:
            if s.layer == ENTITIES:
                key = " ".join(fold(w.text) for w in split_words(d.text[s.start : s.end]))
                seen[key][s.label].append((d.id, s.start, s.end))
    out = []
    for by_label in seen.values():
        if len(by_label) < 2:
            continue
        major = max(by_label, key=lambda lab: len(by_label[lab]))
        for label, places in by_label.items():
            if label == major:
                continue
            for doc_id, a, b in places:
                out.append(("label-conflict", doc_id, a, b, f"labelled {label} here, {major} in {len(by_label[major])} other place(s)"))
    return out


def lint_docs(docs: Sequence[Document]) -> list[tuple[str, str, int, int, str, str]]:
    """All flags as ``(rule, doc_id, start, end, text, message)``."""
    flags = []
    texts = {d.id: d.text for d in docs}
    for d in docs:
        for rule, a, b, msg in missed_quotes(d) + kind_marks(d):
            flags.append((rule, d.id, a, b, d.text[a:b], msg))
        for err in validate(d):
            if "word boundaries" in err:
                flags.append(("boundary", d.id, 0, 0, "", err))
    for rule, doc_id, a, b, msg in label_conflicts(docs):
        flags.append((rule, doc_id, a, b, texts[doc_id][a:b], msg))
    return flags


def load_allow(path: str | Path) -> list[dict[str, str]]:
    p = Path(path)
    if not p.exists():
        return []
    entries = yaml.safe_load(p.read_text(encoding="utf-8")) or []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or not {"rule", "doc", "text", "reason"} <= set(e) or not str(e["reason"]).strip():
            raise ValueError(f"{p}: entry {k} needs rule, doc, text and a non-empty reason; got {e!r}")
    return entries


def lint_files(files: Sequence[str], allow: str | Path) -> tuple[list[str], int]:
    """Lint corpus files; returns the flags not in the allow-list (as lines) and how many were allowed."""
    docs = [doc for f in files for _, doc in read_jsonl(f)]
    allowed = {(e["rule"], e["doc"], e["text"]) for e in load_allow(allow)}
    out, n_allowed = [], 0
    for rule, doc_id, a, b, text, msg in lint_docs(docs):
        if (rule, doc_id, text) in allowed:
            n_allowed += 1
            continue
        out.append(f"{rule} {doc_id} [{a}:{b}] {text!r}: {msg}")
    return out, n_allowed
