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
from .decode import decode_spans
from .model import CheckpointError, ModelMeta, MultiLayerTokenClassifier
from .schema import ATTRIBUTION, Document, Span
from .text import get_normaliser
from .windows import Encoded, Window, best_window_per_word, encode_documents, make_windows

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
        self.dtype = "bf16" if dtype == "auto" and (self.device.type == "cuda" or cpu_has_bf16()) else dtype
        if self.dtype == "auto":
            self.dtype = "fp32"
        self.model = _prepare(model, self.device, self.dtype)
        self.batch_size = batch_size
        self.max_length = max_length or self.meta.max_length
        self.stride = self.meta.stride if stride is None else stride
        self.normalise = get_normaliser(self.meta.normalisation)
        self.cls_id = _special(tokenizer, "cls_token_id", "bos_token_id")
        self.sep_id = _special(tokenizer, "sep_token_id", "eos_token_id")
        self.layers = list(self.meta.labels)
        self.tags = {layer: self.meta.tags(layer) for layer in self.layers}

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
    def tag(self, texts: str) -> Document: ...
    @overload
    def tag(self, texts: Sequence[str]) -> list[Document]: ...

    def tag(self, texts: str | Sequence[str]) -> Document | list[Document]:
        """Tag one text or a list of texts; returns documents with spans, scores and quote records."""
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)  # type: ignore[list-item]
        docs = list(self.tag_documents((f"doc-{i + 1}", t) for i, t in enumerate(items)))
        return docs[0] if single else docs

    def tag_documents(
        self, items: Iterable[tuple[str, str] | tuple[str, str, dict[str, Any]]], chunk_docs: int = 64
    ) -> Iterator[Document]:
        """Stream ``(id, text[, meta])`` items in chunks; yields tagged documents in input order."""
        chunk: list[_Pending] = []
        for k, item in enumerate(items):
            meta = item[2] if len(item) > 2 else {}  # type: ignore[misc]
            chunk.append(_Pending(k, item[0], item[1], dict(meta)))
            if len(chunk) >= chunk_docs:
                yield from self._tag_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._tag_chunk(chunk)

    def _tag_chunk(self, chunk: list[_Pending]) -> list[Document]:
        encoded = encode_documents([p.text for p in chunk], self.tokenizer, self.normalise, self.meta.max_subwords_per_word)
        windows: list[Window] = []
        for d, enc in enumerate(encoded):
            windows.extend(make_windows(d, enc, self.max_length, self.stride, self.cls_id, self.sep_id))
        probs = self.predict_windows(windows)
        per_doc: list[list[int]] = [[] for _ in chunk]
        for wi, win in enumerate(windows):
            per_doc[win.doc].append(wi)
        return [self._assemble(p, encoded[d], [windows[w] for w in per_doc[d]], [probs[w] for w in per_doc[d]]) for d, p in enumerate(chunk)]

    @torch.inference_mode()
    def predict_windows(self, windows: Sequence[Window]) -> list[dict[str, np.ndarray]]:
        """Per-word tag probabilities for each window; windows are batched by length."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out: list[dict[str, np.ndarray]] = [{} for _ in windows]
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(len(windows[i]) for i in idx)
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(windows[i])] = torch.tensor(windows[i].input_ids)
                mask[r, : len(windows[i])] = 1
            logits = self.model(ids.to(self.device), mask.to(self.device))["logits"]
            for layer in self.layers:
                probs = torch.softmax(logits[layer].float(), dim=-1).cpu().numpy()
                for r, i in enumerate(idx):
                    out[i][layer] = probs[r, windows[i].word_starts]
        return out

    def _assemble(self, p: _Pending, enc: Encoded, wins: list[Window], probs: list[dict[str, np.ndarray]]) -> Document:
        n = len(enc.words)
        best = best_window_per_word(wins, n)
        spans: list[Span] = []
        for layer in self.layers:
            word_probs = np.stack([probs[w][layer][pos] for w, pos in best]) if n else np.zeros((0, len(self.tags[layer])))
            no_adjacent = layer == ATTRIBUTION  # the contract never has two adjacent quotes/speakers/cues
            for first, last, label, score in decode_spans(word_probs, self.tags[layer], no_adjacent=no_adjacent):
                spans.append(Span("", enc.words[first].start, enc.words[last - 1].end, layer, label, score))
        spans.sort(key=lambda s: (s.start, s.end, s.layer))
        for k, s in enumerate(spans):
            s.id = f"s{k + 1}"
        doc = Document(p.doc_id, p.text, list(self.layers), spans, [], p.meta)
        doc.quotes = resolve(doc)
        return doc


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
