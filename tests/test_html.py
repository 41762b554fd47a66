"""HTML view: escaping, nesting across layers, the who-said-what table, the CLI, and a headless browser check."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from araquote.cli import main
from araquote.inference.html import label_colour, render_html
from araquote.inference.schema import Document, QuoteRecord, Span

from .conftest import write_jsonl

EVIL = '<script>alert(1)</script>" onmouseover="alert(2)" x=\''
VOID = {"meta", "input", "br", "img", "hr", "link"}


class Tree(HTMLParser):
    """Checks that every end tag closes the innermost open element; collects elements and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.in_text_elements: list[tuple[str, dict[str, str | None]]] = []  # elements inside div.text
        self.text_parts: list[str] = []  # character data inside div.text
        self.errors: list[str] = []

    def in_text(self) -> bool:
        return any(t == "div" and a.get("class") == "text" for t, a in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.in_text():
            self.in_text_elements.append((tag, dict(attrs)))
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.in_text():
            self.text_parts.append(data)


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert not tree.errors, tree.errors[:5]
    assert not tree.stack, [t for t, _ in tree.stack]
    return tree


def with_class(tree: Tree, tag: str, cls: str, in_text: bool = True) -> list[dict[str, str | None]]:
    """Attributes of the ``tag`` elements with class ``cls`` (by default only those in the article texts)."""
    elements = tree.in_text_elements if in_text else tree.elements
    return [a for t, a in elements if t == tag and cls in (a.get("class") or "").split()]


def evil_doc() -> Document:
    text = f"قال {EVIL} إن «{EVIL}» خطير."
    words = text.split(" ")
    cue_end = len(words[0])
    q_start = text.index("إن")
    spans = [
        Span("s1", 0, cue_end, "attribution", "CUE", 0.9),
        Span(EVIL, cue_end + 1, q_start - 1, "attribution", "SPEAKER"),
        Span("s3", q_start, len(text) - 1, "attribution", "QUOTE", 0.5),
        Span("s4", cue_end + 1, cue_end + 9, "entities", EVIL),
    ]
    quotes = [QuoteRecord("s3", EVIL, "s1", "indirect", False, speaker_name=EVIL)]
    return Document(EVIL, text, ["attribution", "entities"], spans, quotes, {EVIL: EVIL, "source": EVIL})


def test_every_input_is_escaped() -> None:
    page = render_html([evil_doc()], title=EVIL)
    assert "<script>alert" not in page
    assert 'onmouseover="alert' not in page
    assert page.count("<script") == 1  # only the page's own script
    assert html.escape(EVIL, quote=True) in page
    tree = parse(page)
    assert not any(t == "script" for t, a in tree.elements[:-1])
    assert all("onmouseover" not in a for _, a in tree.elements)
    # the label survives escaping as data, not markup
    assert [a["data-label"] for a in with_class(tree, "mark", "ent")] == [EVIL]


def test_text_round_trips_and_markup_nests(tiny_docs) -> None:
    page = render_html(tiny_docs)
    tree = parse(page)
    texts = "".join(tree.text_parts)
    assert texts == "".join(d.text for d in tiny_docs)
    assert len(with_class(tree, "mark", "ent")) == 3 + 5  # entity spans of tiny-a and tiny-b
    assert len(with_class(tree, "span", "a-quote")) == 4
    # a quote links its speaker and cue for hover highlighting
    first_quote = with_class(tree, "span", "a-quote")[0]
    assert len((first_quote["data-links"] or "").split()) == 3


def test_crossing_spans_are_split_at_layer_boundaries() -> None:
    text = "قال الوزير أحمد سالم إن الاتفاق نهائي"
    speaker_end = text.index(" إن")
    per_start = text.index("سالم")
    spans = [
        Span("s1", 0, 3, "attribution", "CUE"),
        Span("s2", 4, per_start - 1, "attribution", "SPEAKER"),  # "الوزير أحمد": ends inside the PER span
        Span("s3", per_start - 5, speaker_end, "entities", "PER", 0.876),  # "أحمد سالم" crosses the SPEAKER end
        Span("s4", speaker_end + 1, len(text), "attribution", "QUOTE"),
    ]
    doc = Document("x", text, ["attribution", "entities"], spans, [QuoteRecord("s4", "s2", "s1")])
    tree = parse(render_html([doc]))
    assert "".join(tree.text_parts) == text
    pieces = with_class(tree, "mark", "ent")
    assert len(pieces) == 2 and all(p.get("data-part") == "1" for p in pieces)
    assert all(p["title"] == "PER (s3) · confidence 0.88" for p in pieces)


def test_touching_attribution_spans_leave_no_empty_entity_piece() -> None:
    text = "قالت الوزيرة"
    spans = [
        Span("a", 0, 3, "attribution", "CUE"),  # lenient input: spans touch inside a word
        Span("b", 3, 12, "attribution", "SPEAKER"),
        Span("c", 1, 6, "entities", "PER"),
    ]
    tree = parse(render_html([Document("x", text, spans=spans)]))
    assert "".join(tree.text_parts) == text
    assert len(with_class(tree, "mark", "ent")) == 2
    assert "></mark>" not in render_html([Document("x", text, spans=spans)])


def test_broken_offsets_render_without_error() -> None:
    text = "قال الوزير إن الاتفاق نهائي"
    spans = [
        Span("a", 0, 10, "attribution", "QUOTE"),
        Span("b", 4, 20, "attribution", "QUOTE"),  # overlaps "a": cut to start at 10
        Span("c", 25, 999, "entities", "LOC"),  # runs past the end: clipped
        Span("d", 7, 7, "entities", "PER"),  # empty: skipped
        Span("e", 2, 5, "attribution", "WHAT"),  # inside "a": nothing left, skipped
    ]
    tree = parse(render_html([Document("x", text, spans=spans)]))
    assert "".join(tree.text_parts) == text
    assert len(with_class(tree, "span", "att")) == 2
    assert len(with_class(tree, "mark", "ent")) == 1


def test_who_said_what_table(tiny_docs) -> None:
    tree = parse(render_html(tiny_docs))
    rows = re.findall(r"<tr data-quote=[^>]*>(.*?)</tr>", render_html(tiny_docs))
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]
    assert cells[0] == ["وزير الخارجية أحمد سالم", "قال", "إن بلاده لن تقبل أي تسوية في سوريا", "indirect", "no"]
    assert cells[1][:2] == ["وزير الخارجية أحمد سالم", "مضيفا"] and cells[1][4] == "yes"
    assert cells[2][3:] == ["direct", "yes"]
    assert cells[3] == ["منى العتيبي المتحدثة باسم الهلال الأحمر", "قالت", "الوضع في غزة خطير جدا", "direct", "no"]
    assert len(with_class(tree, "blockquote", "qrec", in_text=False)) == 4
    assert len(with_class(tree, "table", "who-said", in_text=False)) == 2


def test_any_label_set_gets_a_colour_and_a_legend_entry() -> None:
    text = "وصل الوفد إلى دمشق يوم الأحد"
    spans = [Span("s1", 14, 18, "entities", "GPE"), Span("s2", 19, 28, "entities", "DATE")]
    page = render_html([Document("x", text, ["entities"], spans)])
    tree = parse(page)
    assert [a["data-label"] for a in with_class(tree, "mark", "ent")] == ["GPE", "DATE"]
    legend = [
        a["data-label"]
        for t, a in tree.elements
        if t == "span" and a.get("data-label") and "ent" in (a.get("class") or "")
    ]
    assert legend == ["DATE", "GPE"]
    assert label_colour("GPE") in page and label_colour("GPE") != label_colour("DATE")
    assert label_colour("PER") == label_colour("PER")


def test_page_is_self_contained_rtl(tiny_docs) -> None:
    page = render_html(tiny_docs)
    assert '<html lang="ar" dir="rtl">' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    csp = [
        a["content"]
        for t, a in parse(page).elements
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and (csp[0] or "").startswith("default-src 'none'; style-src 'sha256-")


def test_view_command(tmp_path: Path, tiny_docs, capsys) -> None:
    src = write_jsonl(tmp_path / "out.jsonl", tiny_docs)
    assert main(["view", str(src)]) == 0
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert page.count('<article class="doc"') == 2 and "2 documents rendered" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "x", "text": "abc", "spans": [{"start": 0, "end": 2, "layer": "entities", "label": "PER"}]}\n',
        encoding="utf-8",
    )
    assert main(["view", str(bad), "-o", str(tmp_path / "b.html")]) == 0
    assert "not on word boundaries" in capsys.readouterr().err  # a warning; the page is still written
    (tmp_path / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    assert main(["view", str(tmp_path / "broken.jsonl")]) == 2
    assert "broken.jsonl:1: malformed JSON" in capsys.readouterr().err


def test_tag_format_html(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.txt").write_text("قال الوزير إن <b>الاتفاق</b> نهائي.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  ", encoding="utf-8")
    out = tmp_path / "page.html"
    assert (
        main(
            [
                "tag",
                "--model",
                "rules",
                "--format",
                "html",
                str(tmp_path / "a.txt"),
                str(tmp_path / "empty.txt"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "empty.txt (empty): empty text" in err and json.loads(err.strip().splitlines()[-1]) == {
        "tagged": 1,
        "errors": 1,
    }
    page = out.read_text(encoding="utf-8")
    tree = parse(page)
    assert "&lt;b&gt;الاتفاق&lt;/b&gt;" in page and len(with_class(tree, "span", "a-quote")) == 1
    assert "not tagged" in page and "empty text" in page


# --- headless Chromium ----------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def png_info(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the decompressed image data."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')")
def test_page_in_headless_chromium(tmp_path: Path, tiny_docs) -> None:
    page_path = tmp_path / "page.html"
    page_path.write_text(render_html([*tiny_docs, evil_doc()], title=EVIL), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page_path.as_uri())
    tree = parse(dom)
    assert len([a for t, a in tree.elements if t == "tr" and "data-quote" in a]) == 5
    assert len(with_class(tree, "mark", "ent")) == 9 and len(with_class(tree, "span", "a-quote")) == 5
    assert len([t for t, _ in tree.elements if t == "script"]) == 1  # nothing injected
    assert all("onmouseover" not in attrs and "x" not in attrs for _, attrs in tree.elements)  # no attribute broke out
    assert 'dir="rtl"' in dom
    png = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,900", page_path.as_uri())
    width, height, distinct = png_info(png)
    assert (width, height) == (1200, 900) and png.stat().st_size > 10_000 and distinct > 20
