from hypothesis import given, settings
from hypothesis import strategies as st

from araquote.inference.text import normalise_arabert, normaliser_for, split_words

TRICKY = "قـال\u00a0الوزيرُ\u200f «إنّ» لأوكرانيا، COVID-19 و٢٠٢٤؛ هل؟ می\u200cخواهم \u200e\"نعم\" “لا”"


def test_words_map_back_to_raw_text():
    words = split_words(TRICKY)
    assert all(TRICKY[w.start : w.end] == w.text for w in words)
    texts = [w.text for w in words]
    assert "قـال" in texts  # tatweel stays inside the word
    assert "الوزيرُ" in texts  # tashkeel stays inside the word
    assert "لأوكرانيا" in texts  # attached clitic: one word
    assert "می\u200cخواهم" in texts  # ZWNJ joins
    for p in "«»،؛؟\"“”":
        assert p in texts  # punctuation is a word of its own
    assert "\u00a0" not in "".join(texts) and "\u200f" not in "".join(texts)


def test_latin_and_digits():
    assert [w.text for w in split_words("COVID-19 في 2024")] == ["COVID", "-", "19", "في", "2024"]


def test_arabert_normalisation_strips_marks_only():
    assert normalise_arabert("قـالَ") == "قال"
    assert normalise_arabert("أحمد") == "أحمد"  # v0.2 keeps hamza forms
    assert normalise_arabert("\u064e") == "\u064e"  # never returns an empty word


def test_normaliser_choice():
    assert normaliser_for("aubmindlab/bert-base-arabertv02") == "arabert"
    assert normaliser_for("models/me5-small") == "none"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_words_are_exact_raw_slices_for_any_unicode(text):
    words = split_words(text)
    prev_end = 0
    for w in words:
        assert text[w.start : w.end] == w.text
        assert w.start >= prev_end and w.end > w.start
        prev_end = w.end
