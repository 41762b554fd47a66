"""Typed training configs loaded from YAML: unknown keys and wrong types are refused.

``load_config(path, overrides=["train.learning_rate=3e-5"])`` reads a YAML file,
applies dot-path overrides (values parsed as YAML), and returns a checked
:class:`Config`. Every error names the key path and the valid options.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from araquote.inference.model import WORD_POOLING
from araquote.inference.schema import LAYERS, AraquoteError
from araquote.inference.wordfeatures import FEATURE_SETS


class ConfigError(AraquoteError, ValueError):
    """A config file or override is invalid."""


@dataclass
class DataSource:
    """One corpus file. ``format``: jsonl (corpus format), conll (``TOKEN TAG`` lines), aqmar."""

    path: str
    format: str = "jsonl"
    weight: float = 1.0
    max_docs: int = 0
    doc_tokens: int = 0  # conll only: group this many tokens per document (0 = sentence/blank-line breaks)
    portion: list[float] | None = None  # [from, to] fractions of the documents, e.g. [0.0, 0.9] (a dev slice)
    # teach only these layers from this source (e.g. [entities] from a corpus that also has attribution);
    # null = every layer the documents carry
    layers: list[str] | None = None


@dataclass
class DataConfig:
    train: list[DataSource] = field(default_factory=list)
    dev: list[DataSource] = field(default_factory=list)
    test: list[DataSource] = field(default_factory=list)
    entity_labels: list[str] | None = None


@dataclass
class ScratchConfig:
    """The small BERT trained from scratch (WordPiece vocab learned on the training texts)."""

    vocab_size: int = 8000
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    dropout: float = 0.1  # hidden and attention dropout inside the encoder


@dataclass
class ModelConfig:
    encoder: str = "from_scratch"
    from_scratch: ScratchConfig = field(default_factory=ScratchConfig)
    normalisation: str = "auto"
    max_length: int = 256
    stride: int = 64
    max_subwords_per_word: int = 16
    dropout: float = 0.1
    trust_remote_code: bool = False
    word_features: str = ""  # "" or "lexical": cue/complementiser/quotation-mark features for small from-scratch encoders
    word_pooling: str = "first"  # "first": a word is its first piece's vector; "mean": the mean of its pieces' vectors
    crf: bool = False  # train a linear-chain CRF over each window's words (learned transitions, decoded at weight 1)
    freeze_embeddings: bool = False  # keep the (large) input embedding matrix fixed: much faster on CPU
    # decode weight of the label-bigram prior counted on the training data (see inference/decode.py):
    # null = tuned per layer on the dev split after training (0 without a dev split); 0 = off; > 0 = fixed
    transition_weight: float | None = None
    # decode weight of the name lexicon of the training data (entity layer; see inference/lexicon.py):
    # null = tuned on the dev split after training (the default; off without a dev split); 0 = off; > 0 = fixed
    lexicon_weight: float | None = None


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 5e-4
    head_learning_rate: float = 0.0  # 0: same as learning_rate; fresh heads on a pretrained encoder often want ~10x
    weight_decay: float = 0.01
    word_dropout: float = 0.0  # share of words shown to the model as unknown (ids -> UNK, hashes cleared) in training
    rare_word_dropout: float = 0.0  # the same for words seen at most twice in the training texts (names, mostly)
    warmup_ratio: float = 0.1
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    precision: str = "auto"
    early_stopping_patience: int = 3
    checkpoint_every_steps: int = 0
    max_steps: int = 0
    max_minutes: float = 0.0
    resume: bool = True
    log_every: int = 20
    eval_batch_size: int = 32
    num_threads: int = 0
    tensorboard: bool = False


@dataclass
class HubConfig:
    push_to_hub: bool = False
    repo_id: str | None = None
    private: bool = True


@dataclass
class Config:
    name: str = "araquote"
    output_dir: str = "runs/araquote"
    seed: int = 13
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    hub: HubConfig = field(default_factory=HubConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
FORMATS = ("jsonl", "conll", "aqmar")


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping, with clear errors for missing files and bad YAML."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {p}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(raw).__name__}")
    return raw


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and check a YAML config."""
    p = Path(path)
    raw = read_yaml_mapping(p)
    for item in overrides or []:
        apply_override(raw, item)
    cfg = from_dict(Config, raw, str(p))
    check(cfg, str(p))
    return cfg


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested dict."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def from_dict(cls: type, raw: Any, where: str, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``raw``, refusing unknown keys and wrong types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: '{path or 'top level'}' must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        import difflib

        k = unknown[0]
        close = difflib.get_close_matches(str(k), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key '{_join(path, k)}'{hint}; valid keys: {', '.join(names)}")
    kwargs = {k: _coerce(hints[k], v, where, _join(path, k)) for k, v in raw.items()}
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
    if required:
        raise ConfigError(f"{where}: '{path or 'top level'}' is missing required key(s) {', '.join(required)}")
    return cls(**kwargs)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _coerce(tp: Any, value: Any, where: str, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where, path)
    if origin is list:
        if not isinstance(value, list):
            value = [value] if isinstance(value, (str, dict)) else value
        if not isinstance(value, list):
            raise ConfigError(f"{where}: '{path}' must be a list, got {value!r}")
        return [_coerce(args[0], v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{path}' must be a mapping, got {value!r}")
        return {_coerce(args[0], k, where, path): _coerce(args[1], v, where, _join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if tp is DataSource and isinstance(value, str):
            value = {"path": value}
        return from_dict(tp, value, where, path)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: '{path}' must be {tp.__name__}, got {value!r} ({type(value).__name__})")
    return value


def check(cfg: Config, where: str) -> None:
    """Cross-field checks, with the valid range in every message."""
    m, t = cfg.model, cfg.train
    problems = []
    if not cfg.data.train:
        problems.append("data.train needs at least one source")
    for split in ("train", "dev", "test"):
        for i, src in enumerate(getattr(cfg.data, split)):
            if src.format not in FORMATS:
                problems.append(f"data.{split}[{i}].format must be one of {', '.join(FORMATS)}, got {src.format!r}")
            if src.portion is not None and not (len(src.portion) == 2 and 0 <= src.portion[0] < src.portion[1] <= 1):
                problems.append(f"data.{split}[{i}].portion must be [from, to] with 0 <= from < to <= 1, got {src.portion}")
            if src.layers is not None and (not src.layers or set(src.layers) - set(LAYERS) or len(set(src.layers)) != len(src.layers)):
                problems.append(f"data.{split}[{i}].layers must list some of {', '.join(LAYERS)} once each, got {src.layers}")
            if not 0 < src.weight < float("inf"):  # written so that NaN fails too
                problems.append(f"data.{split}[{i}].weight must be > 0 and finite, got {src.weight}")
    if m.max_length < 16 or m.max_length > 8192:
        problems.append(f"model.max_length must be in 16..8192, got {m.max_length}")
    if not 0 <= m.stride < m.max_length - 2:
        problems.append(f"model.stride must be >= 0 and < model.max_length - 2 ({m.max_length - 2}), got {m.stride}")
    if not 1 <= m.max_subwords_per_word <= m.max_length // 4:
        problems.append(f"model.max_subwords_per_word must be in 1..{m.max_length // 4}, got {m.max_subwords_per_word}")
    if m.word_pooling not in WORD_POOLING:
        problems.append(f"model.word_pooling must be one of {', '.join(repr(p) for p in WORD_POOLING)}, got {m.word_pooling!r}")
    if m.word_features not in FEATURE_SETS:
        problems.append(f"model.word_features must be one of {', '.join(repr(f) for f in FEATURE_SETS)}, got {m.word_features!r}")
    if m.transition_weight is not None and not 0 <= m.transition_weight <= 10:
        problems.append(f"model.transition_weight must be null (tune on dev) or in [0, 10], got {m.transition_weight}")
    if m.lexicon_weight is not None and not 0 <= m.lexicon_weight <= 20:
        problems.append(f"model.lexicon_weight must be null (tune on dev) or in [0, 20], got {m.lexicon_weight}")
    if not 0 <= m.dropout < 1:
        problems.append(f"model.dropout must be in [0, 1), got {m.dropout}")
    sc = m.from_scratch
    small = [name for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                               "max_position_embeddings") if getattr(sc, name) < 1]
    if small:
        problems.append(f"model.from_scratch.{', '.join(small)} must be >= 1")
    elif sc.hidden_size % sc.num_heads:
        problems.append(f"model.from_scratch.hidden_size ({sc.hidden_size}) must be divisible by num_heads ({sc.num_heads})")
    if m.encoder == "from_scratch" and sc.max_position_embeddings < m.max_length:
        problems.append("model.from_scratch.max_position_embeddings must be >= model.max_length")
    for name in ("epochs", "batch_size", "grad_accum", "eval_batch_size", "log_every"):
        if getattr(t, name) < 1:
            problems.append(f"train.{name} must be >= 1, got {getattr(t, name)}")
    if not 0 < t.learning_rate <= 1:  # written so that NaN fails too
        problems.append(f"train.learning_rate must be in (0, 1], got {t.learning_rate}")
    if not (0 <= t.word_dropout < 1 and 0 <= t.rare_word_dropout < 1):
        problems.append(f"train.word_dropout and train.rare_word_dropout must be in [0, 1), got {t.word_dropout}, {t.rare_word_dropout}")
    if not 0 <= t.head_learning_rate <= 1:
        problems.append(f"train.head_learning_rate must be in [0, 1] (0 = train.learning_rate), got {t.head_learning_rate}")
    if not 0 <= t.warmup_ratio < 1:
        problems.append(f"train.warmup_ratio must be in [0, 1), got {t.warmup_ratio}")
    if t.precision not in PRECISIONS:
        problems.append(f"train.precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}")
    if min(t.max_steps, t.checkpoint_every_steps, t.early_stopping_patience, t.num_threads) < 0 or not t.max_minutes >= 0:
        problems.append("train.max_steps, checkpoint_every_steps, early_stopping_patience, num_threads, max_minutes must be >= 0")
    if not 0 <= t.max_grad_norm < float("inf") or not 0 <= t.weight_decay < float("inf"):
        problems.append(f"train.max_grad_norm (0 = no clipping) and train.weight_decay must be >= 0 and finite, "
                        f"got {t.max_grad_norm} and {t.weight_decay}")
    if not 0 <= cfg.seed < 2**32:
        problems.append(f"seed must be in 0..{2**32 - 1}, got {cfg.seed}")
    if cfg.hub.push_to_hub and not cfg.hub.repo_id:
        problems.append("hub.push_to_hub needs hub.repo_id")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
