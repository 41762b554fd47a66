"""Tagged documents -> one self-contained, right-to-left HTML page.

The page has one section per article: the text with attribution spans
(SPEAKER, CUE, QUOTE) and entity spans (any label set) highlighted, the quote
records as blocks with their speaker and cue, and a "who said what" table.
Hovering a span shows its label and confidence (the span score).

Every piece of input (text, ids, labels, meta, error reasons) goes through
:func:`html.escape` with ``quote=True``; element ids are made from positions,
never from input. The inline style and script are pinned by hash in a
Content-Security-Policy, so even a markup bug cannot run injected script.

Nesting: attribution spans are the outer layer and entity spans the inner
one. Spans of the two layers may cross; an entity that crosses an attribution
boundary is split there into pieces, so the markup always nests.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import html
import json
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import ATTRIBUTION, ATTRIBUTION_LABELS, DEFAULT_ENTITY_LABELS, ENTITIES, Document, QuoteRecord, Span

#: Colours of the usual entity labels; other labels get a colour from a hash of their name.
ENTITY_COLOURS: dict[str, str] = {
    "PER": "hsl(210, 85%, 84%)",
    "ORG": "hsl(140, 55%, 80%)",
    "LOC": "hsl(35, 95%, 78%)",
    "MISC": "hsl(285, 55%, 85%)",
}

CSS = """
:root { --quote: #fff4c2; --speaker: #1d4ed8; --cue: #b91c1c; --ink: #1f2328; --muted: #57606a; }
* { box-sizing: border-box; }
body { font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "DejaVu Sans", "Arial", sans-serif;
  color: var(--ink); background: #f6f8fa; margin: 0; padding: 1rem 1.5rem; line-height: 1.9; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline; }
h1 { font-size: 1.4rem; margin: .2rem 0; }
h2 { font-size: 1.15rem; margin: 0 0 .4rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: .4rem; font-size: .85rem; }
.legend span { padding: 0 .4rem; border-radius: .25rem; }
.toggles { font-size: .85rem; color: var(--muted); }
article { background: #fff; border: 1px solid #d0d7de; border-radius: .5rem; padding: 1rem 1.25rem; margin: 1rem 0; }
.meta { font-size: .8rem; color: var(--muted); margin: 0 0 .5rem; }
.meta span { margin-inline-end: 1rem; unicode-bidi: isolate; }
.text { white-space: pre-wrap; font-size: 1.05rem; }
.att.a-quote { background: var(--quote); border-bottom: 2px solid #e3b341; }
.att.a-speaker { color: var(--speaker); font-weight: 700; border-bottom: 2px solid var(--speaker); }
.att.a-cue { color: var(--cue); font-weight: 700; text-decoration: underline dotted; }
.att.a-other { outline: 1px dashed var(--muted); }
mark.ent { color: inherit; border-radius: .2rem; padding: 0 .1rem; }
.hide-ent mark.ent { background: none !important; padding: 0; }
.hide-att .att { background: none; color: inherit; font-weight: inherit; border: 0; text-decoration: none; }
.att.hot { outline: 2px solid #0969da; }
blockquote.qrec { margin: .5rem 0; padding: .4rem .8rem; border-inline-start: 4px solid #e3b341;
  background: #fffbea; border-radius: .25rem; }
blockquote.qrec .who { margin: 0; font-size: .9rem; color: var(--muted); }
blockquote.qrec .who b { color: var(--speaker); }
blockquote.qrec .who .cue { color: var(--cue); }
blockquote.qrec .q { margin: .2rem 0 0; white-space: pre-wrap; }
.badge { font-size: .75rem; border: 1px solid #d0d7de; border-radius: 1rem; padding: 0 .45rem; margin-inline-start: .3rem; }
table.who-said { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.who-said th, table.who-said td { border: 1px solid #d0d7de; padding: .25rem .5rem; vertical-align: top; text-align: start; }
table.who-said th { background: #f6f8fa; }
.none { color: var(--muted); font-style: italic; }
.errors { background: #fff1f0; border-color: #ffb3ad; }
""".strip()

JS = """
(function () {
  function toggle(id, cls) {
    var box = document.getElementById(id);
    if (!box) { return; }
    box.addEventListener('change', function () { document.body.classList.toggle(cls, !box.checked); });
  }
  toggle('show-ent', 'hide-ent');
  toggle('show-att', 'hide-att');
  function mark(ev, on) {
    var el = ev.target.closest ? ev.target.closest('[data-links]') : null;
    if (!el) { return; }
    el.getAttribute('data-links').split(' ').forEach(function (id) {
      var other = document.getElementById(id);
      if (other) { other.classList.toggle('hot', on); }
    });
  }
  document.addEventListener('mouseover', function (ev) { mark(ev, true); });
  document.addEventListener('mouseout', function (ev) { mark(ev, false); });
})();
""".strip()


def csp_hash(source: str) -> str:
    """Content-Security-Policy source that allows exactly this inline script or style."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


#: CSP source of the page's one inline script (the style varies with the label set, so it is hashed per page).
SCRIPT_HASH = csp_hash(JS)


def esc(value: Any) -> str:
    """Escape any value for HTML text or a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def label_colour(label: str) -> str:
    """Background colour of an entity label: fixed for PER/ORG/LOC/MISC, a stable hash hue otherwise."""
    if label in ENTITY_COLOURS:
        return ENTITY_COLOURS[label]
    hue = zlib.crc32(label.encode("utf-8")) % 360
    return f"hsl({hue}, 70%, 84%)"


@dataclass
class _Mark:
    """A span clipped to the text, with the element id and hover title it renders with."""

    span: Span
    start: int
    end: int
    elem_id: str
    title: str


@dataclass
class _DocView:
    """Everything needed to render one document: clipped spans per layer and span id -> mark."""

    doc: Document
    index: int
    attribution: list[_Mark]
    entities: list[_Mark]
    by_span_id: dict[str, _Mark]
    entity_ends: list[int] = field(default_factory=list)
    record_of: dict[str, QuoteRecord] = field(default_factory=dict)  # QUOTE span id -> its record

    def __post_init__(self) -> None:
        self.entity_ends = [m.end for m in self.entities]
        self.record_of = {rec.quote: rec for rec in self.doc.quotes}


def _title(span: Span) -> str:
    conf = "no score" if span.score is None else f"confidence {float(span.score):.2f}"
    return f"{span.label} ({span.id}) · {conf}"


def _layer_marks(doc: Document, layer: str, index: int) -> list[_Mark]:
    """Spans of one layer clipped to the text; a span overlapping an earlier one is cut to fit."""
    n = len(doc.text)
    marks: list[_Mark] = []
    prev_end = 0
    ordered = sorted(
        ((k, s) for k, s in enumerate(doc.spans) if s.layer == layer), key=lambda ks: (ks[1].start, ks[1].end)
    )
    for k, s in ordered:
        start, end = max(s.start, prev_end, 0), min(s.end, n)
        if start >= end:
            continue
        marks.append(_Mark(s, start, end, f"d{index}-s{k}", _title(s)))
        prev_end = end
    return marks


def _doc_view(doc: Document, index: int) -> _DocView:
    att = _layer_marks(doc, ATTRIBUTION, index)
    ent = _layer_marks(doc, ENTITIES, index)
    by_id = {m.span.id: m for m in att}
    return _DocView(doc, index, att, ent, by_id)


def _entity_class(label: str, entity_labels: Sequence[str]) -> str:
    return f"ent e{entity_labels.index(label)}"


def _att_class(label: str) -> str:
    return f"att a-{label.lower()}" if label in ATTRIBUTION_LABELS else "att a-other"


def _render_entities(view: _DocView, lo: int, hi: int, labels: Sequence[str]) -> str:
    """Text ``[lo, hi)`` with entity marks, each clipped to the range (pieces of a crossing entity)."""
    text = view.doc.text
    if lo >= hi:
        return ""
    out: list[str] = []
    pos = lo
    k = bisect.bisect_right(view.entity_ends, lo)  # marks are sorted and disjoint
    while k < len(view.entities) and view.entities[k].start < hi:
        m = view.entities[k]
        k += 1
        start, end = max(m.start, lo), min(m.end, hi)
        out.append(esc(text[pos:start]))
        piece = "" if (start, end) == (m.start, m.end) else ' data-part="1"'
        out.append(
            f'<mark class="{_entity_class(m.span.label, labels)}" data-label="{esc(m.span.label)}"'
            f'{piece} title="{esc(m.title)}">{esc(text[start:end])}</mark>'
        )
        pos = end
    out.append(esc(text[pos:hi]))
    return "".join(out)


def _links(view: _DocView, mark: _Mark) -> str:
    """Element ids of the speaker and cue linked to a QUOTE mark (for hover highlighting)."""
    ids = [mark.elem_id]
    rec = view.record_of.get(mark.span.id)
    if rec is not None:
        ids += [view.by_span_id[sid].elem_id for sid in (rec.speaker, rec.cue) if sid in view.by_span_id]
    return " ".join(ids)


def _render_text(
    view: _DocView, labels: Sequence[str], lo: int = 0, hi: int | None = None, attribution: bool = True
) -> str:
    """Text ``[lo, hi)`` of a document as nested markup: attribution outside, entities inside."""
    text = view.doc.text
    hi = len(text) if hi is None else hi
    out: list[str] = []
    pos = lo
    for m in view.attribution if attribution else []:
        start, end = max(m.start, lo), min(m.end, hi)
        if start >= end:
            continue
        out.append(_render_entities(view, pos, start, labels))
        inner = _render_entities(view, start, end, labels)
        links = f' data-links="{esc(_links(view, m))}"' if m.span.label == "QUOTE" else ""
        out.append(
            f'<span class="{_att_class(m.span.label)}" id="{m.elem_id}" data-label="{esc(m.span.label)}"'
            f'{links} title="{esc(m.title)}">{inner}</span>'
        )
        pos = end
    out.append(_render_entities(view, pos, hi, labels))
    return "".join(out)


def _span_text(view: _DocView, span_id: str | None) -> str:
    mark = view.by_span_id.get(span_id) if span_id else None
    return view.doc.text[mark.start : mark.end] if mark else ""


def _quote_blocks(view: _DocView, labels: Sequence[str]) -> str:
    """One block per quote record: speaker, cue, kind badges and the quote with its entities."""
    blocks: list[str] = []
    for j, rec in enumerate(view.doc.quotes):
        mark = view.by_span_id.get(rec.quote)
        if mark is None:
            continue
        speaker = rec.speaker_name or _span_text(view, rec.speaker)
        who = f"<b>{esc(speaker)}</b>" if speaker else '<span class="none">?</span>'
        cue = _span_text(view, rec.cue)
        cue_html = f' — <span class="cue">{esc(cue)}</span>' if cue else ""
        implicit = '<span class="badge implicit">implicit</span>' if rec.implicit_speaker else ""
        quote = _render_text(view, labels, mark.start, mark.end, attribution=False)
        blocks.append(
            f'<blockquote class="qrec" id="d{view.index}-q{j}" data-links="{esc(_links(view, mark))}">'
            f'<p class="who">{who}{cue_html}<span class="badge kind">{esc(rec.kind)}</span>{implicit}</p>'
            f'<p class="q">{quote}</p></blockquote>'
        )
    return "\n".join(blocks) if blocks else '<p class="none">no quotes</p>'


def _quote_table(view: _DocView) -> str:
    """The "who said what" table: speaker name, cue, quote, kind, implicit."""
    rows: list[str] = []
    for j, rec in enumerate(view.doc.quotes):
        mark = view.by_span_id.get(rec.quote)
        if mark is None:
            continue
        speaker = rec.speaker_name or _span_text(view, rec.speaker) or "?"
        cells = (
            speaker,
            _span_text(view, rec.cue),
            view.doc.text[mark.start : mark.end],
            rec.kind,
            "yes" if rec.implicit_speaker else "no",
        )
        tds = "".join(f'<td class="c-{name}">{esc(value)}</td>' for name, value in zip(_COLUMNS, cells, strict=True))
        rows.append(f'<tr data-quote="d{view.index}-q{j}">{tds}</tr>')
    if not rows:
        return ""
    head = "".join(f"<th>{esc(title)}</th>" for title in _COLUMN_TITLES)
    return f'<table class="who-said"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


_COLUMNS = ("speaker", "cue", "quote", "kind", "implicit")
_COLUMN_TITLES = ("المتحدث (speaker)", "فعل القول (cue)", "الاقتباس (quote)", "النوع (kind)", "ضمني (implicit)")


def _meta_line(doc: Document) -> str:
    items = [("id", doc.id), ("layers", ", ".join(doc.layers) or "-")]
    items += [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in doc.meta.items()]
    return "".join(
        f'<span dir="auto" data-key="{esc(k)}"><b>{esc(k)}</b>: <bdi>{esc(v)}</bdi></span>' for k, v in items
    )


def render_document(doc: Document, index: int, labels: Sequence[str]) -> str:
    """One ``<article>``: meta line, highlighted text, quote blocks and the who-said-what table."""
    view = _doc_view(doc, index)
    parts = [
        f'<article class="doc" id="d{index}" data-doc-id="{esc(doc.id)}">',
        f'<h2><span class="badge num">{index + 1}</span> <bdi>{esc(doc.id)}</bdi></h2>',
        f'<p class="meta">{_meta_line(doc)}</p>',
        f'<div class="text">{_render_text(view, labels)}</div>',
    ]
    if ATTRIBUTION in doc.layers or doc.quotes:
        parts += ["<h3>الاقتباسات (quotes)</h3>", _quote_blocks(view, labels), _quote_table(view)]
    parts.append("</article>")
    return "\n".join(parts)


def entity_labels(docs: Iterable[Document]) -> list[str]:
    """Entity labels of the page: the usual four first (in order), then any others, sorted."""
    found = {s.label for d in docs for s in d.spans if s.layer == ENTITIES}
    return [x for x in DEFAULT_ENTITY_LABELS if x in found] + sorted(found - set(DEFAULT_ENTITY_LABELS))


def _label_css(labels: Sequence[str]) -> str:
    return "\n".join(f".e{k} {{ background: {label_colour(label)}; }}" for k, label in enumerate(labels))


def _legend(labels: Sequence[str]) -> str:
    att = "".join(f'<span class="{_att_class(x)}">{esc(x)}</span>' for x in ATTRIBUTION_LABELS)
    ent = "".join(f'<span class="{_entity_class(x, labels)}" data-label="{esc(x)}">{esc(x)}</span>' for x in labels)
    return f'<div class="legend">{att}{ent}</div>'


def _error_section(errors: Sequence[tuple[str, str]]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li><b>{esc(doc_id)}</b>: {esc(reason)}</li>" for doc_id, reason in errors)
    return f'<article class="doc errors"><h2>not tagged</h2><ul>{items}</ul></article>'


def render_html(docs: Sequence[Document], title: str = "araquote", errors: Sequence[tuple[str, str]] = ()) -> str:
    """Render tagged documents as one self-contained right-to-left HTML page.

    Args:
        docs: tagged (or gold) documents; spans are clipped to the text and a
            span overlapping an earlier span of its layer is cut, so any input renders.
        title: page title (escaped).
        errors: ``(doc id, reason)`` of documents that could not be tagged, listed at the end.

    Returns:
        The page as a string; it loads nothing from outside.
    """
    docs = list(docs)
    labels = entity_labels(docs)
    style = CSS + "\n" + _label_css(labels)
    csp = f"default-src 'none'; style-src {csp_hash(style)}; script-src {SCRIPT_HASH}; base-uri 'none'; form-action 'none'"
    n_quotes = sum(len(d.quotes) for d in docs)
    body = "\n".join(render_document(d, k, labels) for k, d in enumerate(docs))
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<span class="summary">المقالات: {len(docs)} · الاقتباسات: {n_quotes}</span>
{_legend(labels)}
<span class="toggles"><label><input type="checkbox" id="show-att" checked> <bdi>attribution</bdi></label>
<label><input type="checkbox" id="show-ent" checked> <bdi>entities</bdi></label></span>
</header>
<main>
{body}
{_error_section(errors)}
</main>
<script>{JS}</script>
</body>
</html>
"""


def write_page(page: str, output: str | None) -> None:
    """Write a page to ``output`` (``-`` or None: stdout), creating parent directories."""
    if output in (None, "-"):
        sys.stdout.write(page)
        sys.stdout.flush()
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def render_job(tagger: Any, inputs: Sequence[str], output: str | None, max_chars: int) -> int:
    """Tag the inputs and write one HTML page (``araquote tag --format html``).

    Documents that cannot be read or tagged (bad UTF-8, empty, too long,
    duplicate id) are reported on stderr with their place and reason, and
    listed at the end of the page; the others are rendered.

    Returns:
        The exit status: 0 when the page was written, 1 when no document could be tagged.
    """
    from .batch import iter_inputs

    errors: list[tuple[str, str]] = []
    seen: set[str] = set()

    def good_items() -> Iterable[tuple[str, str, dict[str, Any]]]:
        for item in iter_inputs(inputs, max_chars):
            reason = item.error or (f"duplicate id {item.id!r}; not tagged twice" if item.id in seen else None)
            if reason:
                print(f"error: {item.where} ({item.id}): {reason}", file=sys.stderr)
                errors.append((item.id, reason))
                continue
            seen.add(item.id)
            yield item.id, item.text or "", item.meta

    docs = list(tagger.tag_documents(good_items()))
    write_page(render_html(docs, title="araquote", errors=errors), output)
    print(json.dumps({"tagged": len(docs), "errors": len(errors)}), file=sys.stderr)
    return 0 if docs or not errors else 1


def view_files(paths: Sequence[str], output: str | None, title: str | None = None) -> int:
    """Render already tagged JSONL files as one page (``araquote view``); returns the document count.

    Contract violations (overlapping spans, offsets off word boundaries …) are
    reported on stderr; the page is still rendered from what can be shown.
    """
    from .schema import read_jsonl, validate

    docs: list[Document] = []
    for path in paths:
        for lineno, doc in read_jsonl(path):
            for problem in validate(doc, where=f"{path}:{lineno}"):
                print(f"warning: {problem}", file=sys.stderr)
            docs.append(doc)
    write_page(render_html(docs, title=title or ", ".join(Path(p).name for p in paths)), output)
    return len(docs)
