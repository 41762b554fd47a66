"""``EnsembleTagger``: several checkpoints with the same labels, one set of spans.

Each member tags the same texts (its own tokenizer, windows and word features);
the per-word tag probabilities are averaged (arithmetic mean, the usual deep
ensemble) and decoded once, with the first member's decode settings (BIO
constraints and its transition prior). Words come from the shared word splitter,
so every member scores the same words whatever its tokenizer.

Costs one forward pass per member: a benchmark and accuracy tool, not the fast path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .model import CheckpointError
from .schema import Document
from .tagger import Tagger
from .text import Word

Item = tuple[str, str] | tuple[str, str, dict[str, Any]]


class EnsembleTagger:
    """Average the word probabilities of several :class:`Tagger` s with identical labels.

    Example:
        >>> ens = EnsembleTagger.from_pretrained(["runs/a/model", "runs/b/model"])  # doctest: +SKIP
        >>> doc = ens.tag("قال الوزير إن …")  # doctest: +SKIP
    """

    def __init__(self, members: Sequence[Tagger]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for k, m in enumerate(members[1:], start=2):
            if m.meta.labels != first.meta.labels:
                raise CheckpointError(f"ensemble member {k} has labels {m.meta.labels}, member 1 has {first.meta.labels}: "
                                      "every member must be trained for the same layers and labels")
        self.members = list(members)
        self.meta = first.meta
        self.layers = first.layers

    @classmethod
    def from_pretrained(cls, directories: Sequence[str | os.PathLike[str]], **kwargs: Any) -> EnsembleTagger:
        """Load every checkpoint directory (same keyword arguments as :meth:`Tagger.from_pretrained`)."""
        return cls([Tagger.from_pretrained(d, **kwargs) for d in directories])

    def tag(self, texts: str | Sequence[str]) -> Document | list[Document]:
        """Tag one text or a list of texts, like :meth:`Tagger.tag`."""
        single = isinstance(texts, str)
        items: list[str] = [texts] if isinstance(texts, str) else list(texts)
        docs = list(self.tag_documents((f"doc-{i + 1}", t) for i, t in enumerate(items)))
        return docs[0] if single else docs

    def tag_documents(self, items: Iterable[Item], chunk_docs: int = 64) -> Iterator[Document]:
        """Stream ``(id, text[, meta])`` items; yields tagged documents in input order."""
        for item, words, probs in self._averaged(items, chunk_docs):
            meta = item[2] if len(item) > 2 else {}  # type: ignore[misc]
            yield self.members[0].decode(item[0], item[1], words, probs, dict(meta))

    def word_probabilities(self, items: Iterable[Item], chunk_docs: int = 64
                           ) -> Iterator[tuple[str, str, list[Word], dict[str, np.ndarray]]]:
        """``(id, text, words, {layer: averaged probabilities})`` per document, before decoding."""
        for item, words, probs in self._averaged(items, chunk_docs):
            yield item[0], item[1], words, probs

    def _averaged(self, items: Iterable[Item], chunk_docs: int
                  ) -> Iterator[tuple[Item, list[Word], dict[str, np.ndarray]]]:
        chunk: list[Item] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= chunk_docs:
                yield from self._average_chunk(chunk, chunk_docs)
                chunk = []
        if chunk:
            yield from self._average_chunk(chunk, chunk_docs)

    def _average_chunk(self, chunk: list[Item], chunk_docs: int
                       ) -> Iterator[tuple[Item, list[Word], dict[str, np.ndarray]]]:
        per_member = [list(m.word_probabilities(chunk, chunk_docs)) for m in self.members]
        for k, item in enumerate(chunk):
            words, probs = average_member_outputs(item[0], [outputs[k] for outputs in per_member], self.layers)
            yield item, words, probs


def average_member_outputs(doc_id: str, outputs: Sequence[tuple[str, str, list[Word], dict[str, np.ndarray]]],
                           layers: Sequence[str]) -> tuple[list[Word], dict[str, np.ndarray]]:
    """Words and mean probabilities of one document from each member's ``word_probabilities`` output.

    Every member must have split the text into the same words (the first member's are returned).
    """
    words = outputs[0][2]
    for m, out in enumerate(outputs[1:], start=2):
        if [(w.start, w.end) for w in out[2]] != [(w.start, w.end) for w in words]:
            raise CheckpointError(f"document {doc_id!r}: ensemble member {m} split the text into other words "
                                  "than member 1 (different word splitters?)")
    return words, {layer: np.mean([out[3][layer] for out in outputs], axis=0) for layer in layers}


def load_tagger(models: str | Sequence[str], device: str = "auto", dtype: str = "fp32", batch_size: int = 16) -> Any:
    """``rules``, one checkpoint directory, or several (an :class:`EnsembleTagger`), as the CLI's ``--model`` gives them."""
    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise ValueError("no model given")
    if "rules" in names:
        if len(names) > 1:
            raise ValueError("'rules' cannot be part of an ensemble: give checkpoint directories only")
        from .rules import RuleTagger

        return RuleTagger()
    taggers = [Tagger.from_pretrained(m, device=device, dtype=dtype, batch_size=batch_size) for m in names]
    return taggers[0] if len(taggers) == 1 else EnsembleTagger(taggers)
