"""``train(config) -> metrics``: an accelerate loop over windowed two-layer features.

Layout of ``output_dir``::

    model/            best checkpoint (by dev F1), loadable with Tagger.from_pretrained
    checkpoint/       last training state (weights, optimiser, scheduler, RNG, step) for resume
    metrics.json      dev and test scores of the best model
    config.yaml       the resolved config
    train_log.jsonl   loss and dev scores as training goes

Checkpoints are written to a temporary directory and renamed into place, so an
interrupted run never leaves a half-written checkpoint to be picked up.
``accelerate launch -m araquote train CONFIG`` runs the same loop data-parallel.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from araquote.inference.decode import transition_pmi
from araquote.inference.lexicon import build_lexicon
from araquote.inference.model import ModelMeta, MultiLayerTokenClassifier, _replace_dir
from araquote.inference.schema import ENTITIES, Document, DocumentError
from araquote.inference.tagger import Tagger, cpu_has_bf16
from araquote.inference.text import get_normaliser, normaliser_for, split_words
from araquote.inference.windows import word_index

from .config import Config
from .corpus import collect_labels, load_source
from .features import IGNORE, Feature, build_features, word_dropout, word_tags
from .metrics import score
from .model_card import write_model_card
from .scratch import scratch_config, train_wordpiece


def load_split(cfg: Config, split: str) -> list[Document]:
    docs: list[Document] = []
    for src in getattr(cfg.data, split):
        docs.extend(load_source(src))
    return docs


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(cfg: Config, train_docs: Sequence[Document], labels: dict[str, list[str]]) -> tuple[MultiLayerTokenClassifier, Any]:
    """Encoder + heads and tokenizer: from scratch, or from a hub id / local directory."""
    m = cfg.model
    norm_name = normaliser_for(m.encoder, m.normalisation)
    meta = ModelMeta(
        labels=labels,
        normalisation=norm_name,
        max_length=m.max_length,
        stride=m.stride,
        max_subwords_per_word=m.max_subwords_per_word,
        word_features=m.word_features,
        word_pooling=m.word_pooling,
        crf=m.crf,
        encoder=m.encoder,
        training_config=cfg.to_dict(),
    )
    if m.encoder == "from_scratch":
        tokenizer = train_wordpiece((d.text for d in train_docs), get_normaliser(norm_name), m.from_scratch.vocab_size)
        model = MultiLayerTokenClassifier.from_encoder(scratch_config(m.from_scratch, len(tokenizer)), meta)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(m.encoder, use_fast=True, trust_remote_code=m.trust_remote_code)
        model = MultiLayerTokenClassifier.from_encoder(m.encoder, meta, trust_remote_code=m.trust_remote_code)
        limit = getattr(model.encoder.config, "max_position_embeddings", m.max_length)
        if m.max_length > limit:
            raise ValueError(f"model.max_length {m.max_length} exceeds the encoder's max_position_embeddings {limit}")
    return model, tokenizer


def make_batches(features: Sequence[Feature], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Deterministic length-bucketed batches: shuffle, sort within pools of 50 batches, shuffle batches."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda k: len(features[k].input_ids))
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(features: Sequence[Feature], layers: Sequence[str], pad_id: int) -> dict[str, Any]:
    """Dynamic padding to the longest window of the batch."""
    width = max(len(f.input_ids) for f in features)
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    labels = {layer: torch.full((len(features), width), IGNORE, dtype=torch.long) for layer in layers}
    for r, f in enumerate(features):
        n = len(f.input_ids)
        ids[r, :n] = torch.tensor(f.input_ids)
        mask[r, :n] = 1
        for layer in layers:
            labels[layer][r, :n] = torch.tensor(f.labels[layer])
    weights = torch.tensor([f.weight for f in features], dtype=torch.float32)
    index = torch.tensor([word_index(f.word_starts, len(f.input_ids), width) if f.word_starts is not None else list(range(width))
                          for f in features], dtype=torch.long)
    feature_ids = None
    if features[0].feature_ids is not None:
        from araquote.inference.wordfeatures import empty_feature_tensor

        feature_ids = empty_feature_tensor("lexical+hash" if isinstance(features[0].feature_ids[0], tuple) else "lexical",
                                           len(features), width)
        for r, f in enumerate(features):
            feature_ids[r, : len(f.input_ids)] = torch.tensor(f.feature_ids)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights, "feature_ids": feature_ids,
            "word_index": index}


def evaluate_docs(tagger: Tagger, gold: Sequence[Document]) -> dict[str, Any]:
    """Tag the gold texts and score them with the shared scorer."""
    pred = list(tagger.tag_documents((d.id, d.text) for d in gold))
    return score(gold, pred)


def headline_f1(report: dict[str, Any]) -> float:
    """Mean micro-F1 over the scored layers: the early-stopping criterion."""
    vals = [v["micro"]["f1"] for v in report.get("layers", {}).values()]
    return float(np.mean(vals)) if vals else 0.0


def _precision(requested: str) -> str:
    if requested != "auto":
        return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[requested]
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "no"


def train(cfg: Config, progress: bool = True) -> dict[str, Any]:
    """Train a two-layer model from ``cfg``; returns (and writes) the metrics of the best model."""
    from accelerate import Accelerator

    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    out = Path(cfg.output_dir)
    for src in cfg.data.train + cfg.data.dev + cfg.data.test:
        if not Path(src.path).exists():
            raise DocumentError(f"data file not found: {src.path}")
    _reset_accelerate_state()  # a second train() in one process (benchmarks) may use another precision
    accelerator = Accelerator(mixed_precision=_precision(cfg.train.precision), cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)
    train_docs, dev_docs, test_docs = (load_split(cfg, s) for s in ("train", "dev", "test"))
    labels = collect_labels(train_docs)
    if cfg.data.entity_labels is not None and "entities" in labels:
        labels["entities"] = list(cfg.data.entity_labels)
    state_dir = out / "checkpoint"
    resume = cfg.train.resume and (state_dir / "state.json").is_file()
    if resume:
        model = MultiLayerTokenClassifier.from_pretrained(state_dir)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(state_dir, use_fast=True)
        model.train()
    else:
        model, tokenizer = build_model(cfg, train_docs, labels)
    labels = model.meta.labels
    m = cfg.model
    if not model.meta.transitions:  # also fills a checkpoint resumed from an older araquote
        model.meta.transitions = transition_matrices(train_docs, model.meta)
    if not model.meta.lexicons:
        model.meta.lexicons = name_lexicons(train_docs, model.meta)
    model.dropout.p = m.dropout  # the head dropout is a training setting, not stored in the checkpoint
    if m.freeze_embeddings:
        for p in model.encoder.get_input_embeddings().parameters():
            p.requires_grad_(False)
    normalise = get_normaliser(model.meta.normalisation)
    tagger_ids = Tagger(model, tokenizer, device="cpu")  # only for special-token ids
    feats = build_features(train_docs, tokenizer, labels, normalise, m.max_length, m.stride, m.max_subwords_per_word,
                           tagger_ids.cls_id, tagger_ids.sep_id, model.meta.word_features)
    if not feats:
        raise ValueError("no training windows: the training data holds no text")
    model.train()
    steps_per_epoch = math.ceil(len(make_batches(feats, cfg.train.batch_size, cfg.seed, 0)) / (cfg.train.grad_accum * accelerator.num_processes))
    total = cfg.train.max_steps or steps_per_epoch * cfg.train.epochs
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.train.weight_decay, cfg.train.head_learning_rate),
                                  lr=cfg.train.learning_rate)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.train.warmup_ratio * total), total)
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best": -1.0, "bad_epochs": 0, "history": []}
    if resume:
        state = _load_state(state_dir, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    log = (out / "train_log.jsonl").open("a", encoding="utf-8")
    writer = _tensorboard(cfg, out)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else pad_id
    started = time.monotonic()
    bar = tqdm(total=total, initial=state["step"], disable=not progress or not accelerator.is_main_process, desc="train", unit="step")
    stop = False
    while state["epoch"] < cfg.train.epochs and not stop:
        batches = make_batches(feats, cfg.train.batch_size, cfg.seed, state["epoch"])
        batches = batches[accelerator.process_index :: accelerator.num_processes]
        for b in range(state["batch_in_epoch"], len(batches)):
            chosen = [feats[i] for i in batches[b]]
            batch = collate(chosen, list(labels), pad_id)
            if cfg.train.word_dropout or cfg.train.rare_word_dropout:  # seeded: a resumed run hides the same words
                word_dropout(batch, chosen, cfg.train.word_dropout, unk_id,
                             random.Random(cfg.seed * 1_000_003 + state["epoch"] * 100_003 + b), cfg.train.rare_word_dropout)
            batch = _to(batch, accelerator.device)
            loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"], batch["weights"],
                         batch["feature_ids"], batch["word_index"])["loss"] / cfg.train.grad_accum
            accelerator.backward(loss)
            state["batch_in_epoch"] = b + 1
            if (b + 1) % cfg.train.grad_accum and b + 1 < len(batches):
                continue
            if cfg.train.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            state["step"] += 1
            bar.update(1)
            if state["step"] % cfg.train.log_every == 0:
                entry = {"step": state["step"], "epoch": state["epoch"], "loss": round(loss.item() * cfg.train.grad_accum, 4), "lr": scheduler.get_last_lr()[0]}
                log.write(json.dumps(entry) + "\n")
                log.flush()
                bar.set_postfix(loss=entry["loss"])
                if writer:
                    writer.add_scalar("train/loss", entry["loss"], state["step"])
            if cfg.train.checkpoint_every_steps and state["step"] % cfg.train.checkpoint_every_steps == 0:
                _save_state(accelerator, model, tokenizer, optimizer, scheduler, state, state_dir)
            if (cfg.train.max_steps and state["step"] >= cfg.train.max_steps) or _out_of_time(cfg, started):
                stop = True
                break
        if not stop or state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
        if _end_of_epoch(accelerator, model, tokenizer, dev_docs, state, out, log, writer, cfg):
            stop = True
        _save_state(accelerator, model, tokenizer, optimizer, scheduler, state, state_dir)
    bar.close()
    log.close()
    if writer:
        writer.close()
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return {}
    return _final_metrics(cfg, out, dev_docs, test_docs, state, time.monotonic() - started, accelerator.unwrap_model(model).meta.transitions,
                          accelerator.unwrap_model(model).meta.lexicons)


def _reset_accelerate_state() -> None:
    try:
        from accelerate.state import AcceleratorState, GradientState
    except ImportError:  # pragma: no cover - accelerate is a [train] requirement
        return
    if AcceleratorState._shared_state and int(__import__("os").environ.get("WORLD_SIZE", "1")) == 1:
        AcceleratorState._reset_state(True)
        GradientState._reset_state()


def _param_groups(model: torch.nn.Module, weight_decay: float, head_lr: float = 0.0) -> list[dict[str, Any]]:
    """AdamW groups: no decay on biases and norms; the heads (and a late-fused feature table, see
    ``MultiLayerTokenClassifier.head_parameter_prefixes``) get their own learning rate when ``head_lr`` > 0."""
    prefixes_of = getattr(model, "head_parameter_prefixes", None)
    head_prefixes = prefixes_of() if callable(prefixes_of) else ("heads.",)
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decays = not (p.ndim < 2 or "norm" in name.lower())
        groups.setdefault((decays, head_lr > 0 and name.startswith(head_prefixes)), []).append(p)
    out: list[dict[str, Any]] = []
    for (decays, is_head), params in sorted(groups.items()):
        group: dict[str, Any] = {"params": params, "weight_decay": weight_decay if decays else 0.0}
        if is_head:
            group["lr"] = head_lr
        out.append(group)
    return out


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        "input_ids": batch["input_ids"].to(device),
        "attention_mask": batch["attention_mask"].to(device),
        "labels": {k: v.to(device) for k, v in batch["labels"].items()},
        "weights": batch["weights"].to(device),
        "feature_ids": None if batch["feature_ids"] is None else batch["feature_ids"].to(device),
        "word_index": batch["word_index"].to(device),
    }


def _out_of_time(cfg: Config, started: float) -> bool:
    return bool(cfg.train.max_minutes) and (time.monotonic() - started) / 60 >= cfg.train.max_minutes


def _end_of_epoch(accelerator: Any, model: Any, tokenizer: Any, dev_docs: Sequence[Document], state: dict[str, Any],
                  out: Path, log: Any, writer: Any, cfg: Config) -> bool:
    """Score dev, keep the best model, and say whether early stopping triggers."""
    if not accelerator.is_main_process:
        return False
    raw = accelerator.unwrap_model(model)
    per_layer: dict[str, float] = {}
    if dev_docs:
        raw.eval()
        report = evaluate_docs(Tagger(raw, tokenizer, device=str(accelerator.device)), dev_docs)
        raw.train()
        f1 = headline_f1(report)
        per_layer = {layer: v["micro"]["f1"] for layer, v in report.get("layers", {}).items()}
    else:
        f1 = float(state["epoch"])  # no dev set: keep the latest model
    entry = {"epoch": state["epoch"], "step": state["step"], "dev_f1": round(f1, 4), "dev_layers": per_layer}
    state["history"].append(entry)
    log.write(json.dumps(entry) + "\n")
    log.flush()
    if writer:
        writer.add_scalar("dev/f1", f1, state["step"])
    if f1 > state["best"]:
        state["best"], state["bad_epochs"] = f1, 0
        raw.save_pretrained(out / "model", tokenizer)
        return False
    state["bad_epochs"] += 1
    return bool(cfg.train.early_stopping_patience) and state["bad_epochs"] >= cfg.train.early_stopping_patience


def _save_state(accelerator: Any, model: Any, tokenizer: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], state_dir: Path) -> None:
    """Write weights + optimiser + scheduler + RNG + counters atomically (tmp dir, then rename)."""
    if not accelerator.is_main_process:
        return
    raw = accelerator.unwrap_model(model)
    raw.save_pretrained(state_dir.with_name("checkpoint.model-tmp"), tokenizer)
    tmp = Path(tempfile.mkdtemp(prefix=".checkpoint.tmp-", dir=state_dir.parent))
    for f in state_dir.with_name("checkpoint.model-tmp").iterdir():
        os.replace(f, tmp / f.name)
    state_dir.with_name("checkpoint.model-tmp").rmdir()
    opt = _flatten_optimizer(optimizer.state_dict())
    save_file(opt["tensors"], str(tmp / "optimizer.safetensors"))
    rng = {"torch": torch.get_rng_state()}
    save_file(rng, str(tmp / "rng.safetensors"))
    payload = {**state, "optimizer_meta": opt["meta"], "scheduler": scheduler.state_dict(), "python_rng": _py_rng(), "numpy_rng": _np_rng()}
    (tmp / "state.json").write_text(json.dumps(payload), encoding="utf-8")
    _replace_dir(tmp, state_dir)


def _load_state(state_dir: Path, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    payload = json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
    tensors = load_file(str(state_dir / "optimizer.safetensors"))
    optimizer.load_state_dict(_unflatten_optimizer(payload.pop("optimizer_meta"), tensors))
    scheduler.load_state_dict(payload.pop("scheduler"))
    torch.set_rng_state(load_file(str(state_dir / "rng.safetensors"))["torch"])
    random.setstate(_tuplify(payload.pop("python_rng")))
    np_state = payload.pop("numpy_rng")
    np.random.set_state((np_state[0], np.array(np_state[1], dtype=np.uint32), *np_state[2:]))
    return payload


def _flatten_optimizer(sd: dict[str, Any]) -> dict[str, Any]:
    """Optimiser state as safetensors tensors + JSON metadata (no pickle)."""
    tensors: dict[str, torch.Tensor] = {}
    meta_state: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        meta_state[str(pid)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
                meta_state[str(pid)][k] = "__tensor__"
            else:
                meta_state[str(pid)][k] = v
    return {"tensors": tensors, "meta": {"state": meta_state, "param_groups": sd["param_groups"]}}


def _unflatten_optimizer(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state = {}
    for pid, st in meta["state"].items():
        state[int(pid)] = {k: (tensors[f"{pid}.{k}"] if v == "__tensor__" else v) for k, v in st.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def _py_rng() -> list[Any]:
    st = random.getstate()
    return [st[0], list(st[1]), st[2]]


def _tuplify(st: list[Any]) -> tuple[Any, ...]:
    return (st[0], tuple(st[1]), st[2])


def _np_rng() -> list[Any]:
    st = np.random.get_state()
    return [st[0], st[1].tolist(), int(st[2]), int(st[3]), float(st[4])]


def _tensorboard(cfg: Config, out: Path) -> Any:
    if not cfg.train.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ValueError("train.tensorboard: true needs the 'tensorboard' package (pip install tensorboard)") from exc
    return SummaryWriter(str(out / "tensorboard"))


TRANSITION_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)


def transition_matrices(docs: Sequence[Document], meta: ModelMeta) -> dict[str, list[list[float]]]:
    """Per layer, the label-bigram PMI of the training documents' word-level BIO tags."""
    words = [split_words(d.text) for d in docs]
    return {
        layer: [[round(float(x), 4) for x in row]
                for row in transition_pmi((word_tags(d, w, layer) for d, w in zip(docs, words)), meta.tags(layer))]
        for layer in meta.labels
    }


def name_lexicons(docs: Sequence[Document], meta: ModelMeta) -> dict[str, list[list[Any]]]:
    """The entity layer's name lexicon of the training documents (see inference/lexicon.py); {} without that layer."""
    if ENTITIES not in meta.labels:
        return {}
    words = [split_words(d.text) for d in docs]
    return {ENTITIES: build_lexicon(([w.text for w in ws], word_tags(d, ws, ENTITIES)) for d, ws in zip(docs, words))}


LEXICON_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0)


def tune_decode_weights(tagger: Tagger, dev_docs: Sequence[Document], setting: str,
                        grid: Sequence[float]) -> dict[str, dict[str, float]]:
    """Dev micro-F1 per layer for each weight in ``grid`` of one decode ``setting`` (``transition_weights``: every
    layer; ``lexicon_weights``: the layers with a name lexicon), the other setting as the tagger has it; one
    forward pass over dev."""
    layers = list(tagger.lexicons) if setting == "lexicon_weights" else list(tagger.layers)
    cached = list(tagger.word_probabilities((d.id, d.text) for d in dev_docs))
    table: dict[str, dict[str, float]] = {layer: {} for layer in layers}
    for w in grid:
        weights = {setting: {layer: w for layer in layers}}
        pred = [tagger.decode(i, t, words, probs, **weights) for i, t, words, probs in cached]  # type: ignore[arg-type]
        report = score(dev_docs, pred)
        for layer in layers:
            if layer in report.get("layers", {}):
                table[layer][str(w)] = round(float(report["layers"][layer]["micro"]["f1"]), 4)
    return table


def _best(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """The best dev F1 per layer; ties go to the smaller weight."""
    return {layer: float(max(row, key=lambda w: (row[w], -float(w)))) for layer, row in table.items() if row}


def _decide(tagger: Tagger, dev_docs: Sequence[Document], setting: str, fixed: float | None, layers: Sequence[str],
            grid: Sequence[float], off: str) -> dict[str, Any]:
    """One decode setting's weights: fixed by the config, off without a dev split, else the best on dev."""
    if fixed is not None or not dev_docs:
        chosen = {layer: float(fixed or 0.0) for layer in layers}
        return {"chosen": chosen, "how": "fixed in the config" if fixed is not None else off}
    table = tune_decode_weights(tagger, dev_docs, setting, grid)
    return {"chosen": _best(table), "how": "tuned on dev", "dev_f1": table}


def _choose_weights(cfg: Config, tagger: Tagger, dev_docs: Sequence[Document], metrics: dict[str, Any]) -> None:
    meta = tagger.meta
    fixed = cfg.model.transition_weight
    if fixed is None and not dev_docs and meta.crf:
        chosen = {layer: 1.0 for layer in meta.labels}
        metrics["transition_weights"] = {"chosen": chosen, "how": "CRF: the learned transitions at weight 1 (no dev split)"}
    else:
        metrics["transition_weights"] = _decide(tagger, dev_docs, "transition_weights", fixed, list(meta.labels),
                                                TRANSITION_GRID, "no dev split: prior off")
    tagger.set_transition_weights(metrics["transition_weights"]["chosen"])
    if tagger.lexicons:  # tuned after the prior, with the prior's chosen weights
        metrics["lexicon_weights"] = _decide(tagger, dev_docs, "lexicon_weights", cfg.model.lexicon_weight,
                                             list(tagger.lexicons), LEXICON_GRID, "no dev split: lexicon off")
        tagger.set_lexicon_weights(metrics["lexicon_weights"]["chosen"])


def _final_metrics(cfg: Config, out: Path, dev_docs: Sequence[Document], test_docs: Sequence[Document],
                   state: dict[str, Any], seconds: float, transitions: dict[str, list[list[float]]],
                   lexicons: dict[str, list[list[Any]]] | None = None) -> dict[str, Any]:
    tagger = Tagger.from_pretrained(out / "model", device="auto")
    if not tagger.meta.transitions:  # a best model saved by an older araquote before a resume
        tagger.meta.transitions = transitions
    if not tagger.meta.lexicons and lexicons:
        tagger.set_lexicons(lexicons)
    metrics: dict[str, Any] = {"name": cfg.name, "train_seconds": round(seconds, 1), "steps": state["step"],
                               "epochs": state["epoch"], "history": state["history"]}
    _choose_weights(cfg, tagger, dev_docs, metrics)
    if dev_docs:
        metrics["dev"] = evaluate_docs(tagger, dev_docs)
    if test_docs:
        metrics["test"] = evaluate_docs(tagger, test_docs)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    model = tagger.model
    model.meta.metrics = {k: metrics[k] for k in ("dev", "test") if k in metrics}
    meta_path = out / "model" / "araquote.json"
    meta_path.write_text(json.dumps(asdict(model.meta), ensure_ascii=False, indent=2), encoding="utf-8")
    write_model_card(out / "model", model.meta, cfg)
    if cfg.hub.push_to_hub:
        _push(cfg, out / "model")
    return metrics


def _push(cfg: Config, model_dir: Path) -> None:
    """Upload the checkpoint folder to the hub (needs network and a token)."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(cfg.hub.repo_id, private=cfg.hub.private, exist_ok=True)
    api.upload_folder(folder_path=str(model_dir), repo_id=cfg.hub.repo_id)


def tune_lexicon(model_dir: str | Path, cfg: Config, grid: Sequence[float] = LEXICON_GRID, rebuild: bool = False,
                 write: bool = False) -> dict[str, Any]:
    """Give a checkpoint the name lexicon of ``cfg``'s training split and pick its weight on ``cfg``'s dev split.

    For a checkpoint trained before araquote stored lexicons (or with ``rebuild``): the entries are built from
    the training documents of ``cfg`` (the ones the model was trained on). With ``write``, the entries and the
    chosen weight go into the checkpoint's ``araquote.json``. Returns the dev table and the choice.
    """
    from .config import ConfigError

    model_dir = Path(model_dir)
    dev_docs = load_split(cfg, "dev")
    if not dev_docs:
        raise ConfigError(f"{cfg.name}: tuning the lexicon weight needs a dev split (data.dev is empty)")
    tagger = Tagger.from_pretrained(model_dir, device="auto")
    if rebuild or not tagger.lexicons:
        tagger.set_lexicons(name_lexicons(load_split(cfg, "train"), tagger.meta))
    if not tagger.lexicons:
        raise ConfigError(f"{model_dir}: the model has no entity layer, so no name lexicon to tune")
    table = tune_decode_weights(tagger, dev_docs, "lexicon_weights", grid)
    chosen = _best(table)
    result = {"model": str(model_dir), "entries": {layer: len(lex) for layer, lex in tagger.lexicons.items()},
              "dev_documents": len(dev_docs), "dev_f1": table, "chosen": chosen, "written": write}
    if write:
        tagger.set_lexicon_weights(chosen)
        meta_path = model_dir / "araquote.json"
        meta_path.write_text(json.dumps(asdict(tagger.meta), ensure_ascii=False, indent=2), encoding="utf-8")
    return result
