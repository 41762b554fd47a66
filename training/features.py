"""Documents -> windows of subword ids with first-subtoken BIO labels per layer."""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from araquote.inference.schema import Document, bio_labels, spans_to_bio
from araquote.inference.text import Word
from araquote.inference.windows import Encoded, encode_documents, make_windows

IGNORE = -100
RARE_MAX = 2  # a word form seen this often or less in the training texts counts as rare (word dropout)


@dataclass
class Feature:
    """One training window: ids, labels per layer (``IGNORE`` where not scored) and a weight."""

    input_ids: list[int]
    labels: dict[str, list[int]]
    weight: float = 1.0
    doc_id: str = ""
    feature_ids: list[Any] | None = None
    word_starts: list[int] | None = None  # position of each word's first subtoken (for word dropout)
    rare: list[bool] | None = None  # per word of the window: seen at most RARE_MAX times in the training data


def word_tags(doc: Document, words: Sequence[Word], layer: str) -> list[str]:
    """BIO tags of ``words`` for one layer of ``doc`` (a span covers the words inside it)."""
    starts = [w.start for w in words]
    spans = []
    for s in doc.spans_of(layer):
        first = bisect.bisect_left(starts, s.start)
        last = first
        while last < len(words) and words[last].end <= s.end:
            last += 1
        if last > first:
            spans.append((first, last, s.label))
    return spans_to_bio(len(words), spans)


def align_labels(word_starts: Sequence[int], tag_ids: Sequence[int], length: int) -> list[int]:
    """Put each word's tag id on its first subtoken; every other position is ``IGNORE``."""
    out = [IGNORE] * length
    for pos, tag in zip(word_starts, tag_ids):
        out[pos] = tag
    return out


def build_features(
    docs: Sequence[Document],
    tokenizer: object,
    labels: dict[str, list[str]],
    normalise: Callable[[str], str],
    max_length: int,
    stride: int,
    max_subwords_per_word: int,
    cls_id: int,
    sep_id: int,
    word_features: str = "",
) -> list[Feature]:
    """Windows with aligned labels for every document; layers a document is not annotated for stay ignored."""
    encoded: list[Encoded] = encode_documents([d.text for d in docs], tokenizer, normalise, max_subwords_per_word, word_features)
    tag_index = {layer: {t: i for i, t in enumerate(bio_labels(labs))} for layer, labs in labels.items()}
    features: list[Feature] = []
    counts = Counter(w.text for enc in encoded for w in enc.words)
    for d, (doc, enc) in enumerate(zip(docs, encoded)):
        doc_tags = {
            layer: [tag_index[layer].get(t, 0) for t in word_tags(doc, enc.words, layer)]
            for layer in labels
            if layer in doc.layers
        }
        for win in make_windows(d, enc, max_length, stride, cls_id, sep_id):
            per_layer = {}
            for layer in labels:
                if layer in doc_tags:
                    per_layer[layer] = align_labels(win.word_starts, doc_tags[layer][win.first : win.last], len(win))
                else:
                    per_layer[layer] = [IGNORE] * len(win)
            features.append(Feature(win.input_ids, per_layer, float(doc.meta.get("weight", 1.0)), doc.id, win.feature_ids,
                                    list(win.word_starts), [counts[w.text] <= RARE_MAX for w in enc.words[win.first : win.last]]))
    return features


def word_dropout(batch: dict[str, Any], features: Sequence[Feature], p: float, unk_id: int, rng: random.Random,
                 p_rare: float = 0.0) -> int:
    """Hide whole words from the model with probability ``p`` (``p_rare`` for rare words), in place; returns how many.

    A hidden word's subtokens become the unknown token and its hashed identities
    (``lexical+hash`` features) are cleared; its label stays. The model has to
    tag such words from their context, as it must for names it never saw:
    without it a small encoder learns "unknown word = O" (Lample et al. 2016
    replace singletons by UNK for the same reason). Rare words (seen at most
    ``RARE_MAX`` times in training) are the ones that look like unseen names.
    """
    if p <= 0 and p_rare <= 0:
        return 0
    ids, feats = batch["input_ids"], batch["feature_ids"]
    hidden = 0
    for r, f in enumerate(features):
        starts = f.word_starts or []
        rare = f.rare or [False] * len(starts)
        for k, start in enumerate(starts):
            if rng.random() >= (max(p, p_rare) if rare[k] else p):
                continue
            end = starts[k + 1] if k + 1 < len(starts) else len(f.input_ids) - 1
            ids[r, start:end] = unk_id
            if feats is not None and feats.dim() == 3:
                feats[r, start:end, 1:] = 0
            hidden += 1
    return hidden
