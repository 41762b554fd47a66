"""Property tests (Hypothesis) for raw text, offsets, windows, rule spans and BIO decoding."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from araquote.inference.rules import RuleTagger
from araquote.inference.schema import bio_to_spans, spans_to_bio
from araquote.inference.text import is_word_char, normalise_arabert, normalise_none, split_words
from araquote.inference.windows import best_window_per_word, check_window_settings, encode_documents, make_windows

from .test_hostile import assert_valid_doc

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئىة"
MARKS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0640"
PIECES = [
    "قال", "وقال", "قالت", "أضاف", "وأضاف", "مضيفا", "أكد", "بحسب", "وفقا", "ما", "إن", "إنه", "أن", "بأن", "فإن",
    "الوزير", "وزير", "الخارجية", "المتحدث", "باسم", "مصدر", "في", "عن", "المحادثات", "ستستأنف", "الأسبوع",
    "«", "»", "“", "”", '"', ":", "،", ",", ".", "؟", "!", "(", ")", "-", "…",
    " ", " ", " ", "\n", "\r\n", "\u00a0", "\u200f", "\u200e", "\u200c", "\u200d", "\ufeff", "\t",
    "ـ", "\u0651", "\u064e", "🇸🇦", "👍🏽", "2024", "١٢", "abc", "https://x.y/z",
]

#: Any code point, surrogates and unassigned ones included.
any_char = st.characters(blacklist_categories=())
arabic_char = st.sampled_from(ARABIC_LETTERS + MARKS + " ،.«»:\u200f\u00a0\n")
any_text = st.text(st.one_of(any_char, arabic_char), max_size=200)
SEPARATORS = st.sampled_from([" "] * 8 + ["", "\n", "\u00a0", "، ", ". ", " \u200f", ": «", "» "])
_token = st.one_of(st.sampled_from(PIECES), st.text(arabic_char, min_size=1, max_size=6))
_quote_like = st.tuples(
    st.sampled_from(["قال", "وأضاف", "قالت", "أكد", "مشيرا"]),
    st.lists(st.sampled_from(PIECES[15:26]), max_size=3),
    st.sampled_from(["إن", "أن", "بأن", ": «", ":«", " «"]),
    st.lists(st.sampled_from(PIECES[15:26] + ["«", "»", "،", "."]), max_size=8),
).map(lambda t: " ".join([t[0], *t[1], t[2], *t[3]]))
#: Arabic-looking text: cue words, complementisers, marks, punctuation and odd separators, often quote-like.
arabic_text = st.lists(st.tuples(st.one_of(_token, _quote_like), SEPARATORS), max_size=30).map(
    lambda parts: "".join(tok + sep for tok, sep in parts)
)


def _separator_like(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")


# --- split_words --------------------------------------------------------------------------


@FAST
@given(st.one_of(any_text, arabic_text))
def test_split_words_are_exact_ordered_slices(text: str) -> None:
    words = split_words(text)
    covered = set()
    for w in words:
        assert 0 <= w.start < w.end <= len(text) and text[w.start : w.end] == w.text
        covered.update(range(w.start, w.end))
    for a, b in zip(words, words[1:]):
        assert a.end <= b.start
        if a.end == b.start:  # touching words: at least one is a single punctuation/symbol character
            assert not (is_word_char(text[a.end - 1]) and is_word_char(text[b.start]))
    for i, ch in enumerate(text):
        if i not in covered:
            assert _separator_like(ch) and not is_word_char(ch), (i, ch)


@FAST
@given(arabic_text)
def test_normalisation_never_empties_a_word(text: str) -> None:
    for w in split_words(text):
        assert normalise_arabert(w.text) and normalise_none(w.text) == w.text


# --- windows ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    from araquote.training.scratch import train_wordpiece

    texts = ["قال الوزير إن المحادثات ستستأنف الأسبوع المقبل في الرياض.", "وأضاف المتحدث باسم الخارجية أن «الوضع خطير»، بحسب مصدر."] * 4
    return train_wordpiece(texts, normalise_none, 150)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    texts=st.lists(st.one_of(arabic_text, any_text), min_size=1, max_size=3),
    max_length=st.integers(8, 40),
    stride_frac=st.floats(0, 1, exclude_max=True),
    subwords=st.integers(1, 38),
)
def test_windows_cover_every_word_within_max_length(tokenizer, texts, max_length, stride_frac, subwords) -> None:
    stride = int(stride_frac * (max_length - 2))
    check_window_settings(max_length, stride)
    subwords = min(subwords, max_length - 2)
    encoded = encode_documents(texts, tokenizer, normalise_none, max_subwords_per_word=subwords)
    for d, enc in enumerate(encoded):
        assert len(enc.pieces) == len(enc.words) == len(split_words(texts[d]))
        assert all(1 <= len(p) <= subwords for p in enc.pieces)
        windows = make_windows(d, enc, max_length, stride, cls_id=2, sep_id=3)
        assert bool(windows) == bool(enc.words)
        for prev, win in zip(windows, windows[1:]):
            assert prev.first < win.first <= prev.last  # progress, and no word falls between windows
        for win in windows:
            assert win.doc == d and len(win) <= max_length and win.first < win.last
            assert win.input_ids[0] == 2 and win.input_ids[-1] == 3
            assert [win.input_ids[p] for p in win.word_starts] == [enc.pieces[k][0] for k in range(win.first, win.last)]
        if windows:
            assert windows[0].first == 0 and windows[-1].last == len(enc.words)
        for k, (wi, pos) in enumerate(best_window_per_word(windows, len(enc.words))):
            assert windows[wi].first <= k < windows[wi].last and pos == k - windows[wi].first


# --- rule spans -----------------------------------------------------------------------------


@FAST
@given(arabic_text)
def test_rule_spans_are_whole_words_in_range_and_disjoint(text: str) -> None:
    doc = RuleTagger().tag(text)
    assert_valid_doc(doc)
    assert all(s.layer == "attribution" for s in doc.spans)
    quotes = {s.id for s in doc.spans if s.label == "QUOTE"}
    assert {q.quote for q in doc.quotes} == quotes


@settings(max_examples=60, deadline=None)
@given(arabic_text)
def test_high_precision_rules_are_valid_too(text: str) -> None:
    assert_valid_doc(RuleTagger(high_precision=True).tag(text))


# --- BIO <-> spans --------------------------------------------------------------------------

TAGS = st.one_of(
    st.sampled_from(["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-QUOTE", "I-QUOTE", "B-", "I-", "B", "I", "X", "-", "B-I-X", "i-PER", ""]),
    st.text(max_size=5),
)


@FAST
@given(st.lists(TAGS, max_size=40))
def test_bio_to_spans_yields_valid_spans_for_any_tags(tags: list[str]) -> None:
    spans = bio_to_spans(tags)
    prev = 0
    for first, last, label in spans:
        assert prev <= first < last <= len(tags) and label
        assert tags[first].partition("-")[2] == label
        prev = last
    assert bio_to_spans(spans_to_bio(len(tags), spans)) == spans  # decoding is a fixed point


@FAST
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4), st.sampled_from(["PER", "LOC", "QUOTE", "X_1"])), max_size=10))
def test_spans_to_bio_round_trips(gaps_lengths_labels) -> None:
    spans, pos = [], 0
    for gap, length, label in gaps_lengths_labels:
        spans.append((pos + gap, pos + gap + length, label))
        pos += gap + length
    assert bio_to_spans(spans_to_bio(pos + 2, spans)) == spans
