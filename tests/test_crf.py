"""model.crf: the linear-chain CRF loss (checked against brute force) and its training/decoding path."""

import itertools

import torch

from araquote.inference.model import crf_nll
from araquote.inference.tagger import Tagger
from araquote.training.config import load_config

from .conftest import read_json, tiny_config_yaml


def _brute_force_nll(logits: torch.Tensor, tags: list[int], transitions: torch.Tensor) -> float:
    em = torch.log_softmax(logits, dim=-1)
    n, k = em.shape

    def score(path: tuple[int, ...]) -> torch.Tensor:
        return sum(em[i, t] for i, t in enumerate(path)) + sum(transitions[a, b] for a, b in zip(path, path[1:]))

    log_z = torch.logsumexp(torch.stack([score(p) for p in itertools.product(range(k), repeat=n)]), dim=0)
    return float(log_z - score(tuple(tags)))


def test_crf_nll_matches_brute_force_over_labelled_positions_only():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 3)
    transitions = torch.randn(3, 3)
    # row 0: labels at positions 0, 2, 3 (1, 4, 5 are pieces/specials); row 1: positions 1, 2, 3, 4
    target = torch.tensor([[2, -100, 0, 1, -100, -100], [-100, 1, 1, 0, 2, -100]])
    nll, words = crf_nll(logits, target, transitions)
    assert words.tolist() == [3.0, 4.0]
    expected0 = _brute_force_nll(logits[0, [0, 2, 3]], [2, 0, 1], transitions)
    expected1 = _brute_force_nll(logits[1, [1, 2, 3, 4]], [1, 1, 0, 2], transitions)
    assert torch.allclose(nll, torch.tensor([expected0, expected1]), atol=1e-5)


def test_crf_nll_with_zero_transitions_is_the_cross_entropy_and_empty_rows_add_nothing():
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 4)
    target = torch.tensor([[0, 3, -100, 1, 2], [-100] * 5, [2, -100, -100, -100, 0]])
    nll, words = crf_nll(logits, target, torch.zeros(4, 4))
    ce = torch.nn.functional.cross_entropy(logits.view(-1, 4), target.view(-1), ignore_index=-100, reduction="none")
    assert torch.allclose(nll, ce.view(3, 5).sum(1), atol=1e-5)
    assert nll[1] == 0 and words.tolist() == [4.0, 0.0, 2.0]


def test_crf_gradient_reaches_transitions_and_logits():
    logits = torch.randn(1, 4, 3, requires_grad=True)
    transitions = torch.zeros(3, 3, requires_grad=True)
    nll, _ = crf_nll(logits, torch.tensor([[0, 1, 1, 2]]), transitions)
    nll.sum().backward()
    assert transitions.grad is not None and transitions.grad.abs().sum() > 0 and logits.grad.abs().sum() > 0


def test_crf_overfits_then_reloads_with_learned_transitions(tmp_path, tiny_corpus, tiny_docs):
    from araquote.training.train import train

    text = tiny_config_yaml(tiny_corpus, tmp_path / "run").replace("  dropout: 0.0\n", "  dropout: 0.0\n  crf: true\n")
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("dev:"))  # no dev split
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    train(load_config(tmp_path / "c.yaml"), progress=False)
    meta = read_json(tmp_path / "run" / "model" / "araquote.json")
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert meta["crf"] is True
    assert metrics["transition_weights"]["chosen"] == {"attribution": 1.0, "entities": 1.0}
    assert metrics["transition_weights"]["how"].startswith("CRF")
    assert metrics["test"]["layers"]["entities"]["micro"]["f1"] == 1.0
    tagger = Tagger.from_pretrained(tmp_path / "run" / "model", device="cpu")
    learned = tagger.model.crf["entities"].detach()
    assert learned.abs().max() > 0.01  # the transitions were trained, not left at zero
    assert torch.allclose(torch.tensor(meta["transitions"]["entities"]), learned, atol=1e-6)  # what the decode reads
    for gold, pred in zip(tiny_docs, tagger.tag([d.text for d in tiny_docs])):
        for layer in ("attribution", "entities"):
            got = sorted((s.start, s.end, s.label) for s in pred.spans if s.layer == layer)
            assert got == sorted((s.start, s.end, s.label) for s in gold.spans if s.layer == layer)
