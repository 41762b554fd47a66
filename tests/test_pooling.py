"""``model.word_pooling: mean``: a word is the mean of its pieces' vectors, in training and at inference."""

import pytest
import torch

from araquote.inference.model import CheckpointError, ModelMeta, MultiLayerTokenClassifier, pool_words
from araquote.inference.tagger import Tagger
from araquote.inference.windows import word_index
from araquote.training.config import ConfigError, load_config

from .conftest import read_json, tiny_config_yaml


def test_word_index_points_every_piece_at_its_word_start():
    # [CLS] w0a w0b w1 w2a w2b w2c [SEP] pad pad
    assert word_index([1, 3, 4], 8, 10) == [0, 1, 1, 3, 4, 4, 4, 7, 8, 9]
    assert word_index([], 2) == [0, 1]


def test_pool_words_averages_the_pieces_of_a_word():
    hidden = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    index = torch.tensor([[0, 1, 1, 1, 4, 5], [0, 1, 2, 2, 4, 5]])
    out = pool_words(hidden, index)
    assert torch.allclose(out[0, 1], hidden[0, 1:4].mean(0))
    assert torch.allclose(out[1, 2], hidden[1, 2:4].mean(0))
    for r, c in [(0, 0), (0, 4), (0, 5), (1, 0), (1, 1), (1, 5)]:  # one-piece words and specials are unchanged
        assert torch.equal(out[r, c], hidden[r, c])
    assert not out[0, 2].any() and not out[1, 3].any()  # a later piece carries no label: zeros


def _tiny_model(pooling: str) -> MultiLayerTokenClassifier:
    from transformers import BertConfig

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    meta = ModelMeta(labels={"entities": ["PER"]}, word_pooling=pooling)
    return MultiLayerTokenClassifier.from_encoder(cfg, meta).eval()


def test_a_later_piece_changes_the_word_only_with_mean_pooling():
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    changed = torch.tensor([[2, 10, 11, 40, 3]])  # the third piece of the word starting at 1
    mask = torch.ones_like(ids)
    index = torch.tensor([word_index([1], 5)])
    first, mean = _tiny_model("first"), _tiny_model("mean")
    mean.load_state_dict(first.state_dict())  # same weights: only the pooling differs
    with torch.no_grad():
        # attention lets a later piece reach the first one in both, but mean pooling also adds it directly
        a = first(ids, mask)["logits"]["entities"][0, 1] - first(changed, mask)["logits"]["entities"][0, 1]
        b = mean(ids, mask, word_index=index)["logits"]["entities"][0, 1] - mean(changed, mask, word_index=index)["logits"]["entities"][0, 1]
        assert not torch.allclose(a, b)
        with pytest.raises(ValueError, match="word_index"):
            mean(ids, mask)


def test_bad_pooling_is_rejected_in_config_and_checkpoint(tmp_path, tiny_corpus, trained_tiny):
    text = tiny_config_yaml(tiny_corpus, tmp_path / "run").replace("  dropout: 0.0\n", "  dropout: 0.0\n  word_pooling: max\n")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="word_pooling"):
        load_config(tmp_path / "c.yaml")
    import shutil

    bad = tmp_path / "ckpt"
    shutil.copytree(trained_tiny / "model", bad)
    meta = read_json(bad / "araquote.json")
    assert meta["word_pooling"] == "first"
    meta["word_pooling"] = "max"
    import json

    (bad / "araquote.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match="word_pooling"):
        MultiLayerTokenClassifier.from_pretrained(bad)


def test_mean_pooling_overfits_then_reloads(tmp_path, tiny_corpus, tiny_docs):
    from araquote.training.train import train

    text = tiny_config_yaml(tiny_corpus, tmp_path / "run").replace("  dropout: 0.0\n", "  dropout: 0.0\n  word_pooling: mean\n")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    train(load_config(tmp_path / "c.yaml"), progress=False)
    assert read_json(tmp_path / "run" / "model" / "araquote.json")["word_pooling"] == "mean"
    assert read_json(tmp_path / "run" / "metrics.json")["test"]["layers"]["entities"]["micro"]["f1"] == 1.0
    tagger = Tagger.from_pretrained(tmp_path / "run" / "model", device="cpu")
    assert tagger.model.meta.word_pooling == "mean"
    for gold, pred in zip(tiny_docs, tagger.tag([d.text for d in tiny_docs])):
        for layer in ("attribution", "entities"):
            got = sorted((s.start, s.end, s.label) for s in pred.spans if s.layer == layer)
            assert got == sorted((s.start, s.end, s.label) for s in gold.spans if s.layer == layer)
