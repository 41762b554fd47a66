"""The whole path: train (tiny, overfit) -> save -> load -> tag reproduces gold spans of both layers."""

import json

import pytest

from araquote.inference.model import CheckpointError, MultiLayerTokenClassifier
from araquote.inference.tagger import Tagger
from araquote.training.metrics import score

from .conftest import read_json


def _spans(doc, layer):
    return sorted((s.start, s.end, s.label) for s in doc.spans if s.layer == layer)


def test_overfit_then_reload_reproduces_gold(trained_tiny, tiny_docs):
    tagger = Tagger.from_pretrained(trained_tiny / "model", device="cpu")
    preds = tagger.tag([d.text for d in tiny_docs])
    for gold, pred in zip(tiny_docs, preds):
        for layer in ("attribution", "entities"):
            assert _spans(pred, layer) == _spans(gold, layer)
        for s in pred.spans:
            assert pred.text[s.start : s.end].strip() == pred.text[s.start : s.end]
            assert 0.0 < s.score <= 1.0
    # the records are linked as in the gold (implicit continuation included)
    pred0 = preds[0]
    assert [(q.kind, q.implicit_speaker) for q in pred0.quotes] == [(q.kind, q.implicit_speaker) for q in tiny_docs[0].quotes]


def test_checkpoint_describes_itself(trained_tiny):
    meta = read_json(trained_tiny / "model" / "araquote.json")
    assert meta["labels"] == {"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PER", "ORG", "LOC", "MISC"]}
    assert meta["training_config"]["name"] == "tiny" and meta["version"]
    assert (trained_tiny / "model" / "model.safetensors").is_file()
    assert not list((trained_tiny / "model").glob("*.bin"))
    assert (trained_tiny / "model" / "README.md").read_text(encoding="utf-8").startswith("---")
    metrics = read_json(trained_tiny / "metrics.json")
    assert metrics["test"]["layers"]["entities"]["micro"]["f1"] == 1.0
    assert set(metrics["test"]["quotes"]) >= {"exact", "overlap", "speaker_accuracy", "records"}


def test_save_load_roundtrip_is_exact(trained_tiny, tmp_path):
    model = MultiLayerTokenClassifier.from_pretrained(trained_tiny / "model")
    model.save_pretrained(tmp_path / "copy")
    again = MultiLayerTokenClassifier.from_pretrained(tmp_path / "copy")
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_truncated_checkpoint_gives_clear_error(trained_tiny, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_tiny / "model", bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        MultiLayerTokenClassifier.from_pretrained(bad)
    (bad / "model.safetensors").unlink()
    (bad / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match="only safetensors"):
        MultiLayerTokenClassifier.from_pretrained(bad)


def test_scorer_gives_perfect_scores_on_gold(tiny_docs):
    rep = score(tiny_docs, tiny_docs)
    assert rep["layers"]["attribution"]["micro"]["f1"] == 1.0
    assert rep["quotes"]["records"]["overlap_0.8"]["f1"] == 1.0
    assert rep["quotes"]["speaker_accuracy"] == 1.0
    json.dumps(rep)


def test_scoring_never_edits_the_documents(tiny_docs):
    """The scorer names speakers on copies: gold and predictions (session fixtures here) stay as they were."""
    import copy

    docs = copy.deepcopy(tiny_docs)
    assert any(q.speaker is not None and q.speaker_name is None for d in docs for q in d.quotes)
    score(docs, copy.deepcopy(docs))
    assert docs == tiny_docs


def test_transition_prior_is_counted_tuned_and_kept(trained_tiny, tiny_docs):
    meta = read_json(trained_tiny / "model" / "araquote.json")
    for layer in ("attribution", "entities"):
        n = 1 + 2 * len(meta["labels"][layer])
        assert len(meta["transitions"][layer]) == n and all(len(row) == n for row in meta["transitions"][layer])
    metrics = read_json(trained_tiny / "metrics.json")
    tw = metrics["transition_weights"]
    assert tw["how"] == "tuned on dev" and set(tw["dev_f1"]) == {"attribution", "entities"}
    assert meta["transition_weights"] == tw["chosen"]
    # decoding from cached probabilities equals tagging, for the checkpoint's weights and for overrides
    tagger = Tagger.from_pretrained(trained_tiny / "model", device="cpu")
    cached = list(tagger.word_probabilities((d.id, d.text) for d in tiny_docs))
    tagged = tagger.tag([d.text for d in tiny_docs])
    for (doc_id, text, words, probs), doc in zip(cached, tagged):
        again = tagger.decode(doc_id, text, words, probs)
        assert [(s.start, s.end, s.layer, s.label) for s in again.spans] == [(s.start, s.end, s.layer, s.label) for s in doc.spans]
        off = tagger.decode(doc_id, text, words, probs, transition_weights={"attribution": 0.0, "entities": 0.0})
        assert off.text == text
