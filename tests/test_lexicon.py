"""The name lexicon: built from training tags, matched longest-first, a decode-time bonus; stored and tuned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from araquote.inference.decode import decode_spans
from araquote.inference.lexicon import NameLexicon, build_lexicon, lexicon_key, proclitic_variants
from araquote.inference.schema import bio_labels
from araquote.inference.tagger import Tagger
from araquote.inference.text import split_words

TAGS = bio_labels(["PER", "ORG", "LOC", "MISC"])


def _seq(text: str, tags: str) -> tuple[list[str], list[str]]:
    words, labels = text.split(), tags.split()
    assert len(words) == len(labels)
    return words, labels


def test_build_counts_labelled_and_seen_and_folds_spelling() -> None:
    docs = [
        _seq("زار أحمد سالم القاهرة أمس", "O B-PER I-PER B-LOC O"),
        _seq("قال احمد سالم إن جامعة القاهرة", "O B-PER I-PER O B-ORG I-ORG"),
        _seq("الأمل كبير و الأمل باق", "O O O B-MISC O"),
    ]
    entries = {(e[0], e[1]): (e[2], e[3]) for e in build_lexicon(docs)}
    assert entries[(lexicon_key(["أحمد", "سالم"]), "PER")] == (2, 2)  # أحمد and احمد fold to one key
    assert entries[("القاهره", "LOC")] == (1, 2)  # once a LOC, once inside an ORG: seen twice
    assert entries[("جامعه القاهره", "ORG")] == (1, 1)
    # a name 1 time in 2 appearances: reliability 1/3, kept at the default threshold (0.25), dropped at 0.5
    assert entries[("الامل", "MISC")] == (1, 2)
    assert ("الامل", "MISC") not in {(e[0], e[1]) for e in build_lexicon(docs, min_reliability=0.5)}


def test_build_keeps_the_majority_label_and_drops_unreliable_keys() -> None:
    docs = [_seq("النيل", "B-LOC")] * 3 + [_seq("النيل", "B-ORG")] + [_seq("امس و امس و امس و امس", "B-MISC O O O O O O")]
    entries = build_lexicon(docs)
    assert ["النيل", "LOC", 3, 4] in entries
    assert not [e for e in entries if e[0] == "امس"]  # labelled 1 of 4 appearances: 1/5 < 0.25
    assert build_lexicon(docs) == entries  # deterministic order
    with pytest.raises(ValueError, match="3 words but 2 tags"):
        build_lexicon([(["a", "b", "c"], ["O", "O"])])


def test_longest_match_first_and_no_overlap() -> None:
    lex = NameLexicon([["جامعه القاهره", "ORG", 4, 4], ["القاهره", "LOC", 9, 9], ["سالم", "PER", 1, 1]], TAGS)
    words = "درس في جامعة القاهرة ثم زار القاهرة".split()
    found = [(a, b, TAGS[bi][2:], round(r, 3)) for a, b, bi, _, r in lex.matches(words)]
    assert found == [(2, 4, "ORG", 0.8), (6, 7, "LOC", 0.9)]
    bonus = lex.bonus(words, 2.0)
    assert bonus is not None and bonus.shape == (7, len(TAGS))
    assert bonus[2, TAGS.index("B-ORG")] == pytest.approx(1.6) and bonus[3, TAGS.index("I-ORG")] == pytest.approx(1.6)
    assert bonus[3, TAGS.index("B-LOC")] == 0  # the inner LOC is not matched inside the longer ORG
    assert lex.bonus(words, 0.0) is None and lex.bonus(["لا", "شيء"], 2.0) is None


def test_proclitic_forms_of_a_stored_name_match_the_whole_written_word() -> None:
    assert proclitic_variants("والبنك") == ["البنك"]
    assert proclitic_variants("للبنك") == ["البنك", "لبنك"]  # ل + ال is written لل
    assert proclitic_variants("وللبنك") == ["البنك", "لبنك", "للبنك"]
    assert proclitic_variants("وبغداد") == ["غداد", "بغداد"]
    assert proclitic_variants("بيت") == [] and proclitic_variants("سالم") == []  # too short / no proclitic
    lex = NameLexicon([["البنك التجاري", "ORG", 3, 3], ["بغداد", "LOC", 5, 5], ["وليد", "PER", 2, 2]], TAGS)
    words = "قال رئيس للبنك التجاري إن فرع والبنك التجاري في وبغداد مغلق ووليد".split()
    found = [(a, b, TAGS[bi][2:]) for a, b, bi, _, _ in lex.matches(words)]
    assert found == [(2, 4, "ORG"), (6, 8, "ORG"), (9, 10, "LOC"), (11, 12, "PER")]
    # a word stored as written wins over its stripped form: وليد is a name, not و + ليد
    assert [m[:2] for m in NameLexicon([["ليد", "LOC", 1, 1], ["وليد", "PER", 1, 1]], TAGS).matches(["وليد"])] == [(0, 1)]
    assert TAGS[NameLexicon([["ليد", "LOC", 1, 1], ["وليد", "PER", 1, 1]], TAGS).matches(["وليد"])[0][2]] == "B-PER"
    bonus = lex.bonus(words, 1.0)
    assert bonus is not None and bonus[2, TAGS.index("B-ORG")] == pytest.approx(0.75)
    assert bonus[3, TAGS.index("I-ORG")] == pytest.approx(0.75)


def test_bad_entries_are_refused_with_the_labels() -> None:
    with pytest.raises(ValueError, match="label 'DATE' is not one of the layer's labels"):
        NameLexicon([["امس", "DATE", 1, 1]], TAGS)
    with pytest.raises(ValueError, match="expected \\[key, label, labelled, seen\\]"):
        NameLexicon([["امس", "PER"]], TAGS)


def test_bonus_joins_a_name_the_model_split() -> None:
    # the model half-tags a two-word name: B-ORG then B-PER; the lexicon knows the pair as one ORG
    probs = np.full((3, len(TAGS)), 0.01)
    probs[0, TAGS.index("B-ORG")] = 0.6
    probs[1, TAGS.index("B-PER")] = 0.5
    probs[1, TAGS.index("I-ORG")] = 0.3
    probs[2, TAGS.index("O")] = 0.9
    probs /= probs.sum(axis=1, keepdims=True)
    assert [s[:3] for s in decode_spans(probs, TAGS)] == [(0, 1, "ORG"), (1, 2, "PER")]
    lex = NameLexicon([["الهلال الاحمر", "ORG", 5, 5]], TAGS)
    bonus = lex.bonus(["الهلال", "الأحمر", "امس"], 1.0)
    spans = decode_spans(probs, TAGS, bonus=bonus)
    assert [s[:3] for s in spans] == [(0, 2, "ORG")]
    assert spans[0][3] == pytest.approx((probs[0, TAGS.index("B-ORG")] + probs[1, TAGS.index("I-ORG")]) / 2)
    with pytest.raises(ValueError, match="decode bonus of shape"):
        decode_spans(probs, TAGS, bonus=np.zeros((2, len(TAGS))))


def test_training_stores_the_lexicon_and_decode_uses_its_weight(trained_tiny: Path) -> None:
    meta = json.loads((trained_tiny / "model" / "araquote.json").read_text(encoding="utf-8"))
    keys = {(e[0], e[1]) for e in meta["lexicons"]["entities"]}
    assert {(lexicon_key(["أحمد", "سالم"]), "PER"), ("غزه", "LOC"), ("الهلال الاحمر", "ORG")} <= keys
    assert "attribution" not in meta["lexicons"]  # quotes are not names
    metrics = json.loads((trained_tiny / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["lexicon_weights"]["how"] == "tuned on dev"  # the default (null) with a dev split

    tagger = Tagger.from_pretrained(trained_tiny / "model", device="cpu")
    text = "وصل أحمد سالم أمس"
    words = split_words(text)
    flat = {layer: np.tile(np.eye(len(tagger.tags[layer]))[0] * 0.9 + 0.1 / len(tagger.tags[layer]), (len(words), 1))
            for layer in tagger.layers}  # every word: O with 0.9
    assert tagger.decode("d", text, words, flat, lexicon_weights={"entities": 0.0}).spans == []
    doc = tagger.decode("d", text, words, flat, lexicon_weights={"entities": 20.0})
    assert [(s.layer, s.label, text[s.start:s.end]) for s in doc.spans] == [("entities", "PER", "أحمد سالم")]
    tagger.set_lexicon_weights({"entities": 20.0})  # the checkpoint's own weight, as a saved one would carry
    assert [s.label for s in tagger.decode("d", text, words, flat).spans] == ["PER"]


def test_lexicon_command_tunes_and_writes_on_a_copy(trained_tiny: Path, tiny_corpus: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from araquote.cli import main

    from .conftest import tiny_config_yaml

    model = tmp_path / "model"
    shutil.copytree(trained_tiny / "model", model)  # never edit the session's fixture
    meta = json.loads((model / "araquote.json").read_text(encoding="utf-8"))
    meta["lexicons"] = {}  # as a checkpoint from before lexicons
    (model / "araquote.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "unused"), encoding="utf-8")
    assert main(["lexicon", str(model), "--config", str(cfg), "--grid", "0,1,2", "--write"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["dev_f1"]["entities"]) == {"0.0", "1.0", "2.0"} and out["written"] is True
    assert out["entries"]["entities"] > 3 and out["dev_documents"] == 2
    saved = json.loads((model / "araquote.json").read_text(encoding="utf-8"))
    assert saved["lexicon_weights"] == out["chosen"] and len(saved["lexicons"]["entities"]) == out["entries"]["entities"]
    assert Tagger.from_pretrained(model, device="cpu").lexicons["entities"].table  # loads back


def test_lexicon_weight_is_validated(tmp_path: Path, tiny_corpus: Path) -> None:
    from araquote.training.config import ConfigError, load_config

    from .conftest import tiny_config_yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "run"), encoding="utf-8")
    assert load_config(cfg).model.lexicon_weight is None
    assert load_config(cfg, ["model.lexicon_weight=0"]).model.lexicon_weight == 0.0
    with pytest.raises(ConfigError, match="model.lexicon_weight must be null \\(tune on dev\\) or in \\[0, 20\\]"):
        load_config(cfg, ["model.lexicon_weight=-1"])


def test_model_card_names_the_lexicon_and_its_weight(tmp_path: Path) -> None:
    from araquote.inference.model import ModelMeta
    from araquote.training.config import Config, DataSource
    from araquote.training.model_card import write_model_card

    meta = ModelMeta(labels={"entities": ["PER"]}, lexicons={"entities": [["سالم", "PER", 1, 1], ["منى", "PER", 2, 2]]})
    cfg = Config()
    cfg.data.train = [DataSource(path="train.jsonl")]
    write_model_card(tmp_path, meta, cfg)
    assert "name lexicon" not in (tmp_path / "README.md").read_text(encoding="utf-8")  # weight 0: not used
    meta.lexicon_weights = {"entities": 10.0}
    write_model_card(tmp_path, meta, cfg)
    assert "the name lexicon of the training data (2 entities names, weight 10)" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_training_tunes_the_lexicon_weight_on_dev_by_default(tmp_path: Path, tiny_corpus: Path) -> None:
    from araquote.training.config import load_config
    from araquote.training.train import LEXICON_GRID, train

    from .conftest import tiny_config_yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "run", epochs=2), encoding="utf-8")
    metrics = train(load_config(cfg), progress=False)  # null is the default
    lex = metrics["lexicon_weights"]
    assert lex["how"] == "tuned on dev" and list(lex["dev_f1"]["entities"]) == [str(w) for w in LEXICON_GRID]
    assert metrics["transition_weights"]["how"] == "tuned on dev"  # the prior is tuned first, as before
    saved = json.loads((tmp_path / "run" / "model" / "araquote.json").read_text(encoding="utf-8"))
    assert saved["lexicon_weights"] == lex["chosen"] and saved["lexicons"]["entities"]
