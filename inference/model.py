"""One encoder + one token-classification head per annotation layer.

A checkpoint directory holds (safetensors only, no pickle):

* ``config.json``: the encoder's transformers config;
* ``araquote.json``: labels per layer, normalisation, window settings, package
  version and the resolved training config (the checkpoint describes itself);
* ``model.safetensors``: encoder and head weights;
* the tokenizer files.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig

from araquote import __version__

from .schema import ATTRIBUTION, AraquoteError, bio_labels

META_FILE = "araquote.json"
WEIGHTS_FILE = "model.safetensors"
WORD_POOLING = ("first", "mean")


class CheckpointError(AraquoteError):
    """A checkpoint directory is missing, incomplete, tampered with or unsafe."""


@dataclass
class ModelMeta:
    """What inference needs to know about a checkpoint, saved beside the weights."""

    labels: dict[str, list[str]]
    normalisation: str = "none"
    max_length: int = 512
    stride: int = 128
    max_subwords_per_word: int = 16
    word_features: str = ""  # "" (none), "lexical" or "lexical+hash": see wordfeatures.py
    word_pooling: str = "first"  # a word's vector for the heads: its first piece's, or the mean of its pieces'
    # trained with a linear-chain CRF over the words of each window (tag-transition scores learned with the
    # encoder); the learned matrix is stored in ``transitions`` and decoded like the prior, at weight 1
    crf: bool = False
    encoder: str = ""
    version: str = __version__
    training_config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # per layer: label-bigram PMI matrix over tags(layer) from the training data, and its decode weight
    # (tuned on dev after training; 0 or absent = plain constrained decode). See decode.py.
    transitions: dict[str, list[list[float]]] = field(default_factory=dict)
    transition_weights: dict[str, float] = field(default_factory=dict)
    # per layer: the name lexicon of the training data ([key, label, labelled, seen] entries, see lexicon.py) and
    # its decode weight (0 or absent = off; tuned on dev when the config says model.lexicon_weight: null)
    lexicons: dict[str, list[list[Any]]] = field(default_factory=dict)
    lexicon_weights: dict[str, float] = field(default_factory=dict)

    def transition_scores(self, layer: str, weight: float | None = None) -> np.ndarray | None:
        """``weight x PMI`` for ``layer`` (weight from the checkpoint unless given); None when unused."""
        w = self.transition_weights.get(layer, 0.0) if weight is None else weight
        if not w or layer not in self.transitions:
            return None
        matrix = np.asarray(self.transitions[layer], dtype=np.float64)
        n = len(self.tags(layer))
        if matrix.shape != (n, n):
            raise CheckpointError(f"transition matrix of layer {layer!r} has shape {matrix.shape}, expected {(n, n)}")
        return w * matrix

    def tags(self, layer: str) -> list[str]:
        """BIO tags of a layer, index = class id."""
        return bio_labels(self.labels[layer])

    @classmethod
    def from_dict(cls, obj: dict[str, Any], path: str) -> ModelMeta:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(obj) - known
        if unknown or "labels" not in obj:
            raise CheckpointError(f"{path}: malformed {META_FILE} (unknown keys {sorted(unknown)}, needs 'labels')")
        if obj.get("word_pooling", "first") not in WORD_POOLING:
            raise CheckpointError(f"{path}: word_pooling must be one of {WORD_POOLING}, got {obj['word_pooling']!r}")
        return cls(**obj)


class MultiLayerTokenClassifier(nn.Module):
    """Shared encoder with a linear BIO head per layer; logits for all layers in one forward pass."""

    encoder: Any  # a transformers PreTrainedModel (typed loosely: nn.Module attribute lookup confuses mypy)

    def __init__(self, encoder: Any, meta: ModelMeta, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.meta = meta
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({layer: nn.Linear(hidden, len(meta.tags(layer))) for layer in meta.labels})
        self.feature_embed: nn.Embedding | None = None
        if meta.word_features:
            from .wordfeatures import N_FEATURES

            self.feature_embed = nn.Embedding(N_FEATURES + 1, hidden)
            nn.init.normal_(self.feature_embed.weight, std=0.02)
        self.hash_embed: nn.Embedding | None = None
        if "hash" in meta.word_features:
            from .wordfeatures import HASH_BUCKETS

            self.hash_embed = nn.Embedding(HASH_BUCKETS, hidden, padding_idx=0)
            nn.init.normal_(self.hash_embed.weight, std=0.02)
            with torch.no_grad():
                self.hash_embed.weight[0].zero_()
        self.crf: nn.ParameterDict | None = None
        if meta.crf:
            self.crf = nn.ParameterDict({layer: nn.Parameter(torch.zeros(len(meta.tags(layer)), len(meta.tags(layer))))
                                         for layer in meta.labels})

    def head_parameter_prefixes(self) -> tuple[str, ...]:
        """Names (prefixes) of the fresh parameters that feed only the heads, never the encoder.

        The heads, the CRF transitions, and with ``lexical+entity-hash`` the hashed-identity table fused after the
        encoder; training gives them ``train.head_learning_rate``. Tables added to the encoder's
        input embeddings stay with the encoder's rate.
        """
        late = ("hash_embed.",) if self.hash_embed is not None and self.meta.word_features == "lexical+entity-hash" else ()
        return ("heads.", "crf.", *late)

    @property
    def config(self) -> PretrainedConfig:
        config: PretrainedConfig = self.encoder.config
        return config

    @classmethod
    def from_encoder(cls, encoder_name_or_config: str | PretrainedConfig, meta: ModelMeta, **kwargs: Any) -> MultiLayerTokenClassifier:
        """New heads on a pretrained encoder (hub id or local dir) or on a fresh config."""
        if isinstance(encoder_name_or_config, PretrainedConfig):
            encoder = AutoModel.from_config(encoder_name_or_config, add_pooling_layer=False)
        else:
            encoder = AutoModel.from_pretrained(encoder_name_or_config, add_pooling_layer=False, **kwargs)
        return cls(encoder, meta)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: dict[str, torch.Tensor] | None = None,
        weights: torch.Tensor | None = None,
        feature_ids: torch.Tensor | None = None,
        word_index: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """Logits per layer; with ``labels`` (-100 = ignored) also the loss.

        With ``word_pooling: mean`` the vector at a word's first piece (where its label sits)
        is the mean of the encoder's vectors of all its pieces; ``word_index`` (see
        :func:`~araquote.inference.windows.word_index`) says which pieces belong together.

        The loss is the sum over layers of the (example-``weights``-weighted) mean
        token cross-entropy; a layer with no labelled token in the batch adds nothing.
        With ``meta.crf`` it is instead the linear-chain CRF negative log-likelihood of each
        window's labelled words (emissions: the log-softmax of the logits; transitions:
        ``self.crf``), per labelled word; with zero transitions it equals the cross-entropy.
        """
        late: torch.Tensor | None = None
        if self.feature_embed is not None:
            if feature_ids is None:
                raise ValueError("this model uses word features: pass feature_ids")
            embeds = self.encoder.get_input_embeddings()(input_ids)
            if self.hash_embed is not None:
                embeds = embeds + self.feature_embed(feature_ids[..., 0])
                hashed = self.hash_embed(feature_ids[..., 1:]).sum(-2)
                if self.meta.word_features == "lexical+hash":
                    embeds = embeds + hashed
                else:  # "lexical+entity-hash": only the non-attribution heads see the hashed identities
                    late = self.dropout(hashed)
            else:
                embeds = embeds + self.feature_embed(feature_ids)
            hidden = self.encoder(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
        else:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.meta.word_pooling == "mean":
            if word_index is None:
                raise ValueError("this model pools the pieces of each word: pass word_index")
            hidden = pool_words(hidden, word_index)
        hidden = self.dropout(hidden)
        logits = {layer: head(hidden if late is None or layer == ATTRIBUTION else hidden + late)
                  for layer, head in self.heads.items()}
        out: dict[str, Any] = {"logits": logits}
        if labels is not None:
            loss = hidden.new_zeros((), dtype=torch.float32)
            for layer, target in labels.items():
                valid = target != -100
                if valid.any() and self.crf is not None:
                    nll, words = crf_nll(logits[layer].float(), target, self.crf[layer].float())
                    w = torch.ones_like(nll) if weights is None else weights.float()
                    loss = loss + (nll * w).sum() / (words * w).sum().clamp_min(1e-6)
                elif valid.any():
                    layer_logits = logits[layer].float()
                    token_loss = nn.functional.cross_entropy(
                        layer_logits.view(-1, layer_logits.size(-1)), target.view(-1), ignore_index=-100, reduction="none"
                    ).view(target.shape)
                    w = valid.float() if weights is None else valid.float() * weights.float()[:, None]
                    loss = loss + (token_loss * w).sum() / w.sum().clamp_min(1e-6)
            out["loss"] = loss
        return out

    def save_pretrained(self, directory: str | os.PathLike[str], tokenizer: Any = None) -> None:
        """Write config, meta, weights (and tokenizer) atomically: a half-written dir is never visible."""
        final = Path(directory)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        self.encoder.config.save_pretrained(tmp)
        if self.crf is not None:  # the learned transitions are what the decode reads
            self.meta.transitions = {layer: p.detach().float().cpu().tolist() for layer, p in self.crf.items()}
        (tmp / META_FILE).write_text(json.dumps(asdict(self.meta), ensure_ascii=False, indent=2), encoding="utf-8")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "araquote": __version__})
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        _replace_dir(tmp, final)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], trust_remote_code: bool = False) -> MultiLayerTokenClassifier:
        """Load a checkpoint written by :meth:`save_pretrained` (safetensors only)."""
        path = Path(directory)
        meta = load_meta(path)
        try:
            config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot read encoder config.json: {exc}") from None
        encoder = AutoModel.from_config(config, add_pooling_layer=False, trust_remote_code=trust_remote_code)
        model = cls(encoder, meta)
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            raise CheckpointError(f"{path}: no {WEIGHTS_FILE} (only safetensors checkpoints are loaded, never pickle)")
        try:
            state = load_file(str(weights))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{weights}: truncated or corrupt safetensors file: {exc}") from None
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise CheckpointError(
                f"{weights}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
            )
        model.eval()
        return model


def crf_nll(logits: torch.Tensor, target: torch.Tensor, transitions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row linear-chain CRF negative log-likelihood over the labelled positions of each row.

    ``logits`` (B, T, K), ``target`` (B, T) with -100 where a position carries no label, ``transitions``
    (K, K): score of tag i followed by tag j. A row's labelled positions, in order, form its sequence.
    Returns the NLL per row (0 for a row with no label) and the number of labelled positions per row.
    """
    valid = target != -100
    words = valid.sum(1)
    length = int(words.max())
    emissions = torch.log_softmax(logits, dim=-1)
    # pack each row's labelled positions to the left: position k of the row's sequence
    order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices[:, :length]
    em = emissions.gather(1, order[..., None].expand(-1, -1, emissions.size(-1)))
    tags = target.gather(1, order).clamp_min(0)
    mask = torch.arange(length, device=target.device)[None, :] < words[:, None]
    gold = (em.gather(2, tags[..., None]).squeeze(-1) * mask).sum(1)
    gold = gold + (transitions[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]).sum(1)
    alpha = em[:, 0]
    for t in range(1, length):
        step = torch.logsumexp(alpha[:, :, None] + transitions[None], dim=1) + em[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    log_z = torch.logsumexp(alpha, dim=-1)
    return torch.where(words > 0, log_z - gold, torch.zeros_like(gold)), words.float()


def pool_words(hidden: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Mean of the vectors that share a ``word_index`` target, written at that target.

    Positions that are not a target (a word's later pieces) get zeros: no label sits there.
    """
    index = word_index.unsqueeze(-1).expand_as(hidden)
    summed = torch.zeros_like(hidden).scatter_add_(1, index, hidden)
    counts = torch.zeros(word_index.shape, dtype=hidden.dtype, device=hidden.device)
    counts.scatter_add_(1, word_index, torch.ones_like(word_index, dtype=hidden.dtype))
    return summed / counts.clamp_min(1).unsqueeze(-1)


def load_meta(path: Path) -> ModelMeta:
    """Read ``araquote.json`` of a checkpoint with a clear error when it is absent or broken."""
    meta_path = path / META_FILE
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint directory")
    if not meta_path.is_file():
        raise CheckpointError(f"{path}: no {META_FILE}; is this an araquote checkpoint?")
    try:
        obj = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{meta_path}: must hold a JSON object")
    return ModelMeta.from_dict(obj, str(meta_path))


def _replace_dir(tmp: Path, final: Path) -> None:
    """Swap ``tmp`` into place as ``final`` (rename is atomic on one filesystem)."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        _rmtree(old)
    else:
        os.replace(tmp, final)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
