"""Bounded fuzz targets driven by Hypothesis (marked slow; each well under 30 s).

(a) the JSONL reader, (b) the authoring markup parser, (c) the taggers' text
path, (d) a batch job's reader. Each may refuse its input only with the
project's own error type; whatever it accepts must be writable back as strict
UTF-8 JSON. Crashes found here are kept as explicit cases in test_hostile.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from araquote.inference.batch import run_tag_job
from araquote.inference.rules import RuleTagger
from araquote.inference.schema import Document, DocumentError, loads_json, parse_jsonl_line, validate
from araquote.training.authoring import MarkupError, parse_source

from .test_hostile import assert_valid_doc, read_errors, read_output
from .test_properties import any_text, arabic_text

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=800, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --- (a) the JSONL reader ---------------------------------------------------------------------

_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.integers().map(lambda n: n * 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), any_text.map(lambda t: t[:8]),
)
json_value = st.recursive(_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=12)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy = json_value) -> st.SearchStrategy:
    """``good`` four times in five, else ``bad``: near-valid documents reach the deeper checks."""
    return st.integers(0, 9).flatmap(lambda k: bad if k in (3, 6) else good)  # not 0 or 9: Hypothesis favours bounds


_SPAN_IDS = st.sampled_from(["s1", "s2", "s3"])
_LAYER = st.sampled_from(["attribution", "entities", "x"])
_LABEL = st.sampled_from(["SPEAKER", "CUE", "QUOTE", "PER", "LOC", "per", "X_1", ""])
_score = st.one_of(st.floats(0, 1), st.integers(0, 1), st.booleans(), st.integers().map(lambda n: n * 10**400), json_value)
#: Well-typed spans (their values may still break the contract) and spans with any JSON in any field.
typed_span = st.fixed_dictionaries(
    {"start": st.integers(-2, 40), "end": st.integers(-2, 40), "layer": _LAYER, "label": _LABEL},
    optional={"id": _SPAN_IDS, "score": _score},
)
any_span = st.fixed_dictionaries(
    {"start": mostly(st.integers(-2, 40)), "end": mostly(st.integers(-2, 40)), "layer": mostly(_LAYER), "label": mostly(_LABEL)},
    optional={"id": mostly(_SPAN_IDS), "score": json_value},
)
quote_like = st.fixed_dictionaries(
    {"quote": mostly(_SPAN_IDS)},
    optional={
        "speaker": mostly(st.sampled_from(["s1", "s2", None])),
        "cue": mostly(st.sampled_from(["s1", "s3", None])),
        "kind": mostly(st.sampled_from(["direct", "indirect", "mixed", "x"])),
        "implicit_speaker": mostly(st.booleans()),
        "speaker_name": mostly(st.text(max_size=5)),
    },
)
doc_like = st.fixed_dictionaries(
    {
        "id": mostly(st.just("d1"), st.one_of(st.sampled_from(["", "\ud800", "x\udfff"]), json_value)),
        "text": mostly(st.one_of(arabic_text, any_text)),
    },
    optional={
        "layers": mostly(st.lists(st.sampled_from(["attribution", "entities", "x"]), max_size=3)),
        "spans": mostly(st.lists(mostly(typed_span, any_span), min_size=1, max_size=4)),
        "quotes": mostly(st.lists(quote_like, max_size=3)),
        "meta": mostly(st.dictionaries(st.text(max_size=4), json_value, max_size=3)),
    },
)


def _encode(obj: object, ascii_only: bool, cut: int | None) -> bytes:
    raw = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")  # surrogatepass: CESU bytes
    return raw[:cut] if cut is not None else raw


jsonl_lines = st.one_of(
    st.binary(max_size=120),
    st.builds(_encode, doc_like, st.booleans(), mostly(st.none(), st.integers(0, 200))),
    st.builds(_encode, doc_like.map(lambda d: {**d, "extra": 1}), st.booleans(), st.none()),
    st.builds(_encode, json_value, st.booleans(), st.none()),
)


@FUZZ
@given(jsonl_lines)
def test_fuzz_jsonl_reader(raw: bytes) -> None:
    try:
        doc = parse_jsonl_line(raw, "fuzz.jsonl:3")
    except DocumentError as exc:
        assert str(exc).startswith("fuzz.jsonl:3")
        return
    assert isinstance(doc, Document)
    assert isinstance(validate(doc), list)  # never raises, whatever the content
    back = doc.to_json()
    assert Document.from_dict(loads_json(back.encode("utf-8").decode("utf-8"))).to_dict() == doc.to_dict()


# --- (b) the authoring markup parser ------------------------------------------------------------

MARKUP = [
    "[PER ", "[ORG ", "[LOC ", "[MISC ", "[DATE ", "[per ", "[SPEAKER:1 ", "[CUE:1 ", "[QUOTE:1:direct ", "[QUOTE:2:indirect:^1 ",
    "[QUOTE:1:mixed ", "[QUOTE:1 ", "[QUOTE:3:direct:^9 ", "[SPEAKER:2:direct ", "[CUE ", "[PER:1 ", "]", "[", "\\[", "\\]", "\\\\",
    "&nbsp;", "&rlm;", "&zwnj;", "&amp;", " ", " ", "\n", "قال", "الوزير", "إن", "المحادثات", "«", "»", ":", "،", ".",
]
_header = st.sampled_from(["id: x\n---\n", "id: x\nlayers: entities\n---\n", "id: x\nlayers: attribution, bogus\n---\n", "---\n", "id:\n---\n", "bad header\n---\n", "id: x\n", "\ufeffid: x\r\n---\r\n"])
markup_source = st.one_of(
    any_text,
    st.tuples(_header, st.lists(st.sampled_from(MARKUP), max_size=40)).map(lambda t: t[0] + "".join(t[1])),
)


@FUZZ
@given(markup_source)
def test_fuzz_markup_parser(source: str) -> None:
    try:
        doc = parse_source(source, "fuzz.txt")
    except MarkupError as exc:
        assert str(exc).startswith("fuzz.txt") or "duplicate" in str(exc)
        return
    except DocumentError as exc:  # the contract allows the parent type too
        assert "fuzz.txt" in str(exc)
        return
    assert validate(doc) == []
    assert_valid_doc(doc)


# --- (c) the taggers' text path --------------------------------------------------------------------


@FUZZ
@given(st.one_of(arabic_text, any_text))
def test_fuzz_rule_tagger(text: str) -> None:
    doc = RuleTagger().tag(text)
    assert doc.text == text
    assert_valid_doc(doc)


@pytest.fixture(scope="module")
def model_tagger(trained_tiny: Path):
    from araquote.inference.tagger import Tagger

    return Tagger.from_pretrained(trained_tiny / "model", device="cpu", max_length=16, stride=4)  # small windows: many per text


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(arabic_text, any_text), min_size=1, max_size=6))
def test_fuzz_model_tagger(model_tagger, texts: list[str]) -> None:
    docs = model_tagger.tag(texts)
    assert [d.text for d in docs] == texts
    for doc in docs:
        assert_valid_doc(doc)


# --- (d) a batch job on arbitrary input lines ------------------------------------------------------


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(jsonl_lines, min_size=1, max_size=5))
def test_fuzz_tag_job_reader(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        counts = run_tag_job(RuleTagger(), [str(src)], str(out), progress=False)
        docs, errors = read_output(out), read_errors(Path(f"{out}.errors.jsonl"))
        assert counts["tagged"] == len(docs) and counts["errors"] == len(errors)
        assert all(e["where"].startswith(f"{src}:") for e in errors)
