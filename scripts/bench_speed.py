#!/usr/bin/env python
"""Speed benchmark: araquote batch tagging vs the Hugging Face pipeline vs the bare forward pass.

One run measures, on the first N SaudiNewsNet articles (natural lengths), for
each encoder given:

(a) araquote: ``Tagger.tag_documents`` over all articles per dtype and batch
    size (wall time, articles/s, subword tokens/s, per-article latency, peak RSS);
(b) the Hugging Face ``token-classification`` pipeline built from the same
    encoder weights with one 9-label head (the entities head), batch size tuned;
(c) the bare forward limit: the same model's forward pass alone on the same
    windows, batched exactly as araquote batches them.

Every configuration runs in a fresh worker process (forked from a fork server
that only imported the libraries), so peak RSS figures never mix. See
``benchmarks/README.md`` for what each figure means. Each finished job's result
is appended at once to ``OUT/jobs.jsonl``; on SIGTERM (``timeout``, a scheduler)
the run stops, writes report.json/report.md from the jobs that finished, marked
``incomplete``, and exits with 3.

Usage::

    .venv/bin/python scripts/bench_speed.py --out benchmarks/results/speed/cpu-base
    .venv/bin/python scripts/bench_speed.py --device cuda --out benchmarks/results/speed/h100
    .venv/bin/python scripts/bench_speed.py --smoke --out /tmp/bench-smoke
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "saudinewsnet"
ARABERT_SHAPED = "arabert-base-shaped"
TINY_RANDOM = "tiny-random"
ME5_DEFAULT = "models/me5-small"
LABELS = {"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PER", "ORG", "LOC", "MISC"]}
DTYPES = ("fp32", "bf16", "int8")
HF_DTYPES = ("fp32", "bf16")
CHUNK_DOCS = 64  # documents per Tagger.tag_documents chunk (its default); the bare forward mirrors it
RSS_EVERY_S = 0.2
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
# Imported once by the fork server, so each worker starts with them loaded (fast, and the same for all).
PRELOAD = [
    "torch",
    "transformers",
    "transformers.pipelines",
    "araquote.inference.tagger",
    "araquote.inference.batch",
    "araquote.training.scratch",
]

FULL_DEFAULTS: dict[str, Any] = {
    "encoders": [ARABERT_SHAPED, ME5_DEFAULT],
    "articles": 300,
    "batch_sizes": [16],
    "hf_batch_sizes": [1, 8, 16],
    "hf_tune_articles": 32,
    "latency_articles": 50,
    "warmup_articles": 4,
    "rss_articles": 5000,
    "rss_mark": 500,
    "threads": 0,
}
SMOKE_DEFAULTS: dict[str, Any] = {
    "encoders": [TINY_RANDOM],
    "articles": 10,
    "batch_sizes": [4],
    "hf_batch_sizes": [1, 4],
    "hf_tune_articles": 4,
    "latency_articles": 5,
    "warmup_articles": 2,
    "rss_articles": 30,
    "rss_mark": 10,
    # One thread: on a busy machine (shared cores) torch's spinning thread pool runs tiny models ~30x slower.
    "threads": 1,
}


class Interrupted(Exception):
    """SIGTERM (``timeout``, a scheduler) during a run: the jobs already finished still make a report."""


class BenchError(Exception):
    """The benchmark was asked for something impossible (bad option, missing data)."""


# --- settings ----------------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One model to benchmark: a built encoder with random heads, or a trained araquote checkpoint."""

    name: str
    spec: str
    kind: str  # "random-init", "hf-dir" (random heads on a local encoder) or "checkpoint" (trained araquote model)
    skip: str | None = None


@dataclass
class Settings:
    """Everything a run needs, resolved from the command line (smoke defaults applied)."""

    targets: list[Target]
    data: Path
    articles: int
    dtypes: list[str]
    batch_sizes: list[int]
    hf_batch_sizes: list[int]
    hf_tune_articles: int
    latency_articles: int
    warmup_articles: int
    rss_articles: int
    rss_mark: int
    device: str
    threads: int
    out: Path
    work_dir: Path | None
    keep_work: bool
    smoke: bool
    notes: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--encoder",
        action="append",
        help=f"'{ARABERT_SHAPED}', '{TINY_RANDOM}' or a local HF encoder dir "
        f"(repeatable; default: {ARABERT_SHAPED} and {ME5_DEFAULT}, skipped with a note when absent)",
    )
    p.add_argument(
        "--model", action="append", help="a trained araquote checkpoint dir (repeatable); its own heads are used"
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SaudiNewsNet dir of daily zips, or one zip")
    p.add_argument("--articles", type=int, help="first N articles, natural lengths (default 300; smoke 10)")
    p.add_argument("--dtypes", help="comma list of fp32,bf16,int8 (default all on cpu; fp32,bf16 on cuda)")
    p.add_argument("--batch-sizes", help="araquote batch sizes (windows per forward), comma list (default 16)")
    p.add_argument("--hf-batch-sizes", help="HF pipeline batch sizes tried on a subsample (default 1,8,16)")
    p.add_argument("--hf-tune-articles", type=int, help="subsample size for the HF batch-size search (default 32)")
    p.add_argument("--latency-articles", type=int, help="articles tagged one at a time for p50/p95 (default 50)")
    p.add_argument("--warmup-articles", type=int, help="articles tagged untimed before each timing (default 4)")
    p.add_argument(
        "--rss-articles", type=int, help="memory check: articles streamed through run_tag_job (default 5000; 0 = skip)"
    )
    p.add_argument("--rss-mark", type=int, help="memory check: RSS reference point, in articles (default 500)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--threads", type=int, help="torch intra-op threads per worker (default 0 = torch's choice; smoke 1)"
    )
    p.add_argument(
        "--out",
        type=Path,
        help="output dir for report.json and report.md (default benchmarks/results/speed/<date>-<device>)",
    )
    p.add_argument("--work-dir", type=Path, help="where checkpoints and intermediate files go (default: a temp dir)")
    p.add_argument("--keep-work", action="store_true", help="keep the work dir (built checkpoints, span dumps)")
    p.add_argument(
        "--smoke", action="store_true", help="tiny random encoder, 10 articles: checks the script in seconds"
    )
    return p.parse_args(argv)


def _int_list(raw: str | None, default: list[int], option: str) -> list[int]:
    if raw is None:
        return list(default)
    try:
        values = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise BenchError(f"{option} takes a comma list of positive integers, got {raw!r}") from None
    if not values or min(values) < 1:
        raise BenchError(f"{option} takes a comma list of positive integers, got {raw!r}")
    return values


def _dtypes(raw: str | None, device: str, notes: list[str]) -> list[str]:
    default = ["fp32", "bf16", "int8"] if device == "cpu" else ["fp32", "bf16"]
    values = default if raw is None else [x.strip() for x in raw.split(",") if x.strip()]
    unknown = [x for x in values if x not in DTYPES]
    if unknown or not values:
        raise BenchError(f"--dtypes: unknown {unknown or raw!r}; choose from {', '.join(DTYPES)}")
    if device == "cuda" and "int8" in values:
        values = [x for x in values if x != "int8"]
        notes.append("int8 (dynamic quantisation) runs on CPU only; dropped on --device cuda.")
    return values


def resolve_targets(encoders: list[str], models: list[str]) -> list[Target]:
    """Turn --encoder/--model values into targets; a missing directory becomes a skipped target with a note."""
    targets: list[Target] = []
    for spec in encoders:
        if spec in (ARABERT_SHAPED, TINY_RANDOM):
            targets.append(Target(spec, spec, "random-init"))
            continue
        path = _find_dir(spec)
        name = Path(spec).name or spec
        if path is None:
            hint = " (build it with scripts/build_offline_encoder.sh)" if "me5" in spec else ""
            targets.append(Target(name, spec, "hf-dir", skip=f"encoder dir {spec} not found{hint}"))
        elif not (path / "config.json").is_file():
            targets.append(
                Target(name, spec, "hf-dir", skip=f"{path} has no config.json: not a Hugging Face model dir")
            )
        else:
            targets.append(Target(name, str(path), "hf-dir"))
    for spec in models:
        path = _find_dir(spec)
        name = Path(spec).name or spec
        if path is None or not (path / "araquote.json").is_file():
            targets.append(
                Target(name, spec, "checkpoint", skip=f"{spec} is not an araquote checkpoint dir (no araquote.json)")
            )
        else:
            targets.append(Target(name, str(path), "checkpoint"))
    seen: Counter[str] = Counter()
    for t in targets:  # unique names: they key the report
        seen[t.name] += 1
        if seen[t.name] > 1:
            t.name = f"{t.name}-{seen[t.name]}"
    return targets


def _find_dir(spec: str) -> Path | None:
    for candidate in (Path(spec), ROOT / spec):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Apply the full or smoke defaults to options the user left out, and check them."""
    d = SMOKE_DEFAULTS if args.smoke else FULL_DEFAULTS
    notes: list[str] = []
    pick = {
        k: (getattr(args, k) if getattr(args, k) is not None else d[k])
        for k in (
            "articles",
            "hf_tune_articles",
            "latency_articles",
            "warmup_articles",
            "rss_articles",
            "rss_mark",
            "threads",
        )
    }
    for k, v in pick.items():
        least = 0 if k in ("rss_articles", "warmup_articles", "threads") else 1
        if v < least:
            raise BenchError(f"--{k.replace('_', '-')} must be >= {least}, got {v}")
    if pick["rss_articles"] and pick["rss_mark"] >= pick["rss_articles"]:
        raise BenchError(f"--rss-mark ({pick['rss_mark']}) must be below --rss-articles ({pick['rss_articles']})")
    encoders = args.encoder if args.encoder else ([] if args.model else d["encoders"])
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    out = (
        args.out or ROOT / "benchmarks" / "results" / "speed" / f"{stamp}-{args.device}{'-smoke' if args.smoke else ''}"
    )
    return Settings(
        targets=resolve_targets(list(encoders), list(args.model or [])),
        data=args.data,
        dtypes=_dtypes(args.dtypes, args.device, notes),
        batch_sizes=_int_list(args.batch_sizes, d["batch_sizes"], "--batch-sizes"),
        hf_batch_sizes=_int_list(args.hf_batch_sizes, d["hf_batch_sizes"], "--hf-batch-sizes"),
        device=args.device,
        out=out,
        work_dir=args.work_dir,
        keep_work=args.keep_work,
        smoke=args.smoke,
        notes=notes,
        **pick,
    )


# --- articles (parent side: no torch) ------------------------------------------------------------------------------


def load_articles(data: Path, n: int) -> list[dict[str, str]]:
    """The first ``n`` SaudiNewsNet articles (title + content), in file order, with their natural lengths."""
    from araquote.training.silver import iter_saudinewsnet

    zips = [data] if data.is_file() else sorted(data.glob("*.zip"))
    if not zips:
        raise BenchError(f"{data}: no SaudiNewsNet .zip files found; pass --data DIR_OR_ZIP")
    out: list[dict[str, str]] = []
    for z in zips:
        out.extend({"id": doc_id, "text": text} for doc_id, text, _ in iter_saudinewsnet(z, limit=n - len(out)))
        if len(out) >= n:
            break
    if len(out) < n:
        raise BenchError(f"{data}: only {len(out)} articles found, --articles asked for {n}")
    return out


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_articles(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (first and last included), so all lengths are sampled."""
    k = min(k, n)
    if k <= 1:
        return list(range(k))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# --- measurement helpers (worker side) ------------------------------------------------------------------------------


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM: this process's own memory map only), in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    """Seconds taken by ``fn()``, with the GPU queue drained before and after."""
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def _gpu_peak_mb(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def _setup_worker(cfg: dict[str, Any]) -> None:
    import torch

    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    torch.manual_seed(0)


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class RssSampler(threading.Thread):
    """Records ``(seconds, RSS MiB)`` every ``every`` seconds until stopped."""

    def __init__(self, every: float = RSS_EVERY_S) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._halt.is_set():
            self.samples.append((round(time.perf_counter() - t0, 2), round(current_rss_mb(), 1)))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --- jobs (each runs in a fresh worker process) ----------------------------------------------------------------------


def job_info(cfg: dict[str, Any]) -> dict[str, Any]:
    """Machine and library facts, plus the RSS of a worker that has only imported the libraries."""
    import tokenizers
    import torch
    import transformers

    _setup_worker(cfg)
    flags = _cpu_flags()
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "ram_gb": _ram_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "worker_baseline_rss_mb": round(current_rss_mb(), 1),
    }
    if cfg["device"] == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def job_build(cfg: dict[str, Any]) -> dict[str, Any]:
    """Save an araquote checkpoint (random heads) around an encoder spec; returns its path and shape."""
    from araquote.inference.model import ModelMeta, MultiLayerTokenClassifier

    _setup_worker(cfg)
    t0 = time.perf_counter()
    spec = cfg["spec"]
    if spec in (ARABERT_SHAPED, TINY_RANDOM):
        config, tokenizer = _random_encoder(spec, [a["text"] for a in read_articles(cfg["articles"])])
        max_length = 512
        meta = ModelMeta(
            labels={k: list(v) for k, v in LABELS.items()}, max_length=max_length, stride=128, encoder=spec
        )
        model = MultiLayerTokenClassifier.from_encoder(config, meta)
    else:
        from transformers import AutoConfig, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(spec, use_fast=True)
        if not getattr(tokenizer, "is_fast", False):
            raise BenchError(f"{spec}: needs a fast tokenizer (tokenizer.json) for word alignment")
        positions = getattr(AutoConfig.from_pretrained(spec), "max_position_embeddings", 512)
        max_length = min(512, positions)
        meta = ModelMeta(
            labels={k: list(v) for k, v in LABELS.items()}, max_length=max_length, stride=128, encoder=spec
        )
        model = MultiLayerTokenClassifier.from_encoder(spec, meta)
    tokenizer.model_max_length = max_length
    model.save_pretrained(cfg["checkpoint"], tokenizer)
    enc = model.encoder.config
    return {
        "checkpoint": cfg["checkpoint"],
        "seconds": round(time.perf_counter() - t0, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokenizer_vocab": len(tokenizer),
        "encoder": {
            k: getattr(enc, k, None)
            for k in (
                "model_type",
                "num_hidden_layers",
                "hidden_size",
                "num_attention_heads",
                "intermediate_size",
                "vocab_size",
            )
        },
    }


def _random_encoder(spec: str, texts: list[str]) -> tuple[Any, Any]:
    """A randomly initialised BERT config and a WordPiece tokenizer trained on ``texts``."""
    from transformers import BertConfig

    from araquote.inference.text import get_normaliser
    from araquote.training.scratch import train_wordpiece

    if spec == ARABERT_SHAPED:  # bert-base-arabertv02's shape; random weights are fine for speed
        tokenizer = train_wordpiece(texts, get_normaliser("none"), 64000)
        shape = {
            "vocab_size": 64000,
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        }
    else:
        tokenizer = train_wordpiece(texts, get_normaliser("none"), 1000)
        shape = {
            "vocab_size": 1000,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        }
    shape["vocab_size"] = max(shape["vocab_size"], len(tokenizer))
    return BertConfig(max_position_embeddings=512, **shape), tokenizer


def job_araquote(cfg: dict[str, Any]) -> dict[str, Any]:
    """Time Tagger.tag_documents over all articles, per-article latency, then the bare forward on the same windows."""
    from araquote.inference.tagger import Tagger

    _setup_worker(cfg)
    device = cfg["device"]
    items = [(a["id"], a["text"]) for a in read_articles(cfg["articles"])]
    load_s, tagger = timed(
        lambda: Tagger.from_pretrained(
            cfg["checkpoint"], device=device, dtype=cfg["dtype"], batch_size=cfg["batch_size"]
        ),
        device,
    )
    list(tagger.tag_documents(items[: cfg["warmup_articles"]], chunk_docs=CHUNK_DOCS))
    wall, docs = timed(lambda: list(tagger.tag_documents(items, chunk_docs=CHUNK_DOCS)), device)
    latencies = [
        timed(lambda i=i: list(tagger.tag_documents([items[i]])), device)[0]
        for i in spread(len(items), cfg["latency_articles"])
    ]
    peak_rss, gpu_peak = peak_rss_mb(), _gpu_peak_mb(device)
    batches = araquote_batches(tagger, [t for _, t in items])
    tokens = sum(len(w) for b in batches for w in b)
    _dump_spans(docs, cfg["spans_file"])
    return {
        "dtype": cfg["dtype"],
        "batch_size": cfg["batch_size"],
        "articles": len(items),
        "load_s": round(load_s, 2),
        "wall_s": round(wall, 3),
        "articles_per_s": len(items) / wall,
        "tokens": tokens,
        "tokens_per_s": tokens / wall,
        "windows": sum(len(b) for b in batches),
        "latency": {
            "articles": len(latencies),
            "p50_s": _percentile(latencies, 50),
            "p95_s": _percentile(latencies, 95),
            "mean_s": sum(latencies) / len(latencies),
            "max_s": max(latencies),
        },
        "peak_rss_mb": round(peak_rss, 1),
        "gpu_peak_mb": gpu_peak,
        "threads": _threads(),
        "spans": sum(len(d.spans) for d in docs),
        "quotes": sum(len(d.quotes) for d in docs),
        "spans_file": cfg["spans_file"],
        "checkpoint": _checkpoint_facts(tagger),
        "bare": bare_forward(tagger.model, batches, device),
    }


def _checkpoint_facts(tagger: Any) -> dict[str, Any]:
    meta = tagger.meta
    return {
        "encoder": meta.encoder,
        "labels": meta.labels,
        "normalisation": meta.normalisation,
        "max_length": tagger.max_length,
        "stride": tagger.stride,
        "parameters": sum(p.numel() for p in tagger.model.parameters()),
    }


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _dump_spans(docs: Sequence[Any], path: str) -> None:
    rows = [[d.id, s.layer, s.label, s.start, s.end] for d in docs for s in d.spans]
    Path(path).write_text(json.dumps(rows), encoding="utf-8")


def araquote_batches(tagger: Any, texts: Sequence[str]) -> list[list[Any]]:
    """The bare-forward input: the same subword tokens araquote feeds the model, packed into FULL windows.

    All windows araquote builds for ``texts`` (``encode_documents`` + ``make_windows``, specials
    included) are concatenated into one token stream and cut into rows of ``tagger.max_length``
    tokens, ``tagger.batch_size`` rows per batch: no padding, no short windows, the best case
    for the hardware. araquote tokens/s over this figure is the share of the limit araquote reaches.
    """
    from araquote.inference.windows import encode_documents, make_windows

    stream: list[int] = []
    feats: list[Any] = []  # word-feature rows parallel to ``stream`` when the model uses them
    for c in range(0, len(texts), CHUNK_DOCS):
        encoded = encode_documents(
            texts[c : c + CHUNK_DOCS], tagger.tokenizer, tagger.normalise, tagger.meta.max_subwords_per_word,
            tagger.meta.word_features,
        )
        for d, enc in enumerate(encoded):
            for w in make_windows(d, enc, tagger.max_length, tagger.stride, tagger.cls_id, tagger.sep_id):
                stream.extend(w.input_ids)
                feats.extend(w.feature_ids or [])
    width = tagger.max_length
    rows = [_Row(stream[i : i + width], feats[i : i + width] if feats else None) for i in range(0, len(stream), width)]
    return [rows[b : b + tagger.batch_size] for b in range(0, len(rows), tagger.batch_size)]


class _Row:
    """One packed row of token ids (``len()`` = tokens)."""

    def __init__(self, ids: list[int], feature_ids: list[Any] | None = None) -> None:
        self.input_ids = ids
        self.feature_ids = feature_ids

    def __len__(self) -> int:
        return len(self.input_ids)


def bare_forward(model: Any, batches: list[list[Any]], device: str) -> dict[str, Any]:
    """Time only ``model(ids, mask)`` over pre-built, pre-padded batches already on the device."""
    import torch

    from araquote.inference.wordfeatures import empty_feature_tensor

    features = model.meta.word_features  # a from-scratch model's word features are part of its input
    tensors = []
    for batch in batches:
        width = max(len(w) for w in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        fids = empty_feature_tensor(features, len(batch), width) if features else None
        for r, w in enumerate(batch):
            ids[r, : len(w)] = torch.tensor(w.input_ids)
            mask[r, : len(w)] = 1
            if fids is not None:
                fids[r, : len(w)] = torch.tensor(w.feature_ids)
        tensors.append((ids.to(device), mask.to(device), None if fids is None else fids.to(device)))
    real = sum(int(m.sum()) for _, m, _ in tensors)
    # a word-pooling model needs the piece -> word map; packed rows have none, so each piece is its own word
    # (the pooling arithmetic is still done, so its cost is in the figure)
    pooling = getattr(model.meta, "word_pooling", "first") == "mean"

    def index(ids: Any) -> Any:
        return torch.arange(ids.shape[1], device=ids.device).expand_as(ids) if pooling else None

    def run() -> None:
        for ids, mask, fids in tensors:
            model(ids, mask, feature_ids=fids, word_index=index(ids))

    with torch.inference_mode():
        if tensors:
            ids, mask, fids = tensors[0]
            model(ids, mask, feature_ids=fids, word_index=index(ids))  # warm-up
        seconds, _ = timed(run, device)
    return {
        "seconds": round(seconds, 3),
        "batches": len(tensors),
        "tokens": real,
        "padded_tokens": sum(m.numel() for _, m, _ in tensors),
        "tokens_per_s": real / seconds if seconds else None,
    }


def job_hf(cfg: dict[str, Any]) -> dict[str, Any]:
    """The transformers token-classification pipeline on the same texts: batch size tuned, then the full run."""
    import torch
    from transformers import AutoTokenizer, pipeline

    _setup_worker(cfg)
    device = cfg["device"]
    model, meta = hf_model_from_checkpoint(cfg["checkpoint"])
    model = model.to(device)
    if cfg["dtype"] == "bf16":
        model = model.to(torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(cfg["checkpoint"], use_fast=True)
    tokenizer.model_max_length = meta.max_length  # the pipeline chunks at model_max_length (see README)
    pipe = pipeline(
        "token-classification",
        model=model,
        tokenizer=tokenizer,
        aggregation_strategy="first",
        stride=meta.stride,
        device=device,
    )
    texts = [a["text"] for a in read_articles(cfg["articles"])]
    sub = [texts[i] for i in spread(len(texts), cfg["hf_tune_articles"])]
    tuning = []
    for bs in cfg["hf_batch_sizes"]:
        pipe(sub[: cfg["warmup_articles"]] or sub[:1], batch_size=bs)
        seconds, _ = timed(lambda bs=bs: pipe(sub, batch_size=bs), device)
        tuning.append(
            {"batch_size": bs, "articles": len(sub), "seconds": round(seconds, 3), "articles_per_s": len(sub) / seconds}
        )
    best = max(tuning, key=lambda r: r["articles_per_s"])["batch_size"]
    pipe(texts[: cfg["warmup_articles"]] or texts[:1], batch_size=best)
    wall, out = timed(lambda: pipe(texts, batch_size=best), device)
    tokens, chunks = hf_token_count(tokenizer, texts, meta.max_length, meta.stride)
    return {
        "dtype": cfg["dtype"],
        "tuning": tuning,
        "batch_size": best,
        "articles": len(texts),
        "wall_s": round(wall, 3),
        "articles_per_s": len(texts) / wall,
        "tokens": tokens,
        "chunks": chunks,
        "tokens_per_s": tokens / wall,
        "entities": sum(len(x) for x in out),
        "labels": model.config.num_labels,
        "max_length": meta.max_length,
        "stride": meta.stride,
        "normalisation_skipped": meta.normalisation,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "gpu_peak_mb": _gpu_peak_mb(device),
        "threads": _threads(),
    }


def hf_model_from_checkpoint(directory: str) -> tuple[Any, Any]:
    """An ``AutoModelForTokenClassification`` with the checkpoint's encoder weights and its entities head."""
    import copy

    from transformers import AutoModelForTokenClassification

    from araquote.inference.model import MultiLayerTokenClassifier

    ours = MultiLayerTokenClassifier.from_pretrained(directory)
    layer = "entities" if "entities" in ours.heads else next(iter(ours.heads))
    tags = ours.meta.tags(layer)
    config = copy.deepcopy(ours.encoder.config)
    config.num_labels = len(tags)
    config.id2label = dict(enumerate(tags))
    config.label2id = {t: i for i, t in enumerate(tags)}
    hf = AutoModelForTokenClassification.from_config(config)
    hf.base_model.load_state_dict(ours.encoder.state_dict())  # strict: same class, same weights
    classifier = getattr(hf, "classifier", None)
    if classifier is None:
        raise BenchError(f"{type(hf).__name__} has no 'classifier' head to receive araquote's {layer} head")
    classifier.load_state_dict(ours.heads[layer].state_dict())
    hf.eval()
    return hf, ours.meta


def hf_token_count(tokenizer: Any, texts: Sequence[str], max_length: int, stride: int) -> tuple[int, int]:
    """Real (non-pad) tokens and chunks the pipeline feeds the model, tokenised as its preprocess does."""
    tokens = chunks = 0
    for text in texts:
        enc = tokenizer(text, truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True)
        chunks += len(enc["input_ids"])
        tokens += sum(len(ids) for ids in enc["input_ids"])
    return tokens, chunks


class _CountingTagger:
    """Wraps a tagger for run_tag_job and reads RSS when the ``mark``-th article comes out."""

    def __init__(self, tagger: Any, mark: int) -> None:
        self.tagger, self.mark, self.count = tagger, mark, 0
        self.rss_at_mark: float | None = None

    def tag_documents(self, items: Any, chunk_docs: int = CHUNK_DOCS) -> Any:
        for doc in self.tagger.tag_documents(items, chunk_docs=chunk_docs):
            self.count += 1
            if self.count == self.mark:
                self.rss_at_mark = current_rss_mb()
            yield doc


def job_rss(cfg: dict[str, Any]) -> dict[str, Any]:
    """Stream many articles through run_tag_job while sampling RSS: does memory grow with the job's length?"""
    from araquote.inference.batch import run_tag_job
    from araquote.inference.tagger import Tagger

    _setup_worker(cfg)
    arts = read_articles(cfg["articles"])
    work = Path(cfg["work"])
    src, dst = work / "rss-input.jsonl", work / "rss-output.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for k in range(cfg["rss_articles"]):  # cycle the article list when it is shorter than the job
            a = arts[k % len(arts)]
            fh.write(json.dumps({"id": f"{a['id']}#{k // len(arts)}", "text": a["text"]}, ensure_ascii=False) + "\n")
    tagger = Tagger.from_pretrained(
        cfg["checkpoint"], device=cfg["device"], dtype=cfg["dtype"], batch_size=cfg["batch_size"]
    )
    counting = _CountingTagger(tagger, cfg["rss_mark"])
    sampler = RssSampler()
    sampler.start()
    wall, counts = timed(
        lambda: run_tag_job(counting, [str(src)], str(dst), progress=False, chunk_docs=CHUNK_DOCS), cfg["device"]
    )
    end = current_rss_mb()
    sampler.stop()
    mark = counting.rss_at_mark
    step = max(1, len(sampler.samples) // 200)
    return {
        "dtype": cfg["dtype"],
        "batch_size": cfg["batch_size"],
        "articles": cfg["rss_articles"],
        "distinct_articles": len(arts),
        "mark": cfg["rss_mark"],
        "counts": counts,
        "wall_s": round(wall, 2),
        "articles_per_s": counting.count / wall,
        "rss_at_mark_mb": None if mark is None else round(mark, 1),
        "rss_end_mb": round(end, 1),
        "growth_pct": None if mark is None else 100 * (end - mark) / mark,
        "peak_sampled_mb": max((s[1] for s in sampler.samples), default=None),
        "samples": len(sampler.samples),
        "series": sampler.samples[::step],
        "gpu_peak_mb": _gpu_peak_mb(cfg["device"]),
    }


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "info": job_info,
    "build": job_build,
    "araquote": job_araquote,
    "hf": job_hf,
    "rss": job_rss,
}


def run_job(kind: str, cfg: dict[str, Any], result_path: str) -> None:
    """Worker entry point: run one job and write its JSON result."""
    result = JOBS[kind](cfg)
    Path(result_path).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


# --- orchestration (parent side) ----------------------------------------------------------------------------------


class Runner:
    """Runs each job in a fresh process forked from a fork server that preloaded the libraries."""

    def __init__(self, work: Path, log: Path | None = None) -> None:
        self.ctx = mp.get_context("forkserver")
        self.ctx.set_forkserver_preload(["__main__", *PRELOAD])
        self.work = work
        self.log = log  # each finished job's result is appended here at once (JSONL): a killed run keeps them
        self.count = 0

    def run(self, kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
        """Run one job; a crashed worker gives ``{"error": ...}`` and the benchmark goes on."""
        self.count += 1
        result = self.work / f"result-{self.count:03d}-{kind}.json"
        what = _describe(kind, cfg)
        print(f"[bench] {what} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = self.ctx.Process(target=run_job, args=(kind, cfg, str(result)), name=f"bench-{kind}")
        proc.start()
        try:
            proc.join()
        except BaseException:  # Interrupted (SIGTERM) or Ctrl-C: the worker goes too
            proc.kill()
            proc.join()
            raise
        if proc.exitcode != 0 or not result.is_file():
            reason = (
                f"killed by signal {-proc.exitcode} (out of memory?)"
                if (proc.exitcode or 0) < 0
                else f"exit code {proc.exitcode}"
            )
            print(f"[bench] {what}: FAILED ({reason})", file=sys.stderr, flush=True)
            return {"error": f"{what}: worker failed ({reason}); its traceback is on stderr"}
        print(f"[bench] {what}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        out = json.loads(result.read_text(encoding="utf-8"))
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"job": what, "result": out}, ensure_ascii=False) + "\n")
        return out


def _describe(kind: str, cfg: dict[str, Any]) -> str:
    parts = [
        kind,
        cfg.get("target", ""),
        cfg.get("dtype", ""),
        f"batch {cfg['batch_size']}" if "batch_size" in cfg else "",
    ]
    return " ".join(p for p in parts if p)


def bench_target(
    runner: Runner, target: Target, s: Settings, articles_path: Path, work: Path, first: bool,
    rss_path: Path | None = None, res: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """All jobs of one target: build (when needed), araquote per dtype x batch size, HF per dtype, memory check.

    Filled into ``res`` (when given) job by job, so that an interrupted run reports what finished.
    """
    res = {} if res is None else res
    res.update({"name": target.name, "spec": target.spec, "kind": target.kind})
    if target.skip:
        res["skipped"] = target.skip
        return res
    base = {
        "target": target.name,
        "device": s.device,
        "threads": s.threads,
        "articles": str(articles_path),
        "warmup_articles": s.warmup_articles,
    }
    ckpt = target.spec
    if target.kind != "checkpoint":
        ckpt = str(work / f"ckpt-{target.name}")
        res["build"] = runner.run("build", {**base, "spec": target.spec, "checkpoint": ckpt})
        if "error" in res["build"]:
            return res
    base["checkpoint"] = ckpt
    res["araquote"] = []
    for dt in s.dtypes:
        for bs in s.batch_sizes:
            spans = str(work / f"spans-{target.name}-{dt}-{bs}.json")
            cfg = {**base, "dtype": dt, "batch_size": bs, "latency_articles": s.latency_articles, "spans_file": spans}
            res["araquote"].append(runner.run("araquote", cfg))
    res["hf"] = []
    for dt in (d for d in s.dtypes if d in HF_DTYPES):
        cfg = {**base, "dtype": dt, "hf_batch_sizes": s.hf_batch_sizes, "hf_tune_articles": s.hf_tune_articles}
        res["hf"].append(runner.run("hf", cfg))
    if first and s.rss_articles:
        res["rss_check"] = runner.run(
            "rss",
            {
                **base,
                "articles": str(rss_path or articles_path),
                "dtype": s.dtypes[0],
                "batch_size": s.batch_sizes[0],
                "rss_articles": s.rss_articles,
                "rss_mark": s.rss_mark,
                "work": str(work),
            },
        )
    res["agreement"] = span_agreement(res["araquote"], s.batch_sizes[0])
    res["ratios"] = ratios(res)
    if not s.keep_work and target.kind != "checkpoint":
        shutil.rmtree(ckpt, ignore_errors=True)
    return res


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if "error" not in r]


def best_per_dtype(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The fastest (articles/s) successful row per dtype."""
    best: dict[str, dict[str, Any]] = {}
    for r in _ok(rows):
        if r["dtype"] not in best or r["articles_per_s"] > best[r["dtype"]]["articles_per_s"]:
            best[r["dtype"]] = r
    return best


def ratios(res: dict[str, Any]) -> dict[str, Any]:
    """The headline ratios; every one names what it divides (see README)."""
    aq = best_per_dtype(res.get("araquote", []))
    hf = best_per_dtype(res.get("hf", []))
    out: dict[str, Any] = {
        "araquote_over_bare_tokens_per_s": {},
        "araquote_over_hf_articles_per_s": {},
        "araquote_over_hf_tokens_per_s": {},
        "over_fp32_articles_per_s": {},
    }
    for r in _ok(res.get("araquote", [])):
        if r["bare"].get("tokens_per_s"):
            out["araquote_over_bare_tokens_per_s"][f"{r['dtype']}/bs{r['batch_size']}"] = (
                r["tokens_per_s"] / r["bare"]["tokens_per_s"]
            )
    for dt, h in hf.items():
        if dt in aq:
            out["araquote_over_hf_articles_per_s"][dt] = aq[dt]["articles_per_s"] / h["articles_per_s"]
            out["araquote_over_hf_tokens_per_s"][dt] = aq[dt]["tokens_per_s"] / h["tokens_per_s"]
    if "fp32" in aq:
        for dt, r in aq.items():
            if dt != "fp32":
                out["over_fp32_articles_per_s"][dt] = r["articles_per_s"] / aq["fp32"]["articles_per_s"]
    return out


def span_agreement(rows: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    """Span agreement of each dtype with fp32 at the same batch size: 2|A∩B| / (|A|+|B|) over identical spans."""
    files = {r["dtype"]: r["spans_file"] for r in _ok(rows) if r["batch_size"] == batch_size}
    if "fp32" not in files:
        return {}
    ref = Counter(map(tuple, json.loads(Path(files["fp32"]).read_text(encoding="utf-8"))))
    out: dict[str, Any] = {}
    for dt, path in files.items():
        if dt == "fp32":
            continue
        other = Counter(map(tuple, json.loads(Path(path).read_text(encoding="utf-8"))))
        same = sum((ref & other).values())
        total = sum(ref.values()) + sum(other.values())
        out[dt] = {
            "agreement": 2 * same / total if total else 1.0,
            "identical": same,
            "fp32_spans": sum(ref.values()),
            "spans": sum(other.values()),
        }
    return out


def git_commit() -> str | None:
    """The checkout's commit, read from .git (uncommitted changes are not detected)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref: "):
        return head
    ref = head[5:]
    if (git / ref).is_file():
        return (git / ref).read_text().strip()
    try:
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def run_benchmark(s: Settings, command: str) -> dict[str, Any]:
    """Run every job of the settings and return the report dict (also written to ``s.out``)."""
    s.out.mkdir(parents=True, exist_ok=True)
    work = s.work_dir or Path(tempfile.mkdtemp(prefix="araquote-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    articles = load_articles(s.data, s.articles)
    articles_path = work / "articles.jsonl"
    write_jsonl(articles_path, articles)
    rss_path = articles_path
    if s.rss_articles > len(articles):  # the memory check streams distinct articles when the data has them
        try:
            write_jsonl(work / "rss-articles.jsonl", load_articles(s.data, s.rss_articles))
            rss_path = work / "rss-articles.jsonl"
        except BenchError:
            pass  # fewer articles than asked: job_rss cycles the timed ones (its report says how many are distinct)
    runner = Runner(work, s.out / "jobs.jsonl")
    (s.out / "jobs.jsonl").unlink(missing_ok=True)
    lengths = [len(a["text"]) for a in articles]
    t0 = time.perf_counter()
    report: dict[str, Any] = {
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": runner.run("info", {"device": s.device, "threads": s.threads}),
        "settings": _settings_dict(s),
        "articles": {
            "source": str(s.data),
            "count": len(articles),
            "first_id": articles[0]["id"],
            "last_id": articles[-1]["id"],
            "chars_total": sum(lengths),
            "chars_mean": sum(lengths) / len(lengths),
            "chars_max": max(lengths),
        },
        "load_avg_start": _loadavg(),
        "notes": list(s.notes),
        "targets": [],
    }
    _warn_if_busy(report)
    first = True

    def stop(signum: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        for target in s.targets:
            res: dict[str, Any] = {}
            report["targets"].append(res)
            bench_target(runner, target, s, articles_path, work, first, rss_path, res)
            first = first and "skipped" in res
    except Interrupted as exc:
        done = sum(len(t.get("araquote", [])) + len(t.get("hf", [])) for t in report["targets"])
        report["incomplete"] = (
            f"stopped by {exc} during job {runner.count}; the report holds the {done} timed job(s) that finished"
        )
        report["notes"].append(f"INCOMPLETE: {report['incomplete']}.")
        for t in report["targets"]:
            if t.get("araquote") and "ratios" not in t:
                t["agreement"] = span_agreement(t["araquote"], s.batch_sizes[0])
                t["ratios"] = ratios(t)
    finally:
        signal.signal(signal.SIGTERM, previous)
    report["load_avg_end"] = _loadavg()
    report["total_s"] = round(time.perf_counter() - t0, 1)
    if s.keep_work:
        report["work_dir"] = str(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
        for t in report["targets"]:
            for row in t.get("araquote", []):
                row.pop("spans_file", None)
    (s.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (s.out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _warn_if_busy(report: dict[str, Any]) -> None:
    """Note a machine that was already busy: its figures are slower and noisier than an idle machine's."""
    load, cores = report["load_avg_start"], report["machine"].get("usable_cores")
    if load and cores and load[0] > 0.25 * cores:
        report["notes"].append(
            f"the machine was busy at the start (1-minute load average {load[0]} on {cores} cores): "
            "figures are slower and noisier than on an idle machine; rerun there for numbers to quote."
        )


def _settings_dict(s: Settings) -> dict[str, Any]:
    return {
        "device": s.device,
        "dtypes": s.dtypes,
        "batch_sizes": s.batch_sizes,
        "hf_batch_sizes": s.hf_batch_sizes,
        "hf_tune_articles": s.hf_tune_articles,
        "latency_articles": s.latency_articles,
        "warmup_articles": s.warmup_articles,
        "rss_articles": s.rss_articles,
        "rss_mark": s.rss_mark,
        "threads": s.threads or "torch default",
        "chunk_docs": CHUNK_DOCS,
        "smoke": s.smoke,
        "targets": [{"name": t.name, "spec": t.spec, "kind": t.kind} for t in s.targets],
    }


# --- report.md ----------------------------------------------------------------------------------------------------


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables, with the command that produced it."""
    m, a, st = report["machine"], report["articles"], report["settings"]
    lines = [
        "# araquote speed benchmark",
        "",
        f"Command: `{report['command']}`  ",
        f"Date: {report['date']}, commit {report.get('commit') or 'unknown'}",
        "",
    ]
    if "error" in m:
        lines += [f"Machine info failed: {m['error']}", ""]
    else:
        flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["cpu_flags"].items())
        lines += [
            f"Machine: {m['cpu_model']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable), "
            f"torch threads {m['torch_threads']}, RAM {m['ram_gb']} GB{', GPU ' + m['gpu'] if m.get('gpu') else ''}.  ",
            f"CPU flags: {flags}.  ",
            f"torch {m['torch']}, transformers {m['transformers']}, "
            f"tokenizers {m['tokenizers']}, Python {m['python']}; a worker with only the libraries loaded has "
            f"RSS {m['worker_baseline_rss_mb']} MB.",
            "",
        ]
    lines += [
        f"Load average (1, 5, 15 min) at start {report.get('load_avg_start')}, at end {report.get('load_avg_end')}; "
        f"total {report.get('total_s')} s.",
        "",
    ]
    lines += [
        f"Device {st['device']}. Articles: the first {a['count']} of {a['source']} ({a['first_id']} … {a['last_id']}), "
        f"{a['chars_mean']:.0f} characters on average, {a['chars_max']} at most.",
        "",
    ]
    lines += [f"- {n}" for n in report["notes"]] + ([""] if report["notes"] else [])
    for t in report["targets"]:
        lines += _render_target(t)
    lines += [
        "## Method",
        "",
        "See `benchmarks/README.md`. In short: each configuration runs in a fresh worker process; "
        f"{st['warmup_articles']} articles are tagged untimed first; latency tags {st['latency_articles']} articles "
        "(spread over the list) one at a time and times each call; tokens are real subword ids of every window, "
        "specials included, padding excluded; the HF batch size is the fastest of those tried on "
        f"{st['hf_tune_articles']} articles.",
        "",
    ]
    return "\n".join(lines)


def _render_target(t: dict[str, Any]) -> list[str]:
    lines = [f"## {t['name']} ({t['kind']})", ""]
    if "skipped" in t:
        return lines + [f"Skipped: {t['skipped']}.", ""]
    b = t.get("build")
    if b and "error" in b:
        return lines + [f"Build failed: {b['error']}", ""]
    if b:
        e = b["encoder"]
        lines += [
            f"Encoder: {e['model_type']}, {e['num_hidden_layers']} layers, hidden {e['hidden_size']}, "
            f"{e['num_attention_heads']} heads, intermediate {e['intermediate_size']}, vocab {e['vocab_size']} "
            f"(tokenizer {b['tokenizer_vocab']} pieces); {b['parameters']:,} parameters; "
            + ("random weights throughout." if t["kind"] == "random-init" else "pretrained encoder, random heads."),
            "",
        ]
    facts = next((r["checkpoint"] for r in t.get("araquote", []) if "checkpoint" in r), None)
    if facts:
        lines += [
            f"araquote checkpoint: encoder {facts['encoder'] or '?'}, normalisation {facts['normalisation']}, "
            f"windows of {facts['max_length']} subwords with stride {facts['stride']}; labels "
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in facts["labels"].items())
            + ".",
            "",
        ]
    if t["kind"] != "checkpoint":
        lines += ["Heads are random: span counts and agreement figures are a sanity check only.", ""]
    elif facts and facts["normalisation"] != "none":
        lines += [
            f"The HF pipeline reads the raw text: it skips the checkpoint's '{facts['normalisation']}' "
            "normalisation (its speed is comparable, its labels are not).",
            "",
        ]
    lines += ["### araquote (`Tagger.tag_documents`) and the bare forward on the same windows", ""]
    rows = []
    for r in t.get("araquote", []):
        if "error" in r:
            rows.append([r["error"]] + [""] * 10)
            continue
        lat, bare = r["latency"], r["bare"]
        rows.append(
            [
                r["dtype"],
                str(r["batch_size"]),
                _f(r["wall_s"], 2),
                _f(r["articles_per_s"], 2),
                _f(r["tokens_per_s"], 0),
                _f(lat["p50_s"], 3),
                _f(lat["p95_s"], 3),
                _f(r["peak_rss_mb"], 0),
                _f(r["gpu_peak_mb"], 0),
                _f(bare["tokens_per_s"], 0),
                _f(r["tokens_per_s"] / bare["tokens_per_s"] if bare["tokens_per_s"] else None, 2),
            ]
        )
    lines += _table(
        [
            "dtype",
            "batch",
            "wall s",
            "articles/s",
            "tokens/s",
            "p50 s/article",
            "p95 s/article",
            "peak RSS MB",
            "GPU peak MB",
            "bare tokens/s",
            "araquote ÷ bare",
        ],
        rows,
    )
    hf_ok = [r for r in t.get("hf", []) if "error" not in r]
    shape = (
        f", chunks of {hf_ok[0]['max_length']} tokens, stride {hf_ok[0]['stride']}, one {hf_ok[0]['labels']}-label head"
        if hf_ok
        else ""
    )
    lines += [f"### Hugging Face `token-classification` pipeline (aggregation first{shape})", ""]
    rows = []
    for r in t.get("hf", []):
        if "error" in r:
            rows.append([r["error"]] + [""] * 7)
            continue
        tried = ", ".join(f"{x['batch_size']}: {x['articles_per_s']:.2f}" for x in r["tuning"])
        rows.append(
            [
                r["dtype"],
                tried,
                str(r["batch_size"]),
                _f(r["wall_s"], 2),
                _f(r["articles_per_s"], 2),
                _f(r["tokens_per_s"], 0),
                _f(r["peak_rss_mb"], 0),
                _f(r["gpu_peak_mb"], 0),
            ]
        )
    lines += _table(
        [
            "dtype",
            "tried (batch: articles/s)",
            "chosen",
            "wall s",
            "articles/s",
            "tokens/s (its chunks)",
            "peak RSS MB",
            "GPU peak MB",
        ],
        rows,
    )
    lines += _render_ratios(t)
    if "rss_check" in t:
        lines += _render_rss(t["rss_check"])
    return lines


def _render_ratios(t: dict[str, Any]) -> list[str]:
    r = t.get("ratios", {})
    rows = [
        [f"araquote ÷ HF, articles/s ({dt})", _f(v, 2)]
        for dt, v in r.get("araquote_over_hf_articles_per_s", {}).items()
    ]
    rows += [
        [f"araquote ÷ HF, tokens/s ({dt}; each counts its own tokens)", _f(v, 2)]
        for dt, v in r.get("araquote_over_hf_tokens_per_s", {}).items()
    ]
    rows += [
        [f"araquote ÷ bare forward, tokens/s ({k})", _f(v, 2)]
        for k, v in r.get("araquote_over_bare_tokens_per_s", {}).items()
    ]
    rows += [[f"araquote {dt} ÷ fp32, articles/s", _f(v, 2)] for dt, v in r.get("over_fp32_articles_per_s", {}).items()]
    rows += [
        [
            f"span agreement {dt} vs fp32 (identical spans)",
            f"{v['agreement']:.3f} ({v['identical']:,} of {v['fp32_spans']:,} / {v['spans']:,})",
        ]
        for dt, v in t.get("agreement", {}).items()
    ]
    return ["### Ratios (best batch size per dtype)", "", *_table(["ratio", "value"], rows)]


def _render_rss(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return ["### Memory check", "", f"Failed: {r['error']}", ""]
    return [
        "### Memory check (`run_tag_job` streaming, RSS sampled every 0.2 s)",
        "",
        f"{r['articles']:,} articles ({_distinct(r)}), {r['dtype']}, batch {r['batch_size']}: "
        f"{r['articles_per_s']:.2f} articles/s; RSS at article {r['mark']}: {_f(r['rss_at_mark_mb'])} MB, at the end: "
        f"{_f(r['rss_end_mb'])} MB, growth {_f(r['growth_pct'], 1)} %; sampled peak {_f(r['peak_sampled_mb'])} MB "
        f"({r['samples']} samples). Counts: {r['counts']}.",
        "",
    ]


def _distinct(r: dict[str, Any]) -> str:
    n, d = r["articles"], r["distinct_articles"]
    return "all distinct" if d >= n else f"{d:,} distinct, cycled"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = resolve_settings(args)
        report = run_benchmark(settings, shlex.join([os.path.relpath(sys.executable), *sys.argv]))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [
        r["error"]
        for t in report["targets"]
        for key in ("build", "araquote", "hf", "rss_check")
        for r in (t.get(key) if isinstance(t.get(key), list) else [t.get(key)])
        if r and "error" in r
    ]
    measured = [t for t in report["targets"] if "skipped" not in t]
    print(
        f"wrote {settings.out / 'report.json'} and {settings.out / 'report.md'}"
        + (f"; {len(failed)} job(s) failed" if failed else "")
        + ("" if measured else "; nothing was measured (every target was skipped)")
        + (f"; INCOMPLETE: {report['incomplete']}" if "incomplete" in report else ""),
        file=sys.stderr,
    )
    if "incomplete" in report:
        return 3
    return 1 if failed or not measured else 0


if __name__ == "__main__":
    sys.exit(main())
