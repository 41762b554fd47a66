"""Long articles are windowed, never truncated; offsets always index the raw text."""

import pytest

from araquote.inference.tagger import Tagger

from .conftest import DOC_A  # noqa: F401


@pytest.fixture(scope="module")
def tagger(trained_tiny):
    return Tagger.from_pretrained(trained_tiny / "model", device="cpu", batch_size=4)


def _long_article(tiny_docs, n_words=3000):
    para = tiny_docs[0].text
    parts = []
    while sum(len(p.split()) for p in parts) < n_words:
        parts.append(para)
    return "\n\n".join(parts)


def test_3000_word_article_is_tagged_in_full(tagger, tiny_docs):
    text = _long_article(tiny_docs)
    enc_len = sum(len(p) for p in __import__("araquote.inference.windows", fromlist=["x"]).encode_documents(
        [text], tagger.tokenizer, tagger.normalise)[0].pieces)
    assert enc_len > 512 and tagger.max_length < enc_len
    doc = tagger.tag(text)
    for s in doc.spans:
        assert doc.text[s.start : s.end] == text[s.start : s.end] and s.end > s.start
    last_para_start = text.rindex(tiny_docs[0].text)
    # spans are found in the last paragraph too, i.e. far past subword 512
    tail = [s for s in doc.spans if s.start >= last_para_start]
    head = [s for s in doc.spans if s.end <= len(tiny_docs[0].text)]
    labels = {s.label for s in tail}
    assert {"CUE", "QUOTE"} <= labels and labels & {"PER", "LOC", "ORG"}
    assert len(tail) >= len(head) // 2
    assert len(doc.quotes) >= text.count(tiny_docs[0].text)


def test_batching_and_window_settings_do_not_change_results(tagger, trained_tiny, tiny_docs):
    texts = [d.text for d in tiny_docs] + [_long_article(tiny_docs, 800)]
    base = [[(s.start, s.end, s.label) for s in d.spans] for d in tagger.tag(texts)]
    other = Tagger.from_pretrained(trained_tiny / "model", device="cpu", batch_size=1)
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in other.tag(texts)] == base


def test_empty_and_odd_texts(tagger):
    docs = tagger.tag(["", "   ", "🙂🇸🇦", "\u200f\u200e", "x" * 5000, "COVID-19 ٢٠٢٤"])
    assert [d.spans for d in docs[:2]] == [[], []]
    for d in docs:
        for s in d.spans:
            assert 0 <= s.start < s.end <= len(d.text)


def test_bad_settings(trained_tiny):
    with pytest.raises(ValueError, match="unknown dtype"):
        Tagger.from_pretrained(trained_tiny / "model", dtype="fp8")
    with pytest.raises(ValueError, match="unknown device"):
        Tagger.from_pretrained(trained_tiny / "model", device="tpu")
    with pytest.raises(ValueError, match="batch_size"):
        Tagger.from_pretrained(trained_tiny / "model", batch_size=0)


def test_bf16_and_int8_modes_run(trained_tiny, tiny_docs):
    for dtype in ("bf16", "int8"):
        t = Tagger.from_pretrained(trained_tiny / "model", device="cpu", dtype=dtype)
        doc = t.tag(tiny_docs[0].text)
        assert all(doc.text[s.start : s.end] for s in doc.spans)


def test_auto_dtype_is_measured_and_agrees(trained_tiny, tiny_docs):
    t = Tagger.from_pretrained(trained_tiny / "model", device="cpu", dtype="auto")
    docs = t.tag([d.text for d in tiny_docs])
    rep = t.auto_report
    assert rep is not None and rep["chosen"] == t.dtype
    assert rep["candidates"]["fp32"]["agreement"] == 1.0
    assert rep["candidates"][rep["chosen"]]["agreement"] >= 0.995
    ref = Tagger.from_pretrained(trained_tiny / "model", device="cpu").tag([d.text for d in tiny_docs])
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in docs] == [[(s.start, s.end, s.label) for s in d.spans] for d in ref]
