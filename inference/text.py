"""Raw text -> words with raw character offsets, and model-specific normalisation.

Offsets are Unicode code points into the text exactly as received. Normalisation
(for example AraBERT's preprocessing) is applied per word, so a word's offsets
always point back into the raw text whatever the model sees.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

TATWEEL = "\u0640"
ZWNJ = "\u200c"
ZWJ = "\u200d"
#: Arabic diacritics (tashkeel), Quranic marks and superscript alef.
TASHKEEL_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
QUOTE_OPEN = "«“\"'‘„‹"
QUOTE_CLOSE = "»”\"'’‹›"
QUOTE_MARKS = frozenset("«»“”\"„‟‹›")
SENTENCE_END = frozenset(".!?؟۔…")


def is_word_char(ch: str) -> bool:
    """True for characters that belong inside a word.

    Letters, digits, combining marks (tashkeel), tatweel, underscore and the
    zero-width (non-)joiners are word characters. Everything else (spaces,
    NBSP, RLM/LRM, BOM, punctuation, symbols, emoji) separates words;
    punctuation and symbols become one-character words of their own.
    """
    if ch.isalnum() or ch == "_" or ch in (TATWEEL, ZWNJ, ZWJ):
        return True
    return unicodedata.category(ch)[0] == "M"


def _is_separator(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return ch.isspace() or cat in ("Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a raw text: ``text == raw[start:end]``."""

    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """Split raw text into words with raw code-point offsets.

    A word is a maximal run of word characters (see :func:`is_word_char`);
    each punctuation or symbol character is a word of its own; whitespace and
    invisible format characters are dropped. Combining marks that follow a
    separator attach to the next word run.
    """
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if is_word_char(ch):
            j = i + 1
            while j < n and is_word_char(text[j]):
                j += 1
            words.append(Word(text[i:j], i, j))
            i = j
        elif _is_separator(ch):
            i += 1
        else:
            words.append(Word(ch, i, i + 1))
            i += 1
    return words


def word_boundaries(text: str) -> tuple[set[int], set[int]]:
    """Return the sets of word start and word end offsets of ``text``."""
    words = split_words(text)
    return {w.start for w in words}, {w.end for w in words}


# --- model-specific normalisation -------------------------------------------------

_ARABERT_MAP = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def normalise_none(word: str) -> str:
    """Identity normalisation (most models)."""
    return word


def normalise_arabert(word: str) -> str:
    """AraBERT v0.2-style per-word preprocessing.

    Strips tashkeel, tatweel and zero-width joiners, as ``ArabertPreprocessor``
    does for ``aubmindlab/bert-*-arabertv02`` models; the word boundaries are
    already made by :func:`split_words`, so punctuation re-spacing is implicit.
    Letters are not unified (v0.2 keeps أ/ا, ى/ي, ة/ه distinct).
    """
    out = TASHKEEL_RE.sub("", word).replace(TATWEEL, "").replace(ZWNJ, "").replace(ZWJ, "")
    return out or word


def normalise_arabic_letters(word: str) -> str:
    """Aggressive normalisation: no tashkeel/tatweel and unified alef, ya, ta marbuta."""
    return normalise_arabert(word).translate(_ARABERT_MAP)


NORMALISERS: dict[str, Callable[[str], str]] = {
    "none": normalise_none,
    "arabert": normalise_arabert,
    "arabic_letters": normalise_arabic_letters,
}


def normaliser_for(model_name: str, requested: str = "auto") -> str:
    """Pick the normaliser name for a model: AraBERT's for ``aubmindlab/*``, else none."""
    if requested != "auto":
        if requested not in NORMALISERS:
            raise ValueError(f"unknown normalisation {requested!r}; known: auto, {', '.join(NORMALISERS)}")
        return requested
    return "arabert" if "aubmindlab/" in model_name or "arabert" in model_name.lower() else "none"


def get_normaliser(name: str) -> Callable[[str], str]:
    """Return the normalisation function registered under ``name``."""
    try:
        return NORMALISERS[name]
    except KeyError:
        raise ValueError(f"unknown normalisation {name!r}; known: {', '.join(NORMALISERS)}") from None
