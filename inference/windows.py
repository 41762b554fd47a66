"""Documents -> words -> subwords -> overlapping windows, and the merge back.

Long documents are never truncated: they are cut into windows of at most
``max_length`` subwords (specials included) that overlap by about ``stride``
subwords; each word's prediction is taken from the window in which it has the
most context on both sides (ties go to the earlier window), so the merge is
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .text import Word, split_words


@dataclass
class Encoded:
    """A document's words and their subword ids (each word has at least one piece)."""

    words: list[Word]
    pieces: list[list[int]]
    features: list[Any] | None = None  # one feature id (or row of ids) per word (see wordfeatures.py), if the model uses them


@dataclass
class Window:
    """Words ``[first, last)`` of document ``doc`` laid out as one model input."""

    doc: int
    first: int
    last: int
    input_ids: list[int]
    word_starts: list[int]  # position in input_ids of each word's first piece
    feature_ids: list[Any] | None = None  # parallel to input_ids when the model uses word features

    def __len__(self) -> int:
        return len(self.input_ids)


def check_window_settings(max_length: int, stride: int) -> None:
    """Reject impossible window settings with a clear message."""
    if max_length < 8:
        raise ValueError(f"max_length must be >= 8 subwords, got {max_length}")
    if not 0 <= stride < max_length - 2:
        raise ValueError(f"stride must be >= 0 and < max_length - 2 ({max_length - 2}), got {stride}")


def encode_documents(
    texts: Sequence[str],
    tokenizer: object,
    normalise: Callable[[str], str],
    max_subwords_per_word: int = 16,
    word_features: str = "",
) -> list[Encoded]:
    """Split texts into words and tokenise all of them in one batched call.

    A word that the tokenizer maps to nothing gets the unknown token; a word
    longer than ``max_subwords_per_word`` pieces (URLs, base64) keeps only its
    first pieces, which carry its label.
    """
    all_words = [split_words(t) for t in texts]
    batch = [[normalise(w.text) for w in words] for words in all_words]
    unk = getattr(tokenizer, "unk_token_id", None)
    unk = 0 if unk is None else unk
    out: list[Encoded] = []
    non_empty = [i for i, b in enumerate(batch) if b]
    encodings = tokenizer(  # type: ignore[operator]
        [batch[i] for i in non_empty], is_split_into_words=True, add_special_tokens=False, verbose=False
    ) if non_empty else None
    by_doc = {i: k for k, i in enumerate(non_empty)}
    for i, words in enumerate(all_words):
        pieces: list[list[int]] = [[] for _ in words]
        if words and encodings is not None:
            k = by_doc[i]
            ids = encodings["input_ids"][k]
            for tok, wid in zip(ids, encodings.word_ids(k)):
                if wid is not None and len(pieces[wid]) < max_subwords_per_word:
                    pieces[wid].append(tok)
        out.append(Encoded(words, [p or [unk] for p in pieces], _features(word_features, texts[i], words)))
    return out


def make_windows(
    doc_index: int, encoded: Encoded, max_length: int, stride: int, cls_id: int, sep_id: int
) -> list[Window]:
    """Cut one encoded document into overlapping windows of at most ``max_length`` ids."""
    budget = max_length - 2
    n = len(encoded.words)
    windows: list[Window] = []
    if n == 0:
        return windows
    first = 0
    while True:
        size, last = 0, first
        while last < n and size + len(encoded.pieces[last]) <= budget:
            size += len(encoded.pieces[last])
            last += 1
        if last == first:  # cannot happen with max_subwords_per_word < budget, but never loop forever
            last = first + 1
        windows.append(_layout(doc_index, encoded, first, last, cls_id, sep_id))
        if last >= n:
            return windows
        overlap, nxt = 0, last
        while nxt > first + 1 and overlap + len(encoded.pieces[nxt - 1]) <= stride:
            nxt -= 1
            overlap += len(encoded.pieces[nxt])
        first = nxt


def _layout(doc: int, enc: Encoded, first: int, last: int, cls_id: int, sep_id: int) -> Window:
    ids = [cls_id]
    starts = []
    for k in range(first, last):
        starts.append(len(ids))
        ids.extend(enc.pieces[k])
    ids.append(sep_id)
    feats = None
    if enc.features is not None:
        special = _special(enc.features[0]) if enc.features else 0
        feats = [special]
        for k in range(first, last):
            feats.extend([enc.features[k]] * len(enc.pieces[k]))
        feats.append(special)
    return Window(doc, first, last, ids, starts, feats)


def _special(example: Any) -> Any:
    from .wordfeatures import HASH_FIELDS, SPECIAL_FEATURE

    return (SPECIAL_FEATURE,) + (0,) * HASH_FIELDS if isinstance(example, tuple) else SPECIAL_FEATURE


def _features(name: str, text: str, words: list[Word]) -> list[Any] | None:
    from .wordfeatures import word_features

    return word_features(name, text, words)


def word_index(word_starts: Sequence[int], length: int, width: int | None = None) -> list[int]:
    """For each position of a window (padded to ``width``), the position of its word's first piece.

    Pieces of word ``k`` (from ``word_starts[k]`` up to the next word's start, or the closing
    separator) point at ``word_starts[k]``; special tokens and padding point at themselves. A
    model with ``word_pooling: mean`` averages the pieces that point at the same position.
    """
    width = length if width is None else width
    out = list(range(width))
    for k, start in enumerate(word_starts):
        end = word_starts[k + 1] if k + 1 < len(word_starts) else length - 1
        out[start:end] = [start] * (end - start)
    return out


def best_window_per_word(windows: Sequence[Window], n_words: int) -> list[tuple[int, int]]:
    """For each word, ``(window index, position in that window)`` of its most central occurrence."""
    best: list[tuple[int, int]] = [(-1, -1)] * n_words
    best_ctx = [-1] * n_words
    for wi, win in enumerate(windows):
        for k in range(win.first, win.last):
            ctx = min(k - win.first, win.last - 1 - k)
            if ctx > best_ctx[k]:
                best_ctx[k] = ctx
                best[k] = (wi, k - win.first)
    return best
