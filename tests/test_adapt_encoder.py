"""scripts/adapt_encoder.py: time-boxed masked-LM adaptation of an encoder, saved as a plain encoder directory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("adapt_encoder", ROOT / "scripts" / "adapt_encoder.py")
adapt_encoder = importlib.util.module_from_spec(spec)
spec.loader.exec_module(adapt_encoder)


@pytest.fixture()
def tiny_encoder(tmp_path, tiny_docs):
    from transformers import BertConfig, BertModel

    from araquote.training.scratch import train_wordpiece

    tok = train_wordpiece([d.text for d in tiny_docs], lambda w: w, vocab_size=200)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64)
    out = tmp_path / "enc"
    BertModel(cfg, add_pooling_layer=False).save_pretrained(out)
    tok.save_pretrained(out)
    text = tmp_path / "raw.txt"
    text.write_text("".join(d.text.replace("\n", " ") + "\n\n" for d in tiny_docs) * 3, encoding="utf-8")
    return out, text, tok


def test_adapts_and_saves_a_loadable_encoder(tmp_path, tiny_encoder):
    from transformers import AutoModel

    enc, text, _ = tiny_encoder
    out = tmp_path / "adapted"
    summary = adapt_encoder.adapt(adapt_encoder.parse_args(
        ["--encoder", str(enc), "--text", str(text), "--out", str(out), "--steps", "3", "--block", "24",
         "--batch-size", "2", "--lr", "1e-2", "--log-every", "1"]))
    assert summary["steps"] == 3 and summary["stopped_by"] == "steps" and summary["blocks"] > 2
    before, after = AutoModel.from_pretrained(enc), AutoModel.from_pretrained(out)
    emb = "embeddings.word_embeddings.weight"
    assert not torch.equal(before.state_dict()[emb], after.state_dict()[emb])  # it trained (tied output layer)
    assert (out / "tokenizer.json").is_file()
    assert json.loads((out / "adapt.json").read_text())["pieces_seen"] == 3 * 2 * 24
    log = [json.loads(line) for line in (out / "adapt_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(r["loss"] > 0 for r in log)


def test_too_little_text_is_an_error_naming_the_file(tmp_path, tiny_encoder):
    _, _, tok = tiny_encoder
    short = tmp_path / "short.txt"
    short.write_text("قال\n", encoding="utf-8")
    with pytest.raises(ValueError, match="short.txt"):
        adapt_encoder.read_blocks(tok, [str(short)], 64)


def test_masking_never_touches_special_tokens(tiny_encoder):
    _, _, tok = tiny_encoder
    batch = torch.tensor([[tok.cls_token_id] + [7] * 30 + [tok.sep_token_id]] * 8)
    special = torch.zeros(len(tok), dtype=torch.bool)
    special[tok.all_special_ids] = True
    inputs, labels = adapt_encoder.mask_batch(batch, special, len(tok), tok.mask_token_id, 0.5, torch.Generator().manual_seed(0))
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()
    chosen = labels != -100
    assert chosen.any() and (labels[chosen] == 7).all() and (inputs[~chosen] == batch[~chosen]).all()
    assert (inputs[chosen] == tok.mask_token_id).float().mean() > 0.5
