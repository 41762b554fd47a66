"""Documents -> windows of subword ids with first-subtoken BIO labels per layer."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from araquote.inference.schema import Document, bio_labels, spans_to_bio
from araquote.inference.text import Word
from araquote.inference.windows import Encoded, encode_documents, make_windows

IGNORE = -100


@dataclass
class Feature:
    """One training window: ids, labels per layer (``IGNORE`` where not scored) and a weight."""

    input_ids: list[int]
    labels: dict[str, list[int]]
    weight: float = 1.0
    doc_id: str = ""
    feature_ids: list[int] | None = None


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
            features.append(Feature(win.input_ids, per_layer, float(doc.meta.get("weight", 1.0)), doc.id, win.feature_ids))
    return features
