"""``Tagger``: a checkpoint -> documents with spans of both layers and quote records."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch

from .attribution import resolve
from .decode import decode_spans, merge_gaps
from .lexicon import NameLexicon
from .model import CheckpointError, ModelMeta, MultiLayerTokenClassifier
from .schema import ATTRIBUTION, Document, Span
from .text import Word, get_normaliser
from .windows import (
    Encoded,
    Window,
    best_window_per_word,
    check_window_settings,
    encode_documents,
    make_windows,
    word_index,
)
from .wordfeatures import empty_feature_tensor

DTYPES = ("fp32", "bf16", "int8", "auto")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class _Pending:
    index: int
    doc_id: str
    text: str
    meta: dict[str, Any]


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AMX or AVX512-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class Tagger:
    """Tag raw texts with a two-layer araquote checkpoint.

    Example:
        >>> tagger = Tagger.from_pretrained("runs/quickstart/model")  # doctest: +SKIP
        >>> doc = tagger.tag("قال الوزير إن …")  # doctest: +SKIP
        >>> [(doc.text[s.start:s.end], s.label) for s in doc.spans]  # doctest: +SKIP
    """

    def __init__(
        self,
        model: MultiLayerTokenClassifier,
        tokenizer: Any,
        device: str = "auto",
        dtype: str = "fp32",
        batch_size: int = 16,
        max_length: int | None = None,
        stride: int | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.meta: ModelMeta = model.meta
        self.tokenizer = tokenizer
        self.device = resolve_device(device)
        self.auto_report: dict[str, Any] | None = None
        self._fp32_source = model if dtype == "auto" else None  # kept until the auto calibration has run
        self.dtype = "fp32" if dtype == "auto" else dtype
        self.model = _prepare(model, self.device, self.dtype)
        self.batch_size = batch_size
        self.max_length = max_length or self.meta.max_length
        self.stride = self.meta.stride if stride is None else stride
        limit = getattr(model.encoder.config, "max_position_embeddings", self.max_length)
        if self.max_length > limit:
            raise ValueError(f"max_length {self.max_length} exceeds the encoder's max_position_embeddings {limit}")
        check_window_settings(self.max_length, self.stride)
        # a word never gets more pieces than fit in one window (its first pieces carry its label)
        self.max_subwords = min(self.meta.max_subwords_per_word, self.max_length - 2)
        self.normalise = get_normaliser(self.meta.normalisation)
        self.cls_id = _special(tokenizer, "cls_token_id", "bos_token_id")
        self.sep_id = _special(tokenizer, "sep_token_id", "eos_token_id")
        self.layers = list(self.meta.labels)
        self.tags = {layer: self.meta.tags(layer) for layer in self.layers}
        self._transition_scores = {layer: self.meta.transition_scores(layer) for layer in self.layers}
        self.set_lexicons(self.meta.lexicons)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], device: str = "auto", dtype: str = "fp32", **kwargs: Any) -> Tagger:
        """Load a checkpoint directory written by training (safetensors only)."""
        from transformers import AutoTokenizer

        model = MultiLayerTokenClassifier.from_pretrained(directory)
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, use_fast=True)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{directory}: cannot load the tokenizer: {exc}") from None
        if not getattr(tokenizer, "is_fast", False):
            raise CheckpointError(f"{directory}: a fast tokenizer (tokenizer.json) is needed for word alignment")
        return cls(model, tokenizer, device=device, dtype=dtype, **kwargs)

    @overload
    def tag(self, texts: str) -> Document: ...  # type: ignore[overload-overlap]
    @overload
    def tag(self, texts: Sequence[str]) -> list[Document]: ...

    def tag(self, texts: str | Sequence[str]) -> Document | list[Document]:
        """Tag one text or a list of texts; returns documents with spans, scores and quote records."""
        single = isinstance(texts, str)
        items: list[str] = [texts] if isinstance(texts, str) else list(texts)
        docs = list(self.tag_documents((f"doc-{i + 1}", t) for i, t in enumerate(items)))
        return docs[0] if single else docs

    def tag_documents(
        self, items: Iterable[tuple[str, str] | tuple[str, str, dict[str, Any]]], chunk_docs: int = 64
    ) -> Iterator[Document]:
        """Stream ``(id, text[, meta])`` items in chunks; yields tagged documents in input order."""
        for p, words, word_probs in self._stream(items, chunk_docs):
            yield self.decode(p.doc_id, p.text, words, word_probs, p.meta)

    def word_probabilities(
        self, items: Iterable[tuple[str, str] | tuple[str, str, dict[str, Any]]], chunk_docs: int = 64
    ) -> Iterator[tuple[str, str, list[Word], dict[str, np.ndarray]]]:
        """``(id, text, words, {layer: (n_words, n_tags) probabilities})`` per document, before decoding.

        With :meth:`decode` this scores several decode settings from one forward pass (training
        tunes the transition prior on dev this way).
        """
        for p, words, word_probs in self._stream(items, chunk_docs):
            yield p.doc_id, p.text, words, word_probs

    def _stream(self, items: Iterable[tuple[str, str] | tuple[str, str, dict[str, Any]]],
                chunk_docs: int) -> Iterator[tuple[_Pending, list[Word], dict[str, np.ndarray]]]:
        from concurrent.futures import ThreadPoolExecutor

        def chunks() -> Iterator[list[_Pending]]:
            chunk: list[_Pending] = []
            for k, item in enumerate(items):
                meta = item[2] if len(item) > 2 else {}  # type: ignore[misc]
                chunk.append(_Pending(k, item[0], item[1], dict(meta)))
                if len(chunk) >= chunk_docs:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        # tokenisation of chunk k+1 (Rust, releases the GIL) overlaps the forward passes of chunk k
        with ThreadPoolExecutor(max_workers=1) as pool:
            it = chunks()
            first = next(it, None)
            pending = pool.submit(self._prepare_chunk, first) if first is not None else None
            while pending is not None:
                chunk, encoded, windows = pending.result()
                nxt = next(it, None)
                pending = pool.submit(self._prepare_chunk, nxt) if nxt is not None else None
                yield from self._chunk_word_probs(chunk, encoded, windows)

    def _prepare_chunk(self, chunk: list[_Pending]) -> tuple[list[_Pending], list[Encoded], list[Window]]:
        encoded = encode_documents(
            [p.text for p in chunk], self.tokenizer, self.normalise, self.max_subwords, self.meta.word_features
        )
        windows: list[Window] = []
        for d, enc in enumerate(encoded):
            windows.extend(make_windows(d, enc, self.max_length, self.stride, self.cls_id, self.sep_id))
        return chunk, encoded, windows

    def _chunk_word_probs(self, chunk: list[_Pending], encoded: list[Encoded],
                          windows: list[Window]) -> list[tuple[_Pending, list[Word], dict[str, np.ndarray]]]:
        if self._fp32_source is not None:
            self.calibrate(windows)
        probs = self.predict_windows(windows)
        per_doc: list[list[int]] = [[] for _ in chunk]
        for wi, win in enumerate(windows):
            per_doc[win.doc].append(wi)
        out = []
        for d, p in enumerate(chunk):
            enc, wins, wprobs = encoded[d], [windows[w] for w in per_doc[d]], [probs[w] for w in per_doc[d]]
            n = len(enc.words)
            best = best_window_per_word(wins, n)
            word_probs = {
                layer: np.stack([wprobs[w][layer][pos] for w, pos in best]) if n else np.zeros((0, len(self.tags[layer])))
                for layer in self.layers
            }
            out.append((p, enc.words, word_probs))
        return out

    def batches(self, windows: Sequence[Window]) -> list[list[int]]:
        """Window indices grouped by length under a token budget of ``batch_size x max_length``.

        Sorting by length keeps padding small; short windows pack more per batch,
        so every forward pass carries about the same number of tokens.
        """
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        budget = self.batch_size * self.max_length
        out: list[list[int]] = []
        cur: list[int] = []
        for i in order:
            if cur and (len(cur) + 1) * len(windows[i]) > budget:
                out.append(cur)
                cur = []
            cur.append(i)
        if cur:
            out.append(cur)
        return out

    @torch.inference_mode()
    def predict_windows(self, windows: Sequence[Window]) -> list[dict[str, np.ndarray]]:
        """Per-word tag probabilities for each window, both layers from one forward pass."""
        out: list[dict[str, np.ndarray]] = [{} for _ in windows]
        for idx in self.batches(windows):
            width = max(len(windows[i]) for i in idx)
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            feats = empty_feature_tensor(self.meta.word_features, len(idx), width) if self.meta.word_features else None
            pooled = torch.tensor([word_index(windows[i].word_starts, len(windows[i]), width) for i in idx],
                                  dtype=torch.long) if self.meta.word_pooling == "mean" else None
            rows, cols = [], []
            for r, i in enumerate(idx):
                ids[r, : len(windows[i])] = torch.tensor(windows[i].input_ids)
                mask[r, : len(windows[i])] = 1
                if feats is not None:
                    feats[r, : len(windows[i])] = torch.tensor(windows[i].feature_ids)
                rows.extend([r] * len(windows[i].word_starts))
                cols.extend(windows[i].word_starts)
            logits = self.model(ids.to(self.device), mask.to(self.device),
                                feature_ids=None if feats is None else feats.to(self.device),
                                word_index=None if pooled is None else pooled.to(self.device))["logits"]
            sel_r = torch.tensor(rows, device=self.device)
            sel_c = torch.tensor(cols, device=self.device)
            for layer in self.layers:
                # gather the first-subtoken positions, then softmax only those
                probs = torch.softmax(logits[layer][sel_r, sel_c].float(), dim=-1).cpu().numpy()
                offset = 0
                for i in idx:
                    n = len(windows[i].word_starts)
                    out[i][layer] = probs[offset : offset + n]
                    offset += n
        return out

    def set_transition_weights(self, weights: dict[str, float]) -> None:
        """Set the transition-prior weight per layer (kept in ``meta``, so a saved checkpoint keeps it)."""
        self.meta.transition_weights = {layer: float(w) for layer, w in weights.items()}
        self._transition_scores = {layer: self.meta.transition_scores(layer) for layer in self.layers}

    def set_lexicons(self, lexicons: dict[str, list[list[Any]]]) -> None:
        """Set the name lexicon entries per layer (kept in ``meta``); a layer the model lacks is an error."""
        unknown = sorted(set(lexicons) - set(self.tags))
        if unknown:
            raise CheckpointError(f"name lexicon for unknown layer(s) {unknown}; the model has {', '.join(self.layers)}")
        try:
            self.lexicons = {layer: NameLexicon(entries, self.tags[layer]) for layer, entries in lexicons.items()}
        except ValueError as err:
            raise CheckpointError(f"checkpoint name lexicon: {err}") from None
        self.meta.lexicons = lexicons

    def set_lexicon_weights(self, weights: dict[str, float]) -> None:
        """Set the name-lexicon weight per layer (kept in ``meta``, so a saved checkpoint keeps it)."""
        self.meta.lexicon_weights = {layer: float(w) for layer, w in weights.items()}

    def decode(self, doc_id: str, text: str, words: Sequence[Word], word_probs: dict[str, np.ndarray],
               meta: dict[str, Any] | None = None, transition_weights: dict[str, float] | None = None,
               lexicon_weights: dict[str, float] | None = None) -> Document:
        """Spans and quote records of one document from its per-word probabilities.

        ``transition_weights`` and ``lexicon_weights`` override the checkpoint's transition-prior and
        name-lexicon weights per layer (a layer they leave out gets 0).
        """
        spans: list[Span] = []
        for layer in self.layers:
            no_adjacent = layer == ATTRIBUTION  # the contract never has two adjacent quotes/speakers/cues
            weight = None if transition_weights is None else transition_weights.get(layer, 0.0)
            scores = self._transition_scores.get(layer) if weight is None else self.meta.transition_scores(layer, weight)
            lexicon = self.lexicons.get(layer)
            lex_weight = (self.meta.lexicon_weights.get(layer, 0.0) if lexicon_weights is None
                          else lexicon_weights.get(layer, 0.0))
            bonus = lexicon.bonus([w.text for w in words], lex_weight) if lexicon is not None else None
            decoded = decode_spans(word_probs[layer], self.tags[layer], no_adjacent=no_adjacent, transition_scores=scores,
                                   bonus=bonus)
            if no_adjacent:
                decoded = merge_gaps(decoded, [w.text[0].isalnum() for w in words])
            for first, last, label, score in decoded:
                spans.append(Span("", words[first].start, words[last - 1].end, layer, label, score))
        spans.sort(key=lambda s: (s.start, s.end, s.layer))
        for k, s in enumerate(spans):
            s.id = f"s{k + 1}"
        doc = Document(doc_id, text, list(self.layers), spans, [], dict(meta or {}))
        doc.quotes = resolve(doc)
        return doc

    def calibrate(self, windows: Sequence[Window], min_agreement: float = 0.995) -> dict[str, Any]:
        """``--dtype auto``: time each precision on ``windows`` and keep the fastest whose spans agree with fp32.

        Agreement = share of fp32 word-level span decisions (per window, per layer)
        reproduced exactly; a mode below ``min_agreement`` is never chosen.
        """
        import copy
        import time

        source = self._fp32_source
        assert source is not None
        candidates = ["fp32"]
        if self.device.type == "cuda" or cpu_has_bf16():
            candidates.append("bf16")
        if self.device.type == "cpu":
            candidates.append("int8")
        sample = list(windows[: 4 * self.batch_size])
        results: dict[str, Any] = {}
        reference: list[set[tuple[int, int, str, str]]] | None = None
        for dtype in candidates:
            self.model = self.model if dtype == "fp32" else _prepare(copy.deepcopy(source), self.device, dtype)
            self.predict_windows(sample[: self.batch_size])  # warm-up
            start = time.perf_counter()
            probs = self.predict_windows(sample)
            seconds = time.perf_counter() - start
            spans = [
                {(a, b, layer, lab) for layer in self.layers
                 for a, b, lab, _ in decode_spans(p[layer], self.tags[layer], transition_scores=self._transition_scores[layer])}
                for p in probs
            ]
            if reference is None:
                reference = spans
            total = sum(len(r) for r in reference) or 1
            same = sum(len(r & x) for r, x in zip(reference, spans))
            results[dtype] = {"seconds": round(seconds, 4), "agreement": round(same / total, 4), "model": self.model}
        ok = [d for d in candidates if results[d]["agreement"] >= min_agreement]
        best = min(ok, key=lambda d: results[d]["seconds"])
        self.model, self.dtype = results[best]["model"], best
        self._fp32_source = None
        self.auto_report = {"chosen": best, "min_agreement": min_agreement,
                            "candidates": {d: {k: v for k, v in r.items() if k != "model"} for d, r in results.items()}}
        return self.auto_report


def _special(tokenizer: Any, *names: str) -> int:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    raise CheckpointError(f"tokenizer has none of {names}; cannot frame windows")


def _prepare(model: MultiLayerTokenClassifier, device: torch.device, dtype: str) -> MultiLayerTokenClassifier:
    model.eval()
    if dtype == "int8":
        if device.type != "cpu":
            raise ValueError("dtype int8 (dynamic quantisation) runs on CPU only; use bf16 on GPU")
        import warnings

        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao, still works
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    model = model.to(device)
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    return model
