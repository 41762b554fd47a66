"""The offline default encoder: a small BERT with a WordPiece vocab learned on the training texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, PreTrainedTokenizerFast

from araquote.inference.text import split_words

from .config import ScratchConfig

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_PIECE = 8


def wordpiece_vocab(texts: Iterable[str], normalise: Callable[[str], str], vocab_size: int) -> dict[str, int]:
    """A deterministic WordPiece vocabulary learned from the words of ``texts``.

    (The ``tokenizers`` trainer breaks frequency ties in hash order, so two runs
    give two vocabularies and a resumed run would not match an uninterrupted one.)
    Every character seen is a piece (initial and ``##`` continuation); the rest
    of the budget goes to whole words, word prefixes and ``##`` inner pieces
    ranked by frequency x length, ties broken alphabetically.
    """
    freq: Counter[str] = Counter()
    for text in texts:
        freq.update(normalise(w.text) for w in split_words(text))
    chars = sorted({c for w in freq for c in w})
    base = SPECIALS + chars + [f"##{c}" for c in chars]
    score: Counter[str] = Counter()
    for word, f in freq.items():
        n = len(word)
        if n > 1:
            score[word] += f * n
        for j in range(2, min(n, MAX_PIECE) + 1):
            if j < n:
                score[word[:j]] += f * j
        for i in range(1, n):
            for j in range(i + 2, min(n, i + MAX_PIECE) + 1):
                score[f"##{word[i:j]}"] += f * (j - i)
    seen = set(base)
    ranked = [p for p, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0])) if p not in seen]
    pieces = base + ranked[: max(0, vocab_size - len(base))]
    return {p: i for i, p in enumerate(pieces)}


def train_wordpiece(texts: Iterable[str], normalise: Callable[[str], str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A fast WordPiece tokenizer over a vocabulary learned on ``texts`` (as the model will see them)."""
    vocab = wordpiece_vocab(texts, normalise, vocab_size)
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )


def scratch_config(cfg: ScratchConfig, vocab_size: int) -> BertConfig:
    """BertConfig for the from-scratch encoder."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )
