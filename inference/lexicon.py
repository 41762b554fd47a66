"""Name memory: the entity strings of the training data, as a decode-time prior.

A checkpoint keeps, per layer, the word sequences its training data labelled
as spans (``entries``: key, label, times labelled so, times seen at all). At
decode, a run of words that matches a stored key (longest match first, keys
of up to :data:`MAX_WORDS` words, spelling folded as in :func:`rules.fold`)
gets ``weight x reliability`` added to the log-probability of that label's
``B``/``I`` tags, where ``reliability = labelled / (seen + 1)``: a name seen
five times and always labelled ORG (5/6) weighs more than one seen once (1/2),
and a string that is a name only half the time it appears weighs little.

Arabic writes conjunctions and prepositions onto the next word, so a name
stored as ``البنك التجاري`` appears in text as ``للبنك التجاري`` or
``والبنك التجاري``: when a run of words has no entry as written, its first
word is looked up again without a proclitic (:func:`proclitic_variants`:
و/ف, ب/ل/ك, their pairs, ``لل`` for ل + ال); the span still covers the whole
written word, as the annotation contract has it.

The model still decides: the prior only tilts the Viterbi decode towards what
the training data said about the same words, which helps a small encoder on
names it half-learnt (a ``B-ORG I-ORG`` it splits into ``B-ORG B-PER``). The
weight is chosen on a dev split (``model.lexicon_weight: null``); 0 turns the
prior off, and a checkpoint without entries decodes exactly as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .rules import fold
from .schema import bio_to_spans

MAX_WORDS = 6  # the longest key stored and matched, in words
_PAIRS = ("وب", "ول", "وك", "فب", "فل")


def proclitic_variants(word: str) -> list[str]:
    """Forms of a folded ``word`` without a leading proclitic, in the order they are tried.

    ``والبنك`` -> ``البنك``; ``للبنك`` -> ``البنك`` (ل + ال is written لل); ``وبغداد`` -> ``غداد``, ``بغداد``
    (two letters off, then one); only forms that keep at least three letters. Variants are looked up, never stored.
    """
    out: list[str] = []
    if len(word) > 4 and word[0] in "وفبك" and word[1:3] == "ال":
        out.append(word[1:])
    if len(word) > 4 and word[0] in "وف" and word[1:3] == "لل":
        out.append("ال" + word[3:])
    if len(word) > 3 and word.startswith("لل"):
        out.append("ال" + word[2:])
    if len(word) > 4 and word.startswith(_PAIRS):
        out.append(word[2:])
    if len(word) > 3 and word[0] in "وفبلك":
        out.append(word[1:])
    return list(dict.fromkeys(out))


def lexicon_key(words: Sequence[str]) -> str:
    """The lookup key of a run of words: spelling-folded, space-joined."""
    return " ".join(fold(w) for w in words)


def build_lexicon(sequences: Iterable[tuple[Sequence[str], Sequence[str]]], max_words: int = MAX_WORDS,
                  min_reliability: float = 0.25) -> list[list[str | int]]:
    """``[key, label, labelled, seen]`` entries from ``(words, BIO tags)`` of training documents.

    ``labelled``: how often the key was a whole span of ``label`` (its most frequent one); ``seen``: how often
    the same words occur anywhere in the text (as that span, another label, part of a longer span, or outside
    any span). Entries whose reliability ``labelled / (seen + 1)`` is under ``min_reliability`` are left out;
    the entries are sorted, so the same data always gives the same checkpoint.
    """
    docs = [([fold(w) for w in words], list(tags)) for words, tags in sequences]
    labelled: dict[str, Counter[str]] = {}
    for words, tags in docs:
        if len(words) != len(tags):
            raise ValueError(f"build_lexicon: {len(words)} words but {len(tags)} tags")
        for first, last, label in bio_to_spans(tags):
            if last - first <= max_words:
                labelled.setdefault(" ".join(words[first:last]), Counter())[label] += 1
    seen: Counter[str] = Counter()
    lengths = sorted({key.count(" ") + 1 for key in labelled})
    for words, _ in docs:
        for i in range(len(words)):
            for n in lengths:
                if i + n > len(words):
                    break
                key = " ".join(words[i : i + n])
                if key in labelled:
                    seen[key] += 1
    entries: list[list[str | int]] = []
    for key, counts in labelled.items():
        label, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if count / (seen[key] + 1) >= min_reliability:
            entries.append([key, label, count, seen[key]])
    entries.sort(key=lambda e: (str(e[0]), str(e[1])))
    return entries


class NameLexicon:
    """Longest-match lookup over a checkpoint's entries, producing per-word tag bonuses."""

    def __init__(self, entries: Sequence[Sequence[str | int]], tags: Sequence[str]) -> None:
        self.tags = list(tags)
        index = {t: i for i, t in enumerate(self.tags)}
        self.table: dict[str, tuple[int, int, float]] = {}
        self.max_words = 0
        for entry in entries:
            if len(entry) != 4:
                raise ValueError(f"lexicon entry {list(entry)!r}: expected [key, label, labelled, seen]")
            key, label, count, seen = str(entry[0]), str(entry[1]), int(entry[2]), int(entry[3])
            if f"B-{label}" not in index:
                raise ValueError(f"lexicon entry {key!r}: label {label!r} is not one of the layer's labels "
                                 f"({', '.join(sorted({t[2:] for t in self.tags if t != 'O'}))})")
            if not key:
                raise ValueError("lexicon entry with an empty key")
            self.table[key] = (index[f"B-{label}"], index[f"I-{label}"], count / (seen + 1))
            self.max_words = max(self.max_words, key.count(" ") + 1)

    def __len__(self) -> int:
        return len(self.table)

    def matches(self, words: Sequence[str]) -> list[tuple[int, int, int, int, float]]:
        """Non-overlapping ``(first, last_exclusive, b_id, i_id, reliability)``, longest match first, left to right
        (at each length, the words as written before the first word without its proclitic)."""
        folded = [fold(w) for w in words]
        out = []
        i = 0
        while i < len(folded):
            for n in range(min(self.max_words, len(folded) - i), 0, -1):
                hit = self.table.get(" ".join(folded[i : i + n]))
                if hit is None:  # the same words with a conjunction or preposition written onto the first one
                    rest = folded[i + 1 : i + n]
                    hit = next((h for v in proclitic_variants(folded[i])
                                if (h := self.table.get(" ".join([v, *rest]))) is not None), None)
                if hit is not None:
                    out.append((i, i + n, *hit))
                    i += n
                    break
            else:
                i += 1
        return out

    def bonus(self, words: Sequence[str], weight: float) -> np.ndarray | None:
        """``(n_words, n_tags)`` log-score bonus for ``words``; None when the weight is 0 or nothing matches."""
        if not weight or not self.table:
            return None
        found = self.matches(words)
        if not found:
            return None
        out = np.zeros((len(words), len(self.tags)))
        for first, last, b_id, i_id, reliability in found:
            out[first, b_id] += weight * reliability
            out[first + 1 : last, i_id] += weight * reliability
        return out
