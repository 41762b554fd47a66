"""``araquote benchmark CONFIG``: train or load systems, score them on held-out suites, write a report.

A benchmark config (YAML, unknown keys refused) names ``seeds``, ``systems`` and
``suites``. A system is trained from a training config once per seed
(``{name, train, set, seeds}``; ``seeds`` replaces the benchmark's for that system,
e.g. fewer where training is expensive), loaded from a checkpoint (``{name, model}``) or the
rule baseline (``{name, rules: true}``). A suite is a list of data sources
(like ``data.test`` of a training config), the systems to score on it, and
optional published figures to show beside ours. Every system is scored with
the one scorer (:func:`araquote.training.metrics.score`).

Output folder (default ``benchmarks/results/<name>``)::

    report.json                 validated against benchmarks/report.schema.json
    report.md                   tables and charts for people
    charts/*.png                per-label F1, precision/recall, entity confusion
                                (written by :mod:`araquote.training.report`)
    runs/<system>/seed-<s>/     training output; reused when metrics.json is there

``quick=True`` replaces every trained system by a tiny from-scratch model
trained in seconds on a few documents, uses one seed and scores the first few
documents of each suite: a smoke test of the whole pipeline, not a result.
Suites whose data files are missing are skipped with a note, never an error.
Paths in a benchmark config are relative to the working directory, as in
training configs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from araquote.inference.schema import (
    ATTRIBUTION_LABELS,
    ENTITIES,
    LAYERS,
    OUTSIDE,
    Document,
    DocumentError,
)

from .config import FORMATS, ConfigError, DataSource, from_dict, load_config, read_yaml_mapping
from .report import BenchmarkError, aggregate, label_order, write_outputs

DEVICES = ("auto", "cpu", "cuda")
PACKAGES = ("araquote", "torch", "transformers", "tokenizers", "accelerate", "datasets", "seqeval", "numpy", "scipy",
            "matplotlib", "jsonschema")
# The tiny model of --quick: trains in seconds on 2 CPU cores; the step count comes from QuickSettings.
QUICK_OVERRIDES = (
    "model.encoder=from_scratch", "model.from_scratch.vocab_size=500", "model.from_scratch.hidden_size=64",
    "model.from_scratch.num_layers=2", "model.from_scratch.num_heads=2", "model.from_scratch.intermediate_size=128",
    "model.from_scratch.max_position_embeddings=64", "model.max_length=64", "model.stride=16",
    "model.max_subwords_per_word=8", "model.freeze_embeddings=false", "train.epochs=1", "train.early_stopping_patience=0",
    "train.eval_batch_size=64",
    "train.precision=fp32", "train.max_minutes=2", "train.checkpoint_every_steps=0", "train.tensorboard=false",
    "hub.push_to_hub=false", "data.test=[]",
)


DECODE_SETTINGS = ("transition_weight", "lexicon_weight")  # a system's decode overrides (one weight, all layers)


# ---------------------------------------------------------------------------------------------- config


@dataclass
class SystemSpec:
    """One system: exactly one of ``train`` (a training config), ``model`` (a checkpoint dir), ``rules``,
    ``ensemble`` (the name of a ``train`` system, or a list of them: their models of every seed,
    probabilities averaged) or ``base`` (the name of a ``train`` system: its very models, decoded otherwise).

    ``decode`` overrides decode settings of the checkpoints for this system only (``transition_weight``,
    ``lexicon_weight``: one weight for every layer), so a decode-time idea is scored on the same models
    without training them again."""

    name: str
    train: str | None = None
    set: list[str] = field(default_factory=list)  # dot overrides for ``train``, e.g. train.epochs=3
    model: str | None = None
    rules: bool = False
    ensemble: list[str] = field(default_factory=list)  # one name is read as a list of one
    base: str | None = None
    decode: dict[str, float] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)  # a train system's own seeds; empty: the benchmark's
    description: str = ""


@dataclass
class PublishedFigure:
    """Reference F1 figures (fractions, 0.8370 for 83.70) to show beside ours; ``per_type``: label -> F1."""

    name: str = ""
    layer: str = ENTITIES
    micro: float | None = None
    macro: float | None = None
    per_type: dict[str, float] = field(default_factory=dict)
    source: str = ""


@dataclass
class SuiteSpec:
    """Held-out data and the systems scored on it."""

    name: str
    data: list[DataSource] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    split: str = "test"
    description: str = ""
    max_docs: int = 0  # first N documents of the suite (0 = all)
    published: list[PublishedFigure] = field(default_factory=list)
    label_map: dict[str, str] = field(default_factory=dict)  # entity label -> label (or O: dropped), gold and predicted


@dataclass
class QuickSettings:
    """Sizes used by ``--quick``."""

    max_docs: int = 20  # documents per suite
    train_docs: int = 60  # documents per training source
    dev_docs: int = 5  # documents per dev source
    max_steps: int = 20


@dataclass
class BenchmarkConfig:
    name: str
    description: str = ""
    seeds: list[int] = field(default_factory=lambda: [13])
    device: str = "auto"
    batch_size: int = 64  # windows per forward pass when tagging the suites
    systems: list[SystemSpec] = field(default_factory=list)
    suites: list[SuiteSpec] = field(default_factory=list)
    quick: QuickSettings = field(default_factory=QuickSettings)


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Read and check a benchmark YAML file; every error names the file, the key path and the valid options."""
    p, where = Path(path), str(path)
    raw = dict(read_yaml_mapping(p, "benchmark config"))
    suites_raw = raw.pop("suites", [])
    _require(BenchmarkConfig, raw, where, "")
    for i, s in enumerate(raw.get("systems") or []):
        _require(SystemSpec, s, where, f"systems[{i}]")
    cfg = from_dict(BenchmarkConfig, raw, where)
    if not isinstance(suites_raw, list):
        raise ConfigError(f"{where}: 'suites' must be a list, got {suites_raw!r}")
    cfg.suites = [_parse_suite(s, where, f"suites[{i}]") for i, s in enumerate(suites_raw)]
    check_benchmark(cfg, where)
    return cfg


def _require(cls: type, raw: Any, where: str, path: str) -> None:
    """Refuse a mapping that lacks a field without a default (``from_dict`` would fail with a TypeError)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: '{path or 'top level'}' must be a mapping, got {raw!r}")
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in raw:
            raise ConfigError(f"{where}: '{path + '.' if path else ''}{f.name}' is required")


def _parse_suite(raw: Any, where: str, path: str) -> SuiteSpec:
    _require(SuiteSpec, raw, where, path)
    raw = dict(raw)
    published = raw.pop("published", None) or {}
    label_map = raw.pop("label_map", None) or {}
    for i, src in enumerate(raw.get("data") or []):
        if isinstance(src, dict):
            _require(DataSource, src, where, f"{path}.data[{i}]")
    suite = from_dict(SuiteSpec, raw, where, path)
    suite.label_map = _str_mapping(label_map, where, f"{path}.label_map")
    if not isinstance(published, dict):
        raise ConfigError(f"{where}: '{path}.published' must map a reference name to its figures, got {published!r}")
    suite.published = [_parse_published(name, v, where, f"{path}.published.{name}") for name, v in published.items()]
    return suite


def _parse_published(name: Any, raw: Any, where: str, path: str) -> PublishedFigure:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: '{path}' must be a mapping such as {{micro: 0.8370, source: '...'}}, got {raw!r}")
    raw = dict(raw)
    per_type = raw.pop("per_type", None) or {}
    if "name" in raw:
        raise ConfigError(f"{where}: '{path}.name': the reference's name is its key ({name!r})")
    fig = from_dict(PublishedFigure, raw, where, path)
    fig.name = str(name)
    if not isinstance(per_type, dict):
        raise ConfigError(f"{where}: '{path}.per_type' must map labels to F1, got {per_type!r}")
    fig.per_type = {str(k): _fraction(v, where, f"{path}.per_type.{k}") for k, v in per_type.items()}
    for key in ("micro", "macro"):
        if getattr(fig, key) is not None:
            setattr(fig, key, _fraction(getattr(fig, key), where, f"{path}.{key}"))
    return fig


def _fraction(value: Any, where: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where}: '{path}' must be an F1 fraction in [0, 1] (0.8370 for 83.70), got {value!r}")
    return float(value)


def _str_mapping(raw: Any, where: str, path: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ConfigError(f"{where}: '{path}' must map label names to label names (or O to drop), got {raw!r}")
    return dict(raw)


def check_benchmark(cfg: BenchmarkConfig, where: str) -> None:
    """Cross-field checks; all problems are reported at once."""
    problems = []
    if not re.fullmatch(r"[\w.-]+", cfg.name):
        problems.append(f"name must be letters, digits, '.', '_' or '-' (it names the output folder), got {cfg.name!r}")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        problems.append(f"seeds must be a non-empty list of distinct integers, got {cfg.seeds}")
    if cfg.device not in DEVICES:
        problems.append(f"device must be one of {', '.join(DEVICES)}, got {cfg.device!r}")
    if cfg.batch_size < 1:
        problems.append(f"batch_size must be >= 1, got {cfg.batch_size}")
    problems += _check_systems(cfg.systems)
    known = [s.name for s in cfg.systems]
    if not cfg.suites:
        problems.append("suites needs at least one suite")
    for i, suite in enumerate(cfg.suites):
        problems += [f"suites[{i}] ({suite.name}): {p}" for p in _check_suite(suite, known)]
    if len({s.name for s in cfg.suites}) != len(cfg.suites):
        problems.append(f"suite names must be distinct, got {[s.name for s in cfg.suites]}")
    q = cfg.quick
    if min(q.max_docs, q.train_docs, q.dev_docs, q.max_steps) < 1:
        problems.append("quick.max_docs, quick.train_docs, quick.dev_docs and quick.max_steps must be >= 1")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))


def _check_systems(systems: list[SystemSpec]) -> list[str]:
    problems = []
    if not systems:
        problems.append("systems needs at least one system")
    if len({s.name for s in systems}) != len(systems):
        problems.append(f"system names must be distinct, got {[s.name for s in systems]}")
    by_name = {s.name: s for s in systems}
    for i, s in enumerate(systems):
        kinds = [k for k, on in (("train", s.train), ("model", s.model), ("rules", s.rules), ("ensemble", s.ensemble),
                                 ("base", s.base)) if on]
        if len(kinds) != 1:
            problems.append(f"systems[{i}] ({s.name}) needs exactly one of train, model, rules: true, ensemble, base; "
                            f"got {kinds or 'none'}")
        if s.base and not (s.base in by_name and by_name[s.base].train):
            problems.append(f"systems[{i}] ({s.name}): base must name a system with 'train', got {s.base!r}")
        if not isinstance(s.decode, dict):
            problems.append(f"systems[{i}] ({s.name}): decode must map settings to weights, got {s.decode!r}")
        else:
            for key, value in s.decode.items():
                if key not in DECODE_SETTINGS:
                    problems.append(f"systems[{i}] ({s.name}): unknown decode setting {key!r}; known: {', '.join(DECODE_SETTINGS)}")
                elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 20:
                    problems.append(f"systems[{i}] ({s.name}): decode.{key} must be a number in [0, 20], got {value!r}")
            if s.decode and s.rules:
                problems.append(f"systems[{i}] ({s.name}): decode settings do not apply to the rules")
        for base in s.ensemble:
            if not (base in by_name and by_name[base].train):
                problems.append(f"systems[{i}] ({s.name}): ensemble must name systems with 'train', got {base!r}")
        if len(set(s.ensemble)) != len(s.ensemble):
            problems.append(f"systems[{i}] ({s.name}): ensemble names a system twice: {s.ensemble}")
        if s.seeds and not s.train:
            problems.append(f"systems[{i}] ({s.name}): 'seeds' applies to 'train' systems only")
        if len(set(s.seeds)) != len(s.seeds):
            problems.append(f"systems[{i}] ({s.name}): seeds must be distinct, got {s.seeds}")
        if s.set and not s.train:
            problems.append(f"systems[{i}] ({s.name}): 'set' overrides apply to 'train' systems only")
        if not re.fullmatch(r"[\w.-]+", s.name):
            problems.append(f"systems[{i}].name must be letters, digits, '.', '_' or '-' (it names a folder), got {s.name!r}")
    return problems


def _check_suite(suite: SuiteSpec, known: list[str]) -> list[str]:
    problems = []
    if not suite.data:
        problems.append("data needs at least one source")
    for j, src in enumerate(suite.data):
        if src.format not in FORMATS:
            problems.append(f"data[{j}].format must be one of {', '.join(FORMATS)}, got {src.format!r}")
    if not suite.systems:
        problems.append("systems needs at least one system name")
    for name in suite.systems:
        if name not in known:
            problems.append(f"unknown system {name!r}; systems defined: {', '.join(known) or 'none'}")
    for fig in suite.published:
        if fig.layer not in LAYERS:
            problems.append(f"published.{fig.name}.layer must be one of {', '.join(LAYERS)}, got {fig.layer!r}")
    if suite.max_docs < 0:
        problems.append(f"max_docs must be >= 0, got {suite.max_docs}")
    if not re.fullmatch(r"[\w.-]+", suite.name):
        problems.append(f"name must be letters, digits, '.', '_' or '-' (it names chart files), got {suite.name!r}")
    return problems


# ---------------------------------------------------------------------------------------------- systems


@dataclass
class Run:
    """One trained (or loaded) model of a system, or the rules."""

    seed: int | None
    model_dir: str | None
    train_seconds: float | None = None
    steps: int | None = None
    reused: bool = False
    members: list[str] = field(default_factory=list)  # an ensemble's checkpoint dirs (model_dir is then None)


@dataclass
class System:
    spec: SystemSpec
    kind: str  # train | model | rules | ensemble
    encoder: str
    runs: list[Run] = field(default_factory=list)
    training_data: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None  # why the system could not be built
    planned: list[tuple[Any, Path]] = field(default_factory=list)  # (training config, run folder) not yet trained


def plan_system(spec: SystemSpec, seeds: list[int], out: Path, quick: QuickSettings | None) -> System:
    """Resolve a system without training: its configs per seed, checked; a checkpoint; or the rules.

    Every system is planned before any is trained, so a bad config or a missing encoder stops the
    benchmark at once, not after hours of training. Missing training data skips the system with a note.
    """
    if spec.rules:
        return System(spec, "rules", "rules", [Run(None, None)])
    if spec.ensemble:
        return System(spec, "ensemble", "?")  # filled in by ensemble_runs once its base system is trained
    if spec.base:
        return System(spec, "variant", "?")  # filled in by variant_runs once its base system is trained
    if spec.model:
        model_dir = _model_dir(spec.model)
        meta = json.loads((model_dir / "araquote.json").read_text(encoding="utf-8"))
        secs, steps = _train_time(model_dir.parent / "metrics.json")
        return System(spec, "model", str(meta.get("encoder") or "?"), [Run(None, str(model_dir), secs, steps)])
    system = System(spec, "train", "?")
    for seed in seeds:
        run_dir = out / "runs" / spec.name / (f"seed-{seed}-quick" if quick else f"seed-{seed}")
        cfg = _training_config(spec, seed, run_dir, quick)
        system.encoder = cfg.model.encoder
        system.training_data = [{"split": split, **dataclasses.asdict(src)} for split in ("train", "dev")
                                for src in getattr(cfg.data, split)]
        missing = [s.path for split in ("train", "dev", "test") for s in getattr(cfg.data, split) if not Path(s.path).exists()]
        if missing:
            system.skipped = f"training data not found: {', '.join(missing)}"
            return system
        _check_encoder(spec, cfg.model.encoder)
        system.planned.append((cfg, run_dir))
    return system


def _check_encoder(spec: SystemSpec, encoder: str) -> None:
    """A local encoder directory (``models/…``, ``./…``, ``/…``) must exist; hub ids are left to transformers."""
    local = encoder.startswith((".", "/", "models/")) or Path(encoder).exists()
    if encoder != "from_scratch" and local and not (Path(encoder) / "config.json").is_file():
        hint = " (build it with: bash scripts/build_offline_encoder.sh)" if "me5" in encoder else ""
        raise BenchmarkError(f"system {spec.name} ({spec.train}): encoder directory {encoder} has no config.json{hint}")


def train_system(system: System, progress: bool) -> None:
    """Train (or reuse) the planned run of every seed."""
    for cfg, run_dir in system.planned:
        system.runs.append(_train_or_reuse(cfg, run_dir, progress))
    system.planned = []


def ensemble_runs(system: System, bases: Sequence[System]) -> None:
    """One run for an ensemble system: every trained model of each of ``bases``; training time and steps summed."""
    system.encoder = " + ".join(dict.fromkeys(b.encoder for b in bases))
    system.training_data = [d for i, b in enumerate(bases) for d in b.training_data
                            if d not in [e for prev in bases[:i] for e in prev.training_data]]
    system.skipped = next((f"{b.spec.name}: {b.skipped}" for b in bases if b.skipped), None)
    runs = [r for b in bases for r in b.runs]
    if system.skipped or not runs:
        return
    secs = [r.train_seconds for r in runs]
    steps = [r.steps for r in runs]
    system.runs = [Run(None, None, None if None in secs else round(sum(secs), 1),  # type: ignore[arg-type]
                       None if None in steps else sum(steps),  # type: ignore[arg-type]
                       all(r.reused for r in runs), [str(r.model_dir) for r in runs])]


def variant_runs(system: System, base: System) -> None:
    """The runs of a ``base`` system: the same checkpoints (and training record), decoded with the system's settings."""
    system.encoder, system.training_data, system.skipped = base.encoder, base.training_data, base.skipped
    system.runs = [dataclasses.replace(r) for r in base.runs]


def _model_dir(path: str) -> Path:
    p = Path(path)
    for cand in (p, p / "model"):
        if (cand / "araquote.json").is_file():
            return cand
    raise BenchmarkError(f"model {path}: no araquote.json in {p} or {p / 'model'}; give a checkpoint written by 'araquote train'")


def _train_time(metrics_path: Path) -> tuple[float | None, int | None]:
    if not metrics_path.is_file():
        return None, None
    m = json.loads(metrics_path.read_text(encoding="utf-8"))
    return m.get("train_seconds"), m.get("steps")


def _training_config(spec: SystemSpec, seed: int, run_dir: Path, quick: QuickSettings | None) -> Any:
    overrides = list(spec.set) + [f"seed={seed}", f"output_dir={run_dir}"]
    if quick:
        overrides += list(QUICK_OVERRIDES) + [f"train.max_steps={quick.max_steps}"]
    cfg = load_config(spec.train or "", overrides)
    if quick:
        for split, limit in (("train", quick.train_docs), ("dev", quick.dev_docs)):
            for src in getattr(cfg.data, split):
                src.max_docs = min(src.max_docs or limit, limit)
    return cfg


def _train_or_reuse(cfg: Any, run_dir: Path, progress: bool) -> Run:
    """Reuse a finished run trained with the same config; otherwise train (resuming an interrupted run)."""
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) if (run_dir / "config.yaml").is_file() else {}
        # a moved run folder is the same run; so is one saved before a setting existed, if the config keeps its default
        diff = [k for k in _diff_keys(_resolved_weights(saved or {}), _resolved_weights(cfg.to_dict()), defaults=_defaults())
                if k != "output_dir"]
        if diff:
            raise BenchmarkError(f"{run_dir} holds a finished run trained with another config (differs at: {', '.join(diff[:5])}); "
                                 "delete that folder to retrain, or give another --out")
        secs, steps = _train_time(metrics_path)
        return Run(cfg.seed, str(run_dir / "model"), secs, steps, reused=True)
    from .train import train

    metrics = train(cfg, progress=progress)
    return Run(cfg.seed, str(run_dir / "model"), metrics.get("train_seconds"), metrics.get("steps"))


_MISSING = object()


def _resolved_weights(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with decode weights that training resolves without a dev split written as resolved: null (tune
    on dev) means 0 there, so a run saved when a weight's default was 0 is the same run as one with null."""
    model, data = config.get("model"), config.get("data")
    if not isinstance(model, dict) or (isinstance(data, dict) and data.get("dev")):
        return config
    fixed = {k: 0.0 for k in ("transition_weight", "lexicon_weight") if k in model and model[k] is None}
    return {**config, "model": {**model, **fixed}} if fixed else config


def _defaults() -> dict[str, Any]:
    from .config import Config

    return Config().to_dict()


def _diff_keys(a: Any, b: Any, path: str = "", defaults: Any = None) -> list[str]:
    """Dotted keys where ``a`` (a saved config) and ``b`` differ; a key ``a`` lacks counts as its default."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            d = defaults.get(k, _MISSING) if isinstance(defaults, dict) else _MISSING
            left = a[k] if k in a else (d if d is not _MISSING else None)
            out.extend(_diff_keys(left, b.get(k), f"{path}.{k}" if path else str(k), None if d is _MISSING else d))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and path.startswith("data."):
        # a data source saved before one of its settings existed is the same source if the setting keeps its default
        from .config import DataSource

        src_defaults = dataclasses.asdict(DataSource(path=""))
        return [k for i, (x, y) in enumerate(zip(a, b)) for k in _diff_keys(x, y, f"{path}[{i}]", src_defaults)]
    return [] if a == b else [path or "top level"]


def load_tagger(run: Run, device: str, batch_size: int = 64) -> Any:
    """The tagger of one run: a checkpoint, an ensemble of checkpoints, or the rules."""
    if run.members:
        from araquote.inference.ensemble import EnsembleTagger

        return EnsembleTagger.from_pretrained(run.members, device=device, batch_size=batch_size)
    if run.model_dir is None:
        from araquote.inference.rules import RuleTagger

        return RuleTagger()
    from araquote.inference.tagger import Tagger

    return Tagger.from_pretrained(run.model_dir, device=device, batch_size=batch_size)


# ---------------------------------------------------------------------------------------------- suites


@dataclass
class Suite:
    spec: SuiteSpec
    docs: list[Document] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None  # why it was skipped, or how it was limited

    @property
    def skipped(self) -> bool:
        """True when there is nothing to score (missing or unreadable data)."""
        return not self.docs


def load_suite(spec: SuiteSpec, quick: QuickSettings | None) -> Suite:
    """Gold documents of a suite (first ``max_docs``; fewer with ``--quick``); missing files skip the suite."""
    from .corpus import load_source

    missing = [s.path for s in spec.data if not Path(s.path).exists()]
    if missing:
        return Suite(spec, note=f"skipped: data file(s) not found: {', '.join(missing)}")
    suite = Suite(spec)
    for src in spec.data:
        try:
            docs = load_source(src)
        except DocumentError as exc:  # a broken file skips its suite (noted in the report), not the whole benchmark
            return Suite(spec, note=f"skipped: cannot read {src.path} as {src.format}: {exc}")
        suite.docs.extend(docs)
        suite.sources.append({"path": src.path, "format": src.format, "split": spec.split, "doc_tokens": src.doc_tokens,
                              "portion": src.portion, "max_docs": src.max_docs, "documents": len(docs)})
    limit = min(x for x in (spec.max_docs, quick.max_docs if quick else 0) if x) if (spec.max_docs or quick) else 0
    if limit and len(suite.docs) > limit:
        suite.note = f"limited to the first {limit} of {len(suite.docs)} documents" + (" (--quick)" if quick else "")
        suite.docs = suite.docs[:limit]
    if not suite.docs:
        suite.note = "skipped: the data holds no documents"
    for d in suite.docs:
        _map_labels(d, spec.label_map)
    return suite


def _map_labels(doc: Document, label_map: dict[str, str]) -> None:
    """Rename entity labels in place; a label mapped to O is dropped (quote records never point at entities)."""
    if not label_map:
        return
    kept = []
    for s in doc.spans:
        if s.layer == ENTITIES:
            s.label = label_map.get(s.label, s.label)
        if s.label != OUTSIDE:
            kept.append(s)
    doc.spans = kept


# ---------------------------------------------------------------------------------------------- scoring


def headline(scores: dict[str, Any]) -> dict[str, float]:
    """The figures compared across systems and averaged over seeds, from one score report."""
    h: dict[str, float] = {}
    for layer, v in scores.get("layers", {}).items():
        for key in ("precision", "recall", "f1"):
            h[f"{layer}.micro_{key}"] = v["micro"][key]
        h[f"{layer}.macro_f1"] = v["macro"]["f1"]
    q = scores.get("quotes")
    if q:
        for role in ATTRIBUTION_LABELS:
            h[f"quotes.exact.{role}.f1"] = q["exact"][role]["f1"]
            h[f"quotes.overlap.{role}.f1"] = q["overlap"][role]["f1"]
        h["quotes.records@0.3.f1"] = q["records"]["overlap_0.3"]["f1"]
        h["quotes.records@0.8.f1"] = q["records"]["overlap_0.8"]["f1"]
        h["quotes.speaker_accuracy"] = q["speaker_accuracy"]
    return h


def summarise(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Headline and per-label (P/R/F1 per layer and label) mean and std over the runs of one system."""
    keys = list(dict.fromkeys(k for r in runs for k in r["headline"]))
    summary = {k: aggregate([r["headline"][k] for r in runs if k in r["headline"]]) for k in keys}
    per_label: dict[str, Any] = {}
    for layer in LAYERS:
        reps = [r["scores"]["layers"][layer]["per_label"] for r in runs if layer in r["scores"].get("layers", {})]
        if not reps:
            continue
        labels = list(dict.fromkeys(lab for rep in reps for lab in rep))
        per_label[layer] = {
            lab: {**{m: aggregate([rep[lab][m] for rep in reps if lab in rep]) for m in ("precision", "recall", "f1")},
                  "support": max(rep[lab]["support"] for rep in reps if lab in rep)}
            for lab in labels
        }
    return summary, per_label


def score_run(tagger: Any, suite: Suite) -> tuple[dict[str, Any], list[Document], float]:
    """Tag a suite's texts, map labels, score; returns scores, predictions and tagging seconds."""
    started = time.perf_counter()
    pred = list(tagger.tag_documents((d.id, d.text) for d in suite.docs))
    return _score_predictions(suite, pred) + (time.perf_counter() - started,)


def _score_predictions(suite: Suite, pred: list[Document]) -> tuple[dict[str, Any], list[Document]]:
    from .metrics import score

    for d in pred:
        _map_labels(d, suite.spec.label_map)
    return score(suite.docs, pred), pred


class ProbabilityCache:
    """Word probabilities of each checkpoint on each suite, computed once per benchmark call.

    A model that is also a member of one or more ensembles (a seed of me5-anercorp in four ensembles) is run
    once per suite; an ensemble averages its members' cached probabilities and decodes them with its first
    member's settings, exactly as :class:`~araquote.inference.ensemble.EnsembleTagger` (same chunks, same
    batches, so the same numbers). Held in memory: a few MB per model and suite.
    """

    def __init__(self, device: str, batch_size: int) -> None:
        self.device, self.batch_size = device, batch_size
        self._probs: dict[tuple[str, str], tuple[list[Any], float]] = {}

    def outputs(self, model_dir: str, suite: Suite, tagger: Any = None) -> tuple[list[Any], float]:
        """``(word_probabilities output per document, forward seconds)`` of one checkpoint on one suite."""
        key = (str(model_dir), suite.spec.name)
        if key not in self._probs:
            from araquote.inference.tagger import Tagger

            tagger = tagger or Tagger.from_pretrained(model_dir, device=self.device, batch_size=self.batch_size)
            started = time.perf_counter()
            out = list(tagger.word_probabilities((d.id, d.text) for d in suite.docs))
            self._probs[key] = (out, time.perf_counter() - started)
        return self._probs[key]

    def score(self, run: Run, suite: Suite, decode: dict[str, float] | None = None) -> tuple[dict[str, Any], list[Document], float]:
        """Scores, predictions and tagging seconds (the members' forward passes plus the decode) of a run;
        ``decode`` overrides the checkpoint's decode weights (see :class:`SystemSpec`)."""
        from araquote.inference.ensemble import average_member_outputs
        from araquote.inference.tagger import Tagger

        members = run.members or [str(run.model_dir)]
        first = Tagger.from_pretrained(members[0], device=self.device, batch_size=self.batch_size)
        overrides = {f"{key}s": {layer: float(w) for layer in first.layers} for key, w in (decode or {}).items()}
        if (decode or {}).get("lexicon_weight") and not first.lexicons:
            raise BenchmarkError(f"{members[0]}: decode.lexicon_weight is set but the checkpoint has no name lexicon "
                                 "(trained before araquote stored one: add it with araquote lexicon MODEL --config CONFIG --write)")
        outputs = [self.outputs(members[0], suite, first)] + [self.outputs(m, suite) for m in members[1:]]
        started = time.perf_counter()
        pred = []
        for k, (doc_id, text, words, probs) in enumerate(outputs[0][0]):
            if len(members) > 1:
                words, probs = average_member_outputs(doc_id, [out[k] for out, _ in outputs], first.layers)
            pred.append(first.decode(doc_id, text, words, probs, **overrides))
        seconds = time.perf_counter() - started + sum(s for _, s in outputs)
        return _score_predictions(suite, pred) + (seconds,)


def entity_confusion(gold: list[Document], pred: list[Document]) -> dict[str, Any]:
    """Word-level confusion of entity types (B-/I- collapsed, O included): rows gold, columns predicted."""
    from araquote.inference.text import split_words

    from .features import word_tags

    by_id = {d.id: d for d in pred}
    pairs: list[tuple[str, str]] = []
    for g in gold:
        words = split_words(g.text)
        if words and ENTITIES in g.layers:
            gt, pt = word_tags(g, words, ENTITIES), word_tags(by_id[g.id], words, ENTITIES)
            pairs.extend((_type(a), _type(b)) for a, b in zip(gt, pt))
    labels = [OUTSIDE] + label_order({x for pair in pairs for x in pair} - {OUTSIDE})
    index = {lab: i for i, lab in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for a, b in pairs:
        counts[index[a]][index[b]] += 1
    return {"labels": labels, "counts": counts}


def _type(tag: str) -> str:
    return tag[2:] if tag[:2] in ("B-", "I-") else tag


def evaluate_systems(systems: dict[str, System], suites: list[Suite], device: str, batch_size: int,
                     progress: bool) -> dict[str, Any]:
    """Score every run of every system on every suite that lists it (each checkpoint runs once per suite: see
    :class:`ProbabilityCache`); at most two models in memory at a time."""
    results: dict[str, dict[str, Any]] = {s.spec.name: {} for s in suites}
    cache = ProbabilityCache(device, batch_size)
    confusion_suite = next((s for s in suites if not s.skipped and any(ENTITIES in d.layers for d in s.docs)), None)
    for name, system in systems.items():
        wanted = [s for s in suites if name in s.spec.systems and not s.skipped]
        if system.skipped or not wanted:
            continue
        for k, run in enumerate(system.runs):
            tagger = None if run.members or run.model_dir is not None else load_tagger(run, device, batch_size)
            for suite in wanted:
                scores, pred, seconds = (cache.score(run, suite, system.spec.decode) if tagger is None
                                         else score_run(tagger, suite))
                entry = results[suite.spec.name].setdefault(name, {"runs": [], "confusion": None})
                model_dir = " + ".join(run.members) if run.members else run.model_dir
                entry["runs"].append({"seed": run.seed, "model_dir": model_dir, "train_seconds": run.train_seconds,
                                      "eval_seconds": round(seconds, 3), "documents": len(suite.docs),
                                      "headline": headline(scores), "scores": scores})
                if k == 0 and suite is confusion_suite and ENTITIES in scores.get("layers", {}):
                    entry["confusion"] = entity_confusion(suite.docs, pred)
                if progress:
                    print(f"benchmark: {suite.spec.name} / {name} seed {run.seed}: {_short(scores)}", flush=True)
            del tagger
    return results


def _short(scores: dict[str, Any]) -> str:
    parts = [f"{layer} micro F1 {v['micro']['f1']:.3f}" for layer, v in scores.get("layers", {}).items()]
    if scores.get("quotes"):
        parts.append(f"records F1@0.3 {scores['quotes']['records']['overlap_0.3']['f1']:.3f}")
    return ", ".join(parts) or "no layer in common with the gold data"


# ---------------------------------------------------------------------------------------------- report


def environment() -> dict[str, Any]:
    """Machine (CPU model, cores, GPU) and package versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "machine": {"cpu": cpu, "cores": os.cpu_count() or 0, "torch_threads": torch.get_num_threads(), "gpu": gpu,
                    "platform": platform.platform(), "python": platform.python_version()},
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def build_report(cfg: BenchmarkConfig, config_path: str, command: str, quick: bool, seeds: list[int],
                 systems: dict[str, System], suites: list[Suite], results: dict[str, Any]) -> dict[str, Any]:
    """The report.json object (charts are added by :func:`write_outputs`)."""
    return {
        "schema_version": 1,
        "name": cfg.name,
        "description": cfg.description,
        "quick": quick,
        "date": _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        "command": command,
        "config_path": config_path,
        "seeds": seeds,
        "evaluation": {"device": cfg.device, "batch_size": cfg.batch_size},
        "environment": environment(),
        "systems": [_system_entry(s) for s in systems.values()],
        "suites": [_suite_entry(s, systems, results.get(s.spec.name, {})) for s in suites],
        "charts": [],
        "notes": _notes(quick, systems, suites, cfg),
    }


def _system_entry(system: System) -> dict[str, Any]:
    s = system.spec
    return {"name": s.name, "kind": system.kind, "encoder": system.encoder, "description": s.description,
            "config": s.train, "overrides": list(s.set), "model": s.model, "base": s.base, "decode": dict(s.decode),
            "training_data": system.training_data,
            "skipped": system.skipped, "runs": [dataclasses.asdict(r) for r in system.runs]}


def _suite_entry(suite: Suite, systems: dict[str, System], results: dict[str, Any]) -> dict[str, Any]:
    entries = []
    for name in [] if suite.skipped else suite.spec.systems:
        system = systems.get(name)
        if name not in results:
            why = system.skipped if system and system.skipped else "not evaluated"
            entries.append({"system": name, "status": "skipped", "note": why})
            continue
        runs = results[name]["runs"]
        summary, per_label = summarise(runs)
        train = [r["train_seconds"] for r in runs if r["train_seconds"] is not None]
        entries.append({"system": name, "status": "ok", "note": None, "encoder": system.encoder if system else "?",
                        "seeds": [r["seed"] for r in runs], "summary": summary, "per_label": per_label,
                        "train_seconds": aggregate(train) if train else None,
                        "eval_seconds": aggregate([r["eval_seconds"] for r in runs]),
                        "confusion": results[name]["confusion"], "runs": runs})
    layers = sorted({layer for d in suite.docs for layer in d.layers}, key=LAYERS.index) if suite.docs else []
    return {"name": suite.spec.name, "description": suite.spec.description, "split": suite.spec.split,
            "status": "skipped" if suite.skipped else "ok", "note": suite.note, "documents": len(suite.docs),
            "layers": layers, "data": suite.sources or [{"path": s.path, "format": s.format, "split": suite.spec.split}
                                                         for s in suite.spec.data],
            "label_map": suite.spec.label_map, "published": [_published_entry(f, entries) for f in suite.spec.published],
            "results": entries}


def _published_entry(fig: PublishedFigure, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A published figure and, for each system scored, our mean and the difference (ours - published)."""
    ours = []
    for e in entries:
        if e["status"] != "ok" or f"{fig.layer}.micro_f1" not in e["summary"]:
            continue
        row: dict[str, Any] = {"system": e["system"]}
        for key in ("micro", "macro"):
            if getattr(fig, key) is not None:
                mine = e["summary"][f"{fig.layer}.{key}_f1"]["mean"]
                row[key] = {"ours": mine, "difference": round(mine - getattr(fig, key), 4)}
        labels = e["per_label"].get(fig.layer, {})
        row["per_type"] = {lab: {"ours": labels[lab]["f1"]["mean"] if lab in labels else None,
                                 "difference": round(labels[lab]["f1"]["mean"] - v, 4) if lab in labels else None}
                           for lab, v in fig.per_type.items()}
        ours.append(row)
    return {"name": fig.name, "layer": fig.layer, "micro": fig.micro, "macro": fig.macro, "per_type": fig.per_type,
            "source": fig.source, "comparison": ours}


def _notes(quick: bool, systems: dict[str, System], suites: list[Suite], cfg: BenchmarkConfig) -> list[str]:
    notes = []
    if quick:
        q = cfg.quick
        notes.append(f"quick: every trained system is a tiny from-scratch model ({q.max_steps} steps, at most {q.train_docs} "
                     f"training documents per source), one seed, at most {q.max_docs} documents per suite: "
                     "a pipeline check, not a result")
    notes += [f"system {s.spec.name}: {s.skipped}" for s in systems.values() if s.skipped]
    notes += [f"suite {s.spec.name}: {s.note}" for s in suites if s.note]
    return notes


# ---------------------------------------------------------------------------------------------- entry point


def run_benchmark(config_path: str, quick: bool = False, out: str | None = None, command: str = "",
                  progress: bool = True, seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """Run a benchmark config end to end; returns the report (also written to ``out``).

    ``seeds`` replaces the config's seeds and every system's own (e.g. one seed when training is expensive);
    the report records them."""
    _need_report_packages()
    cfg = load_benchmark_config(config_path)
    out_dir = Path(out) if out else Path("benchmarks/results") / cfg.name
    q = cfg.quick if quick else None
    if seeds is not None:
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"--seeds must list distinct integers, got {list(seeds)}")
        cfg.seeds = list(seeds)
        for spec in cfg.systems:
            spec.seeds = []
    seeds = cfg.seeds[:1] if quick else list(cfg.seeds)
    suites = [load_suite(s, q) for s in cfg.suites]
    wanted = list(dict.fromkeys(n for s in suites if not s.skipped for n in s.spec.systems))
    specs = {s.name: s for s in cfg.systems}
    bases = [b for n in wanted for b in [*specs[n].ensemble, *([specs[n].base] if specs[n].base else [])]]
    planned = {n: plan_system(specs[n], seeds if quick or not specs[n].seeds else specs[n].seeds, out_dir, q)
               for n in dict.fromkeys(wanted + bases)}
    for system in planned.values():
        train_system(system, progress)
    for system in planned.values():
        if system.kind == "ensemble":
            ensemble_runs(system, [planned[b] for b in system.spec.ensemble])
        elif system.kind == "variant":
            variant_runs(system, planned[system.spec.base or ""])
    systems = {n: planned[n] for n in wanted}
    results = evaluate_systems(systems, suites, cfg.device, cfg.batch_size, progress)
    report = build_report(cfg, config_path, command, quick, seeds, systems, suites, results)
    write_outputs(report, out_dir)
    return report


def _need_report_packages() -> None:
    missing = [name for name in ("matplotlib", "jsonschema", "seqeval") if _version(name) is None]
    if missing:
        raise BenchmarkError(f"araquote benchmark needs {', '.join(missing)}: pip install -e '.[dev]'")
