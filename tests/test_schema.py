import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from araquote.inference.schema import (
    Document,
    DocumentError,
    QuoteRecord,
    Span,
    bio_to_spans,
    parse_jsonl_line,
    read_jsonl,
    spans_to_bio,
    validate,
)

TEXT = "قال الوزير إن الاتفاق نهائي."


def _doc(**kw):
    base = dict(id="d1", text=TEXT, layers=["attribution", "entities"], spans=[], quotes=[])
    base.update(kw)
    return Document(**base)


def test_valid_document_has_no_errors():
    spans = [Span("s1", 0, 3, "attribution", "CUE"), Span("s2", 4, 10, "attribution", "SPEAKER"), Span("s3", 11, 27, "attribution", "QUOTE")]
    doc = _doc(spans=spans, quotes=[QuoteRecord("s3", "s2", "s1", "indirect")])
    assert validate(doc) == []


@pytest.mark.parametrize(
    "span,needle",
    [
        (Span("s1", 0, 99, "entities", "PER"), "out of range"),
        (Span("s1", 1, 3, "entities", "PER"), "not on word boundaries"),
        (Span("s1", 0, 3, "entities", "per"), "upper-case"),
        (Span("s1", 0, 3, "attribution", "SOURCE"), "unknown label 'SOURCE'"),
        (Span("s1", 0, 3, "syntax", "NP"), "unknown layer"),
    ],
)
def test_span_errors_name_document_span_and_problem(span, needle):
    errors = validate(_doc(spans=[span]))
    assert errors and needle in errors[0] and "d1 span s1" in errors[0]


def test_overlap_dangling_and_quote_without_record():
    spans = [Span("s1", 0, 10, "attribution", "SPEAKER"), Span("s2", 4, 10, "attribution", "QUOTE")]
    errors = validate(_doc(spans=spans, quotes=[QuoteRecord("s9", "s1", None, "indirect")]))
    text = "\n".join(errors)
    assert "overlap on layer attribution" in text
    assert "unknown span id 's9'" in text
    assert "QUOTE without a quote record" in text


def test_entity_label_sets_can_be_declared():
    doc = _doc(spans=[Span("s1", 4, 10, "entities", "GPE")])
    assert validate(doc) == []
    assert "unknown label" in validate(doc, labels={"entities": ["PER"]})[0]


def test_jsonl_errors_carry_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(json.dumps({"id": "ok", "text": "نص"}).encode() + b"\n" + b'{"id": "x", "text": "a",}\n')
    with pytest.raises(DocumentError, match=r"bad.jsonl:2: malformed JSON"):
        list(read_jsonl(str(p)))
    with pytest.raises(DocumentError, match="invalid UTF-8"):
        parse_jsonl_line(b'{"id": "x", "text": "\xff"}', "f:1")
    with pytest.raises(DocumentError, match="'text' must be a string"):
        parse_jsonl_line('{"id": "x", "text": 3}', "f:1")
    with pytest.raises(DocumentError, match="unpaired surrogate"):
        parse_jsonl_line('{"id": "x", "text": "\\ud800"}', "f:1")


def test_roundtrip_json():
    doc = _doc(spans=[Span("s1", 0, 3, "attribution", "CUE", 0.91)], quotes=[])
    again = Document.from_dict(json.loads(doc.to_json()))
    assert again.to_dict() == doc.to_dict()


def test_bio_roundtrip():
    spans = [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]
    assert bio_to_spans(spans_to_bio(7, spans)) == spans


@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]), max_size=40))
def test_any_bio_sequence_decodes_to_valid_spans(tags):
    spans = bio_to_spans(tags)
    prev = 0
    for first, last, label in spans:
        assert prev <= first < last <= len(tags)
        assert all(tags[k] != "O" and tags[k].endswith(label) for k in range(first, last))
        prev = last
