"""``araquote quotes``: quote records of tagged JSONL as lines or a per-speaker table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from .schema import Document, read_jsonl


@dataclass
class QuoteLine:
    doc_id: str
    speaker: str
    cue: str
    quote: str
    kind: str
    implicit: bool


def iter_quotes(doc: Document) -> Iterator[QuoteLine]:
    """Each record of ``doc`` as text: speaker name (or span text), cue, quote."""
    by_id = doc.span_by_id()

    def text_of(sid: str | None) -> str:
        s = by_id.get(sid) if sid else None
        return doc.text[s.start : s.end] if s else ""

    for q in doc.quotes:
        speaker = q.speaker_name or text_of(q.speaker) or "?"
        yield QuoteLine(doc.id, speaker, text_of(q.cue), text_of(q.quote), q.kind, q.implicit_speaker)


def format_quote(line: QuoteLine, width: int = 120) -> str:
    """``SPEAKER —CUE→ «QUOTE»`` (quote shortened to ``width`` characters)."""
    quote = line.quote if len(line.quote) <= width else line.quote[: width - 1] + "…"
    implicit = " (implicit)" if line.implicit else ""
    return f"{line.speaker}{implicit} —{line.cue or '∅'}→ «{quote}» [{line.kind}]"


def print_quotes(path: str, by_speaker: bool = False) -> None:
    lines = [ql for _, doc in read_jsonl(path) for ql in iter_quotes(doc)]
    if not by_speaker:
        for ql in lines:
            print(f"{ql.doc_id}\t{format_quote(ql)}")
        return
    groups: dict[str, list[QuoteLine]] = defaultdict(list)
    for ql in lines:
        groups[ql.speaker].append(ql)
    print(f"{'speaker':40} {'quotes':>6} {'docs':>5}  first quote")
    for speaker, qs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        docs = len({q.doc_id for q in qs})
        print(f"{speaker[:40]:40} {len(qs):>6} {docs:>5}  «{qs[0].quote[:60]}»")
