"""Hostile and broken input: a catalogue of bad inputs, each with its expected outcome.

Every case either fails with a specific message that names the file, line or
document id, or is tagged correctly: spans inside the text, on word boundaries,
``text[start:end]`` exact, same-layer spans disjoint, and the JSON written by a
batch job valid UTF-8 that parses back. A batch job never stops at a bad
document: it lists it in its error report and goes on.
"""

from __future__ import annotations

import base64
import json
import os
import random
from pathlib import Path

import pytest

from araquote.cli import main
from araquote.inference.batch import run_tag_job
from araquote.inference.rules import RuleTagger
from araquote.inference.schema import (
    Document,
    DocumentError,
    loads_json,
    parse_jsonl_line,
    read_jsonl,
    validate,
)
from araquote.inference.text import split_words, word_boundaries
from araquote.inference.windows import best_window_per_word, encode_documents, make_windows
from araquote.training.config import ConfigError, load_config

# --- helpers -----------------------------------------------------------------------


def assert_valid_doc(doc: Document) -> None:
    """Spans in range, on word boundaries, disjoint within a layer; the document passes ``validate``."""
    n = len(doc.text)
    starts, ends = word_boundaries(doc.text)
    for layer in {s.layer for s in doc.spans}:
        prev_end = 0
        for s in doc.spans_of(layer):
            assert 0 <= s.start < s.end <= n, (doc.id, s)
            assert s.start in starts and s.end in ends, f"{doc.id}: span {s} is not on word boundaries"
            assert s.start >= prev_end, f"{doc.id}: {s} overlaps the previous {layer} span"
            prev_end = s.end
    assert validate(doc) == []


def read_output(path: Path) -> list[Document]:
    """Strictly read a JSONL file written by a job: UTF-8, strict JSON, valid documents, exact span text."""
    docs = []
    # records end with "\n" only; str.splitlines() would also split at the raw U+2028/U+0085 that JSON allows in strings
    for lineno, line in enumerate(path.read_bytes().decode("utf-8").split("\n")[:-1], 1):
        obj = loads_json(line)  # refuses NaN/Infinity, which json.dumps would happily write
        doc = Document.from_dict(obj, f"{path}:{lineno}")
        assert_valid_doc(doc)
        docs.append(doc)
    return docs


def read_errors(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [loads_json(line) for line in path.read_bytes().decode("utf-8").split("\n")[:-1]]


# --- the text catalogue --------------------------------------------------------------

QUOTE = "قال الوزير إن المحادثات ستستأنف الأسبوع المقبل."
random.seed(5)
_B64 = base64.b64encode(random.randbytes(6000)).decode("ascii")

#: Texts that must be tagged (never crash) by both taggers, through the Python API and a batch job.
TEXTS: dict[str, str] = {
    "no_arabic": "The minister said the talks would resume next week, 2024-05-01 at 10:30.",
    "nul_and_controls": "قال\x00 الوزير\x01\x07\x1b إن\x7f المحادثات\x85 ستستأنف\x1c\x1f.",
    "crlf_lines": "قال الوزير إن المحادثات ستستأنف.\r\nوأضاف أن الوضع خطير.\r\n\r\nوتابع: «لن نتراجع».\r\n",
    "lone_cr": "قال الوزير إن المحادثات ستستأنف.\rوأضاف أن الوضع خطير.\r",
    "bom_inside": "\ufeffقال الوزير\ufeff إن المحادثات ستستأنف.",
    "bidi_marks": "\u200fقال\u200f الوزير\u200e إن\u202b المحادثات\u202c ستستأنف\u2066 الأسبوع\u2069 المقبل\u061c.",
    "zwj_zwnj": "قال\u200c الوزير\u200d إن المحاد\u200cثات ست\u200dستأنف\u200c\u200d.",
    "tashkeel_only": "\u064e\u064f \u0650\u0651\u0652 \u0670 \u064b\u064c\u064d",
    "tashkeel_heavy": "قَالَ الوَزِيرُ إِنَّ المُحَادَثَاتِ سَتُسْتَأْنَفُ.",
    "mark_starts_word": "\u0651قال \u064eالوزير إن\u0652 المحادثات.",
    "tatweel": "قـــال الوزيـــر إنّ المحادثـــات ستستأنف ـــ.",
    "emoji_flags": "قال 🇸🇦 الوزير 👍🏽 إن 👨\u200d👩\u200d👧 المحادثات 🏳️\u200d🌈 ستستأنف 🇵🇸.",
    "emoji_only": "🇸🇦👍🏽👨\u200d👩\u200d👧🏳️\u200d🌈",
    "url_5000": "قال الوزير إن الرابط https://example.com/" + "a" * 5000 + "?q=" + "b" * 300 + " معطل.",
    "base64_blob": "قال الوزير إن الملف " + _B64 + " تالف.",
    "word_5000_arabic": "قال الوزير إن " + "المحادثات" * 560 + " ستستأنف.",
    "word_of_99_pieces": "قال الوزير إن " + "ا" * 99 + " ستستأنف.",  # 99 pieces -> capped at max_subwords_per_word
    "marks_flood": "ق" + "\u0651" * 3000 + "ال الوزير إن المحادثات ستستأنف.",
    "punctuation_only": "،،،؛؛...!!!؟؟«»“”\"'()[]{}—–-…",
    "punctuation_flood": "." * 3000,
    "open_marks_flood": "«" * 3000 + " قال الوزير: «إن",
    "unbalanced_quotes": "«««قال الوزير: «إن» »» « المحادثات»» ستستأنف». قال: «",
    "cue_at_end": "المحادثات ستستأنف، قال",
    "colon_at_end": "قال الوزير:",
    "newline_flood": "\n" * 5000 + QUOTE + "\n" * 5000,
    "nbsp_and_spaces": "قال\u00a0الوزير\u2009إن\u3000المحادثات\u202fستستأنف\u2028الأسبوع\u2029المقبل.",
    "private_use_and_nonchars": "\ue000قال \uffff الوزير \U0010fffe إن \U000e0001 المحادثات\ufffd.",
    "presentation_forms": "ﷺ ﻻ ﷲ قال ﺍﻟﻮﺯﻳﺮ إن ﺍﻟﻤﺤﺎﺩﺛﺎﺕ ستستأنف.",
    "decomposed_latin": "Cafe\u0301 re\u0301sume\u0301 قال الوزير إن المحادثات ستستأنف.",
    "digits_mixed": "قال الوزير إن ١٢٣ و456 و۷۸۹ ²³ ½ محادثات ستستأنف.",
    "mixed_scripts": "قال الوزير Алексей 张伟 דוד إن المحادثات ستستأنف Ⅻ.",
    "many_short_docs_worth": " ".join([QUOTE] * 200),
}


@pytest.fixture(scope="module")
def model_tagger(trained_tiny: Path):
    from araquote.inference.tagger import Tagger

    return Tagger.from_pretrained(trained_tiny / "model", device="cpu")


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_rules_tagger_catalogue(case: str) -> None:
    doc = RuleTagger().tag(TEXTS[case])
    assert doc.text == TEXTS[case]
    assert_valid_doc(doc)
    assert json.loads(doc.to_json().encode("utf-8")) == doc.to_dict()


def test_model_tagger_catalogue(model_tagger) -> None:
    cases = sorted(TEXTS)
    docs = model_tagger.tag([TEXTS[c] for c in cases])
    for case, doc in zip(cases, docs):
        assert doc.text == TEXTS[case], case
        assert_valid_doc(doc)
        assert json.loads(doc.to_json().encode("utf-8")) == doc.to_dict()


@pytest.mark.parametrize("case", ["url_5000", "base64_blob", "word_5000_arabic", "word_of_99_pieces", "marks_flood", "punctuation_flood"])
def test_long_words_respect_window_limits(model_tagger, case: str) -> None:
    t = model_tagger
    enc = encode_documents([TEXTS[case]], t.tokenizer, t.normalise, t.meta.max_subwords_per_word)[0]
    assert all(1 <= len(p) <= t.meta.max_subwords_per_word for p in enc.pieces)
    windows = make_windows(0, enc, t.max_length, t.stride, t.cls_id, t.sep_id)
    assert windows and all(len(w) <= t.max_length for w in windows)
    best = best_window_per_word(windows, len(enc.words))
    for k, (wi, pos) in enumerate(best):
        assert windows[wi].first <= k < windows[wi].last and pos == k - windows[wi].first


def test_word_of_many_pieces_is_capped_and_first_pieces_kept(model_tagger) -> None:
    t = model_tagger
    word = "ا" * 99
    full = encode_documents([word], t.tokenizer, t.normalise, 1000)[0].pieces[0]
    capped = encode_documents([word], t.tokenizer, t.normalise, t.meta.max_subwords_per_word)[0].pieces[0]
    assert len(full) > t.meta.max_subwords_per_word
    assert capped == full[: t.meta.max_subwords_per_word]


@pytest.mark.parametrize("text", ["", " ", " \t\n\r ", "\u00a0\u3000\u2028", "\u200f\u200e\ufeff\u200b"])
def test_empty_and_invisible_texts_have_no_spans(model_tagger, text: str) -> None:
    for doc in (RuleTagger().tag(text), model_tagger.tag(text)):
        assert doc.text == text and doc.spans == [] and doc.quotes == []


@pytest.mark.parametrize("text", ["قال \ud800 الوزير إن المحادثات ستستأنف.", "\udcff\udc80", "قال\udfff"])
def test_unpaired_surrogates_in_python_strings_do_not_crash_the_taggers(model_tagger, text: str) -> None:
    """A lone surrogate is not text: it separates words and is never inside a span (it cannot be written as UTF-8)."""
    for doc in (RuleTagger().tag(text), model_tagger.tag(text)):
        assert_valid_doc(doc)
        for s in doc.spans:
            doc.text[s.start : s.end].encode("utf-8")


# --- batch jobs: every catalogue text through run_tag_job ---------------------------------


def _write_catalogue(path: Path) -> None:
    lines = [json.dumps({"id": case, "text": TEXTS[case]}, ensure_ascii=False) for case in sorted(TEXTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_tag_job_output_is_valid_utf8_for_every_case_rules(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_catalogue(src)
    counts = run_tag_job(RuleTagger(), [str(src)], str(out), progress=False)
    docs = read_output(out)
    assert [d.id for d in docs] == sorted(TEXTS)
    assert all(d.text == TEXTS[d.id] for d in docs)
    assert counts == {"tagged": len(TEXTS), "skipped": 0, "errors": 0}


def test_tag_job_output_is_valid_utf8_for_every_case_model(tmp_path: Path, model_tagger) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_catalogue(src)
    counts = run_tag_job(model_tagger, [str(src)], str(out), progress=False, chunk_docs=7)
    docs = read_output(out)
    assert [d.id for d in docs] == sorted(TEXTS) and all(d.text == TEXTS[d.id] for d in docs)
    assert counts["tagged"] == len(TEXTS) and counts["errors"] == 0


def test_txt_inputs_with_hostile_text(tmp_path: Path) -> None:
    for case in ("crlf_lines", "emoji_flags", "nul_and_controls", "bidi_marks"):
        (tmp_path / f"{case}.txt").write_bytes(TEXTS[case].encode("utf-8"))
    out = tmp_path / "out.jsonl"
    run_tag_job(RuleTagger(), [str(tmp_path)], str(out), progress=False)
    docs = read_output(out)
    assert {d.id: d.text for d in docs} == {c: TEXTS[c] for c in ("crlf_lines", "emoji_flags", "nul_and_controls", "bidi_marks")}


# --- batch jobs: broken input files, one case each; the job always goes on ---------------------

GOOD_LINE = json.dumps({"id": "good", "text": QUOTE}, ensure_ascii=False).encode("utf-8") + b"\n"

#: (case, file name, bytes, expected error substring or None when the document is tagged, expected id)
FILE_CASES = [
    ("empty_txt", "empty.txt", b"", "empty text", "empty"),
    ("whitespace_txt", "blank.txt", b" \r\n\t\xc2\xa0\n", "empty text", "blank"),
    ("invalid_utf8_txt", "latin1.txt", "قال".encode() + b"\xe9t\xe9", "invalid UTF-8 at byte 6", "latin1"),
    ("truncated_utf8_txt", "cut.txt", "قال".encode()[:-1], "invalid UTF-8 at byte 4", "cut"),
    ("utf16_txt", "utf16.txt", QUOTE.encode("utf-16"), "invalid UTF-8 at byte 0", "utf16"),
    ("bom_txt", "bom.txt", b"\xef\xbb\xbf" + QUOTE.encode(), None, "bom"),
    ("crlf_txt", "crlf.txt", (QUOTE + "\r\n" + QUOTE + "\r\n").encode(), None, "crlf"),
    ("invalid_utf8_jsonl", "bad.jsonl", b'{"id": "x", "text": "\xff\xfe"}\n', "invalid UTF-8 at byte 21", "{p}:1"),
    ("bom_jsonl", "bom.jsonl", b"\xef\xbb\xbf" + json.dumps({"id": "b", "text": QUOTE}).encode() + b"\n", None, "b"),
    ("crlf_jsonl", "crlf.jsonl", json.dumps({"id": "c", "text": QUOTE}).encode() + b"\r\n", None, "c"),
    ("truncated_jsonl", "trunc.jsonl", b'{"id": "t", "text": "\xd9\x82', "malformed JSON", "{p}:1"),
    ("trailing_comma_jsonl", "comma.jsonl", b'{"id": "t", "text": "x",}\n', "malformed JSON at column", "{p}:1"),
    ("surrogate_text", "s1.jsonl", b'{"id": "s", "text": "\\u0642\\ud800"}\n', "text holds an unpaired surrogate at character 1", "s"),
    ("surrogate_id", "s2.jsonl", b'{"id": "a\\udc00", "text": "x"}\n', "id holds an unpaired surrogate", "{p}:1"),
    ("surrogate_meta", "s3.jsonl", b'{"id": "m", "text": "x", "meta": {"k": ["\\udbff"]}}\n', "meta.k[0] holds an unpaired surrogate", "m"),
    ("surrogate_pair_ok", "s4.jsonl", b'{"id": "e", "text": "\\u0642\\u0627\\u0644 \\ud83d\\ude00"}\n', None, "e"),
    ("nan_meta", "nan.jsonl", b'{"id": "n", "text": "x", "meta": {"score": NaN}}\n', "NaN is not valid JSON", "{p}:1"),
    ("infinity_number", "inf.jsonl", b'{"id": "n", "text": "x", "meta": {"v": 1e999}}\n', "out of range", "{p}:1"),
    ("huge_int", "int.jsonl", b'{"id": "n", "text": "x", "meta": {"v": ' + b"9" * 5000 + b"}}\n", "malformed JSON", "{p}:1"),
    ("deep_nesting", "deep.jsonl", b'{"id": "n", "text": "x", "meta": {"v": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}\n", "malformed JSON", "{p}:1"),
    ("nesting_too_deep_to_write", "deep2.jsonl", b'{"id": "n", "text": "x", "meta": {"v": ' + b"[" * 200 + b"]" * 200 + b"}}\n", "nested deeper than 64", "n"),
    ("text_is_number", "num.jsonl", b'{"id": "n", "text": 42}\n', "'text' must be a string, got int", "n"),
    ("id_missing", "noid.jsonl", b'{"text": "x"}\n', "'id' must be a non-empty string", "{p}:1"),
    ("id_is_list", "idlist.jsonl", b'{"id": [1], "text": "x"}\n', "'id' must be a non-empty string", "{p}:1"),
    ("not_an_object", "arr.jsonl", b'["id", "text"]\n', "must be a JSON object", "{p}:1"),
    ("nul_in_json_text", "nul.jsonl", b'{"id": "z", "text": "\\u0642\\u0627\\u0644\\u0000 x"}\n', None, "z"),
]


@pytest.mark.parametrize(("case", "name", "data", "error", "doc_id"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_tag_job_reports_bad_file_and_continues(tmp_path: Path, case: str, name: str, data: bytes, error: str | None, doc_id: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(data)
    good = tmp_path / "zz_good.jsonl"
    good.write_bytes(GOOD_LINE)
    out = tmp_path / "out.jsonl"
    counts = run_tag_job(RuleTagger(), [str(bad), str(good)], str(out), progress=False)
    docs = read_output(out)
    errors = read_errors(tmp_path / "out.jsonl.errors.jsonl")
    doc_id = doc_id.format(p=bad)
    assert docs[-1].id == "good"
    if error is None:
        assert [d.id for d in docs] == [doc_id, "good"] and errors == []
        assert "\ufeff" not in docs[0].text[:1]
    else:
        assert [d.id for d in docs] == ["good"], f"{case} should not be tagged"
        assert len(errors) == 1 and counts["errors"] == 1
        assert errors[0]["id"] == doc_id and error in errors[0]["error"]
        assert errors[0]["where"].startswith(str(bad))


def test_job_continues_past_many_bad_documents(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    good = [json.dumps({"id": f"g{i}", "text": QUOTE}, ensure_ascii=False).encode() for i in range(6)]
    bad = [
        b'{"id": "t", "text": ',  # truncated
        b'{"id": "e", "text": "   "}',
        b'{"id": "u", "text": "\xc3\x28"}',
        b'{"id": "s", "text": "\\ud800"}',
        b'{"id": "g0", "text": "duplicate"}',
        b"NaN",
    ]
    lines = [x for pair in zip(good, bad) for x in pair]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    counts = run_tag_job(RuleTagger(), [str(src), str(tmp_path / "missing.txt")], str(out), progress=False, chunk_docs=2)
    assert [d.id for d in read_output(out)] == [f"g{i}" for i in range(6)]
    errors = read_errors(tmp_path / "out.jsonl.errors.jsonl")
    assert [e["where"] for e in errors[:6]] == [f"{src}:{2 * k + 2}" for k in range(6)]
    reasons = [e["error"] for e in errors]
    assert "malformed JSON" in reasons[0] and reasons[1] == "empty text" and "invalid UTF-8" in reasons[2]
    assert "unpaired surrogate" in reasons[3] and "duplicate id 'g0'" in reasons[4] and "malformed JSON" in reasons[5]
    assert reasons[6] == f"input not found: {tmp_path / 'missing.txt'}"
    assert counts == {"tagged": 6, "skipped": 0, "errors": 7}


def test_file_name_with_invalid_utf8_bytes(tmp_path: Path) -> None:
    """A file name that is not UTF-8 (possible on Linux) still gives a writable id and report."""
    d = os.fsencode(tmp_path / "in")
    os.mkdir(d)
    with open(os.path.join(d, b"caf\xe9.txt"), "wb") as fh:
        fh.write(QUOTE.encode())
    with open(os.path.join(d, b"bad\xff.txt"), "wb") as fh:
        fh.write(b"\xff")
    out = tmp_path / "out.jsonl"
    counts = run_tag_job(RuleTagger(), [str(tmp_path / "in")], str(out), progress=False)
    assert [d.id for d in read_output(out)] == ["caf\\xe9"]
    errors = read_errors(tmp_path / "out.jsonl.errors.jsonl")
    assert [e["id"] for e in errors] == ["bad\\xff"] and "invalid UTF-8" in errors[0]["error"]
    assert counts["tagged"] == 1 and counts["errors"] == 1


# --- a 1 MB single-line article ------------------------------------------------------------


def _article(n_chars: int) -> str:
    head = "قال وزير الخارجية إن المحادثات ستستأنف الأسبوع المقبل في الرياض. "
    tail = " وأضاف الوزير: «نحن لا نبحث عن انتصار إعلامي»."
    filler = "وتواصلت الاجتماعات في العاصمة حتى ساعة متأخرة من مساء أمس وسط حضور واسع. "
    n = n_chars - len(head) - len(tail)
    body = (filler * (n // len(filler) + 1))[:n]
    text = head + body + tail
    assert len(text) == n_chars and "\n" not in text
    return text


@pytest.fixture(scope="module")
def article_1mb() -> str:
    return _article(1_000_000)


def test_one_megabyte_article_rules_tagger(article_1mb: str) -> None:
    doc = RuleTagger().tag(article_1mb)
    assert_valid_doc(doc)
    quotes = [article_1mb[s.start : s.end] for s in doc.spans if s.label == "QUOTE"]
    assert quotes[0].startswith("إن المحادثات") and quotes[-1] == "نحن لا نبحث عن انتصار إعلامي"


@pytest.mark.parametrize("max_chars", [999_999, 1_000_000])
def test_one_megabyte_article_max_chars(tmp_path: Path, article_1mb: str, max_chars: int) -> None:
    src = tmp_path / "big.txt"
    src.write_text(article_1mb, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    counts = run_tag_job(RuleTagger(), [str(src)], str(out), max_chars=max_chars, progress=False)
    errors = read_errors(tmp_path / "out.jsonl.errors.jsonl")
    if max_chars < len(article_1mb):
        assert counts == {"tagged": 0, "skipped": 0, "errors": 1}
        assert errors[0]["id"] == "big" and errors[0]["error"] == "text has 1000000 characters, over the limit of 999999 (--max-chars)"
        assert out.read_bytes() == b""
    else:
        assert counts == {"tagged": 1, "skipped": 0, "errors": 0} and errors == []
        (doc,) = read_output(out)
        assert doc.text == article_1mb


# --- corpus files: araquote data validate -------------------------------------------------

TEXT = "قال الوزير إن المحادثات ستستأنف."  # words: قال 0-3, الوزير 4-10, إن 11-13, المحادثات 14-23, ستستأنف 24-31, . 31-32
SPANS = [
    {"id": "s1", "start": 0, "end": 3, "layer": "attribution", "label": "CUE"},
    {"id": "s2", "start": 4, "end": 10, "layer": "attribution", "label": "SPEAKER"},
    {"id": "s3", "start": 11, "end": 31, "layer": "attribution", "label": "QUOTE"},
]
RECORD = {"quote": "s3", "speaker": "s2", "cue": "s1", "kind": "indirect", "implicit_speaker": False}


def _doc(doc_id: str = "d2", **changes) -> bytes:
    obj = {"id": doc_id, "text": TEXT, "layers": ["attribution", "entities"], "spans": [dict(s) for s in SPANS], "quotes": [dict(RECORD)]}
    for key, value in changes.items():
        if value is _DROP:
            obj.pop(key)
        else:
            obj[key] = value
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


_DROP = object()


def _span(k: int, **changes) -> list[dict]:
    spans = [dict(s) for s in SPANS]
    spans[k].update(changes)
    return spans


#: (case, bytes of line 2, expected message substring); line 1 is a valid document "d1".
CORPUS_CASES = [
    ("truncated_line", _doc()[: _doc().index(b'"layers"')], "malformed JSON at column"),
    ("truncated_mid_character", _doc()[:40], "invalid UTF-8 at byte 39"),  # a killed writer can cut a character
    ("trailing_comma", _doc()[:-1] + b",}", "malformed JSON at column"),
    ("invalid_utf8", _doc().replace("الوزير".encode(), b"\xff\xfe", 1), "invalid UTF-8 at byte"),
    ("unpaired_surrogate", _doc().replace("الوزير".encode(), b"\\ud800", 1), "text holds an unpaired surrogate at character 4"),
    ("surrogate_in_label", _doc().replace(b'"label": "CUE"', b'"label": "CUE\\udc00"'), "spans[0].label holds an unpaired surrogate at character 3"),
    ("nan_score", _doc().replace(b'"label": "CUE"', b'"label": "CUE", "score": NaN'), "NaN is not valid JSON"),
    ("text_not_string", _doc(text=42), "field 'text' must be a string, got int"),
    ("missing_text", _doc(text=_DROP), "field 'text' must be a string, got NoneType"),
    ("missing_id", _doc(id=_DROP), "field 'id' must be a non-empty string, got None"),
    ("empty_id", _doc(doc_id=""), "field 'id' must be a non-empty string, got ''"),
    ("spans_not_list", _doc(spans={"s1": 1}), "'spans' must be a list, got dict"),
    ("start_is_string", _doc(spans=_span(0, start="0")), "span s1: 'start' must be int, got '0'"),
    ("start_is_bool", _doc(spans=_span(0, start=True)), "span s1: 'start' must be int, got True"),
    ("layers_not_strings", _doc(layers=[1]), "'layers' must be a list of strings"),
    ("unknown_field", _doc(spanz=[]), "unknown field(s) ['spanz']"),
    ("top_level_array", b"[1, 2]", "a document must be a JSON object, got list"),
    ("duplicate_id", _doc(doc_id="d1"), "duplicate document id 'd1' (first on line 1)"),
    ("span_out_of_range", _doc(spans=_span(2, end=99)), "span s3 [11:99]: offsets out of range (text has 32 characters"),
    ("span_negative", _doc(spans=_span(0, start=-1)), "span s1 [-1:3]: offsets out of range"),
    ("span_empty", _doc(spans=_span(0, end=0)), "span s1 [0:0]: offsets out of range"),
    ("span_inside_word", _doc(spans=_span(1, start=5)), "span s2 [5:10]: span 'لوزير' is not on word boundaries"),
    ("span_overlap", _doc(spans=_span(1, end=13)), "spans s2 [4:13] and s3 [11:31] overlap on layer attribution"),
    ("unknown_label", _doc(spans=_span(1, label="SPEAKR")), "unknown label 'SPEAKR' on layer attribution; known: SPEAKER, CUE, QUOTE"),
    ("lowercase_entity", _doc(spans=[*SPANS, {"id": "e1", "start": 4, "end": 10, "layer": "entities", "label": "per"}]), "entity label 'per' must be upper-case"),
    ("unknown_layer", _doc(spans=_span(0, layer="quotes")), "unknown layer 'quotes'; known: attribution, entities"),
    ("layer_not_declared", _doc(layers=["entities"]), "layer 'attribution' is not in the document's 'layers'"),
    ("dangling_speaker", _doc(quotes=[{**RECORD, "speaker": "s9"}]), "speaker points to unknown span id 's9'"),
    ("record_wrong_role", _doc(quotes=[{**RECORD, "cue": "s2"}]), "cue must point to a CUE span, but s2 is attribution/SPEAKER"),
    ("quote_without_record", _doc(quotes=[]), "span s3 [11:31]: QUOTE without a quote record"),
    ("unknown_kind", _doc(quotes=[{**RECORD, "kind": "reported"}]), "unknown kind 'reported'; known: direct, indirect, mixed"),
    ("implicit_without_speaker", _doc(quotes=[{**RECORD, "speaker": None, "implicit_speaker": True}]), "implicit_speaker is true but 'speaker' is null"),
    ("duplicate_span_id", _doc(spans=_span(1, id="s1"), quotes=[{**RECORD, "speaker": None}]), "duplicate span id 's1'"),
    ("meta_too_deep", _doc(meta=json.loads("[" * 70 + "]" * 70)), "nested deeper than 64"),
]


@pytest.mark.parametrize(("case", "line", "message"), CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
def test_data_validate_names_file_and_line(tmp_path: Path, capsys, case: str, line: bytes, message: str) -> None:
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(_doc("d1") + b"\n" + line + b"\n")
    assert main(["data", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{path}: INVALID" in captured.out
    assert f"{path}:2" in captured.err and message in captured.err, captured.err


def test_data_validate_accepts_bom_crlf_and_blank_lines(tmp_path: Path, capsys) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _doc("d1") + b"\r\n\r\n" + _doc("d2") + b"\r\n")
    assert main(["data", "validate", str(path)]) == 0
    assert f"{path}: ok (2 documents)" in capsys.readouterr().out
    assert [(n, d.id) for n, d in read_jsonl(str(path))] == [(1, "d1"), (3, "d2")]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_data_validate_unreadable_paths(tmp_path: Path, capsys, kind: str) -> None:
    path = tmp_path / "corpus.jsonl"
    if kind == "directory":
        path.mkdir()
    assert main(["data", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and ("file not found" if kind == "missing" else "cannot read this file") in err


_SPAN_WITH_SCORE = b'{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 3, "layer": "entities", "label": "PER", "score": %s}]}'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "malformed JSON"),
        (b"\xff", "invalid UTF-8 at byte 0"),
        (b"{", "malformed JSON"),
        (b"[" * 100_000, "malformed JSON"),  # was RecursionError
        (b"1" * 5000, "malformed JSON"),  # was ValueError (int digit limit)
        (b"1e999", "out of range"),  # was parsed as inf, written back as Infinity
        (b"-Infinity", "-Infinity is not valid JSON"),
        (b"\x00", "malformed JSON"),
        (b'"\\ud800"', "value holds an unpaired surrogate"),
        (b'{"id": "\\ud800", "text": ""}', "id holds an unpaired surrogate at character 0"),  # was accepted, unwritable
        (b'{"id": "a", "text": "", "meta": {"\\udfff": 1}}', "key '\\\\udfff' in 'meta' holds an unpaired surrogate"),
        (_SPAN_WITH_SCORE % (b"1" + b"0" * 400), "'score' must be a finite number"),  # found by test_fuzz: OverflowError in to_json
        (_SPAN_WITH_SCORE % b"true", "'score' must be a finite number, got True"),
        (_SPAN_WITH_SCORE % b"NaN", "NaN is not valid JSON"),
    ],
)
def test_parse_jsonl_line_raises_document_error_only(raw: bytes, message: str) -> None:
    """Regression inputs from the fuzz target: each once escaped as another exception or was accepted unwritable."""
    with pytest.raises(DocumentError, match=r"^x\.jsonl:7[: ]") as info:
        parse_jsonl_line(raw, "x.jsonl:7")
    assert message in str(info.value)


# --- configs ---------------------------------------------------------------------------------

BASE_CFG = "data:\n  train: [train.jsonl]\n"

#: (case, YAML text, expected ConfigError substring)
CONFIG_CASES = [
    ("typo_section", BASE_CFG + "trian: {epochs: 3}\n", "unknown key 'trian' (did you mean 'train'?)"),
    ("typo_key", BASE_CFG + "model: {max_lenght: 128}\n", "unknown key 'model.max_lenght' (did you mean 'max_length'?)"),
    ("typo_nested", BASE_CFG + "model: {from_scratch: {hiden_size: 8}}\n", "unknown key 'model.from_scratch.hiden_size'"),
    ("wrong_type_int", BASE_CFG + "train: {epochs: ten}\n", "'train.epochs' must be int, got 'ten' (str)"),
    ("wrong_type_float_for_int", BASE_CFG + "train: {batch_size: 1.5}\n", "'train.batch_size' must be int, got 1.5"),
    ("wrong_type_bool_for_int", BASE_CFG + "train: {epochs: true}\n", "'train.epochs' must be int, got True"),
    ("wrong_type_str_for_float", BASE_CFG + "train: {learning_rate: fast}\n", "'train.learning_rate' must be float, got 'fast'"),
    ("wrong_type_section", BASE_CFG + "model: 3\n", "'model' must be a mapping, got 3"),
    ("source_is_null", "data: {train: [null]}\n", "'data.train[0]' must be a mapping, got None"),
    ("no_train_data", "data: {train: []}\n", "data.train needs at least one source"),
    ("unknown_format", "data: {train: [{path: a.txt, format: csv}]}\n", "data.train[0].format must be one of jsonl, conll, aqmar, got 'csv'"),
    ("stride_equals_window", BASE_CFG + "model: {max_length: 64, stride: 62}\n", "model.stride must be >= 0 and < model.max_length - 2 (62), got 62"),
    ("stride_over_window", BASE_CFG + "model: {max_length: 64, stride: 500}\n", "model.stride must be >= 0 and < model.max_length - 2"),
    ("window_too_small", BASE_CFG + "model: {max_length: 4, stride: 1}\n", "model.max_length must be in 16..8192, got 4"),
    ("zero_batch", BASE_CFG + "train: {batch_size: 0}\n", "train.batch_size must be >= 1, got 0"),
    ("zero_epochs", BASE_CFG + "train: {epochs: 0}\n", "train.epochs must be >= 1, got 0"),
    ("negative_lr", BASE_CFG + "train: {learning_rate: -0.1}\n", "train.learning_rate must be in (0, 1], got -0.1"),
    ("nan_lr", BASE_CFG + "train: {learning_rate: .nan}\n", "train.learning_rate must be in (0, 1], got nan"),
    ("nan_weight", "data: {train: [{path: a.jsonl, weight: .nan}]}\n", "data.train[0].weight must be > 0 and finite, got nan"),
    ("zero_heads", BASE_CFG + "model: {from_scratch: {num_heads: 0}}\n", "model.from_scratch.num_heads must be >= 1"),
    ("heads_do_not_divide", BASE_CFG + "model: {from_scratch: {hidden_size: 30, num_heads: 4}}\n", "must be divisible by num_heads"),
    ("zero_vocab", BASE_CFG + "model: {from_scratch: {vocab_size: 0}}\n", "model.from_scratch.vocab_size must be >= 1"),
    ("subwords_over_window", BASE_CFG + "model: {max_length: 64, max_subwords_per_word: 17}\n", "model.max_subwords_per_word must be in 1..16, got 17"),
    ("dropout_one", BASE_CFG + "model: {dropout: 1.0}\n", "model.dropout must be in [0, 1), got 1.0"),
    ("negative_seed", BASE_CFG + "seed: -1\n", "seed must be in 0..4294967295, got -1"),
    ("negative_grad_norm", BASE_CFG + "train: {max_grad_norm: -1}\n", "train.max_grad_norm (0 = no clipping)"),
    ("bad_precision", BASE_CFG + "train: {precision: fp8}\n", "train.precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    ("bad_portion", "data: {train: [{path: a.jsonl, portion: [0.9, 0.1]}]}\n", "data.train[0].portion must be [from, to]"),
    ("not_yaml", "data: [unclosed\n", "not valid YAML"),
    ("top_level_list", "- a\n- b\n", "the top level must be a mapping, got list"),
]


@pytest.mark.parametrize(("case", "text", "message"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_errors_name_key_and_valid_options(tmp_path: Path, case: str, text: str, message: str) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_config_override_typo_and_missing_config(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE_CFG, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'train.epoch' \(did you mean 'epochs'\?\)"):
        load_config(path, ["train.epoch=3"])
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        load_config(path, ["train.epochs"])
    with pytest.raises(ConfigError, match="'epochs' is not a section"):
        load_config(path, ["train.epochs=3", "train.epochs.x=1"])
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert f"config file not found: {tmp_path / 'nope.yaml'}" in capsys.readouterr().err


def test_missing_data_file_fails_at_train_time_naming_the_path(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "corpus" / "train.jsonl"
    path = tmp_path / "c.yaml"
    # precision fp32 as in the tiny fixture: accelerate refuses a second precision in one process
    path.write_text(f"output_dir: {tmp_path / 'run'}\ndata:\n  train: [{missing}]\ntrain: {{precision: fp32}}\n", encoding="utf-8")
    cfg = load_config(path)  # the config itself is fine
    from araquote.training.train import train

    with pytest.raises(DocumentError, match=f"data file not found: {missing}"):
        train(cfg, progress=False)
    assert main(["train", str(path), "--quiet"]) == 2
    assert f"data file not found: {missing}" in capsys.readouterr().err


def test_split_words_on_catalogue_is_exact() -> None:
    for case, text in TEXTS.items():
        words = split_words(text)
        assert all(text[w.start : w.end] == w.text for w in words), case
        assert all(a.end <= b.start for a, b in zip(words, words[1:])), case
