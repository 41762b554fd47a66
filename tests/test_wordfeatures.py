"""Word features for small from-scratch encoders: lexical classes and hashed word identities."""

import pytest

from araquote.inference.tagger import Tagger
from araquote.inference.text import split_words
from araquote.inference.windows import encode_documents, make_windows
from araquote.inference.wordfeatures import (
    HASH_BUCKETS,
    HASH_FIELDS,
    SPECIAL_FEATURE,
    hash_features,
    stem,
    word_features,
)
from araquote.training.config import load_config
from araquote.training.train import train

from .conftest import tiny_config_yaml


def test_stem_strips_one_clitic_group_only_when_a_word_remains():
    assert stem("وبالرياض") == "رياض"
    assert stem("لاوكرانيا") == "اوكرانيا"
    assert stem("والي") == "الي"  # the article would leave one letter, so only و goes
    assert stem("بر") == "بر"


def test_hash_features_are_stable_spelling_insensitive_and_share_stems():
    a = hash_features("الرياض")
    assert a == hash_features("الرياض") and all(0 < x < HASH_BUCKETS for x in a)
    assert hash_features("وبالرياض")[1:] == a[1:]  # same stem, prefix, suffix; different full form
    assert hash_features("وبالرياض")[0] != a[0]
    assert hash_features("الأمم") == hash_features("الامم")  # alef forms fold
    assert hash_features("2024") == hash_features("١٩٩٠")  # digits share one shape id, no stem fields
    assert hash_features("2024")[1:] == (0,) * (HASH_FIELDS - 1)
    assert hash_features("قم")[2:4] == (0, 0)  # too short for affixes


def test_word_list_field_marks_given_names_and_places_with_clitics():
    given, place, none = (hash_features(w)[4] for w in ("وياسين", "لأوكرانيا", "الخطة"))
    assert len({given, place}) == 2 and none == 0
    assert hash_features("بالقاهرة")[4] == place  # the article stays part of the place name
    assert hash_features("الأمين")[4] == 0 and hash_features("أمين")[4] == 0  # a title, not a name
    assert hash_features("زهرة")[4] == given


def test_feature_rows_follow_subwords_and_specials(tiny_docs):
    from araquote.training.scratch import train_wordpiece

    tok = train_wordpiece([d.text for d in tiny_docs], lambda w: w, vocab_size=200)
    text = tiny_docs[0].text
    rows = word_features("lexical+hash", text, split_words(text))
    assert rows is not None and all(len(r) == 1 + HASH_FIELDS for r in rows)
    enc = encode_documents([text], tok, lambda w: w, 16, "lexical+hash")[0]
    win = make_windows(0, enc, 32, 8, tok.cls_token_id, tok.sep_token_id)
    for w in win:
        assert w.feature_ids is not None and len(w.feature_ids) == len(w.input_ids)
        assert w.feature_ids[0] == w.feature_ids[-1] == (SPECIAL_FEATURE,) + (0,) * HASH_FIELDS


def test_unknown_feature_set_is_refused(tmp_path, tiny_corpus):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "run").replace("  dropout: 0.0", "  dropout: 0.0\n  word_features: hashes"),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="lexical\\+hash"):
        load_config(cfg)


@pytest.mark.parametrize("feature_set", ["lexical+hash", "lexical+entity-hash"])
def test_overfit_with_hash_features_then_reload(tmp_path, tiny_corpus, tiny_docs, feature_set):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "run", epochs=60)
                   .replace("  dropout: 0.0", f"  dropout: 0.0\n  word_features: {feature_set}"), encoding="utf-8")
    train(load_config(cfg), progress=False)
    tagger = Tagger.from_pretrained(tmp_path / "run" / "model", device="cpu")
    assert tagger.meta.word_features == feature_set
    assert tagger.model.hash_embed is not None and tagger.model.hash_embed.weight.shape[0] == HASH_BUCKETS
    for gold, pred in zip(tiny_docs, tagger.tag([d.text for d in tiny_docs])):
        for layer in ("attribution", "entities"):
            assert sorted((s.start, s.end, s.label) for s in pred.spans if s.layer == layer) == \
                sorted((s.start, s.end, s.label) for s in gold.spans if s.layer == layer)


def test_word_dropout_hides_whole_words_and_keeps_labels(tiny_docs):
    import random

    from araquote.training.features import build_features, word_dropout
    from araquote.training.scratch import train_wordpiece
    from araquote.training.train import collate

    tok = train_wordpiece([d.text for d in tiny_docs], lambda w: w, vocab_size=200)
    labels = {"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PER", "ORG", "LOC", "MISC"]}
    feats = build_features(tiny_docs, tok, labels, lambda w: w, 64, 16, 16, tok.cls_token_id, tok.sep_token_id,
                           "lexical+hash")
    batch = collate(feats, list(labels), tok.pad_token_id)
    before = {k: v.clone() for k, v in batch.items() if k in ("input_ids", "feature_ids")}
    gold = {k: v.clone() for k, v in batch["labels"].items()}
    assert word_dropout(batch, feats, 0.0, tok.unk_token_id, random.Random(1)) == 0
    n = word_dropout(batch, feats, 0.5, tok.unk_token_id, random.Random(1))
    ids, fids = batch["input_ids"], batch["feature_ids"]
    changed = (ids != before["input_ids"])
    assert n > 0 and changed.any()
    assert (ids[changed] == tok.unk_token_id).all()
    assert (fids[..., 1:][changed] == 0).all() and (fids[..., 0] == before["feature_ids"][..., 0]).all()
    assert all((batch["labels"][k] == gold[k]).all() for k in gold)  # labels never change
    for r, f in enumerate(feats):  # a hidden word loses all its pieces; [CLS]/[SEP] never move
        assert ids[r, 0] == tok.cls_token_id and ids[r, len(f.input_ids) - 1] == tok.sep_token_id
        starts = f.word_starts + [len(f.input_ids) - 1]
        for a, b in zip(starts, starts[1:]):
            assert changed[r, a:b].all() or not changed[r, a:b].any()
    again = collate(feats, list(labels), tok.pad_token_id)
    word_dropout(again, feats, 0.5, tok.unk_token_id, random.Random(1))
    assert (again["input_ids"] == ids).all()  # the same seed hides the same words (exact resume)


def test_head_learning_rate_gives_the_heads_their_own_group():
    from transformers import BertConfig

    from araquote.inference.model import ModelMeta, MultiLayerTokenClassifier
    from araquote.training.train import _param_groups

    meta = ModelMeta(labels={"entities": ["PER"]}, max_length=32, stride=8, encoder="x")
    model = MultiLayerTokenClassifier.from_encoder(
        BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32), meta)
    plain = _param_groups(model, 0.01)
    assert all("lr" not in g for g in plain)
    groups = _param_groups(model, 0.01, head_lr=1e-3)
    heads = {id(p) for p in model.heads.parameters()}
    with_lr = [g for g in groups if "lr" in g]
    assert with_lr and all(g["lr"] == 1e-3 for g in with_lr)
    assert {id(p) for g in with_lr for p in g["params"]} == heads
    assert sum(len(g["params"]) for g in groups) == sum(len(g["params"]) for g in plain)


@pytest.mark.parametrize("feature_set, late", [("lexical+entity-hash", True), ("lexical+hash", False), ("lexical", False)])
def test_head_learning_rate_covers_a_late_fused_hash_table(feature_set, late):
    from transformers import BertConfig

    from araquote.inference.model import ModelMeta, MultiLayerTokenClassifier
    from araquote.training.train import _param_groups

    meta = ModelMeta(labels={"entities": ["PER"]}, max_length=32, stride=8, encoder="x", word_features=feature_set)
    model = MultiLayerTokenClassifier.from_encoder(
        BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32), meta)
    fast = {id(p) for g in _param_groups(model, 0.01, head_lr=1e-3) if "lr" in g for p in g["params"]}
    assert {id(p) for p in model.heads.parameters()} <= fast
    assert id(model.feature_embed.weight) not in fast  # feeds the encoder's input: the encoder's rate
    if model.hash_embed is not None:
        assert (id(model.hash_embed.weight) in fast) is late
    assert late == ("lexical+entity-hash" == feature_set)


def test_rare_word_dropout_hides_only_rare_words(tiny_docs):
    import random

    from araquote.training.features import build_features, word_dropout
    from araquote.training.scratch import train_wordpiece
    from araquote.training.train import collate

    tok = train_wordpiece([d.text for d in tiny_docs], lambda w: w, vocab_size=200)
    labels = {"entities": ["PER", "ORG", "LOC", "MISC"]}
    feats = build_features(tiny_docs, tok, labels, lambda w: w, 64, 16, 16, tok.cls_token_id, tok.sep_token_id)
    assert all(f.rare is not None and len(f.rare) == len(f.word_starts) for f in feats)
    flags = [x for f in feats for x in f.rare]
    assert any(flags) and not all(flags)  # "في" and "،" are frequent, most names are not
    batch = collate(feats, list(labels), tok.pad_token_id)
    before = batch["input_ids"].clone()
    word_dropout(batch, feats, 0.0, tok.unk_token_id, random.Random(3), p_rare=0.999)
    for r, f in enumerate(feats):
        for k, start in enumerate(f.word_starts):
            assert (batch["input_ids"][r, start] != before[r, start]).item() == f.rare[k]
