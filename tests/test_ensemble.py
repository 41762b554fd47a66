"""``EnsembleTagger`` (averaged word probabilities) and ensemble systems in ``araquote benchmark``."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
import yaml

from araquote.inference.ensemble import EnsembleTagger
from araquote.inference.model import CheckpointError
from araquote.inference.tagger import Tagger
from araquote.training import benchmark as bm
from araquote.training.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def tagger(trained_tiny: Path) -> Tagger:
    return Tagger.from_pretrained(trained_tiny / "model", device="cpu", batch_size=4)


def _perturbed(tagger: Tagger) -> Tagger:
    """Another member: same checkpoint, head weights changed, so its probabilities differ."""
    model = copy.deepcopy(tagger.model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for head in model.heads.values():
            head.weight.add_(torch.randn(head.weight.shape, generator=gen) * 0.5)
    return Tagger(model, tagger.tokenizer, device="cpu", batch_size=2)


def test_ensemble_of_one_model_twice_tags_like_the_model(tagger: Tagger, trained_tiny: Path, tiny_docs) -> None:
    ens = EnsembleTagger.from_pretrained([trained_tiny / "model"] * 2, device="cpu", batch_size=4)
    items = [(d.id, d.text) for d in tiny_docs]
    alone = [[(s.start, s.end, s.layer, s.label) for s in d.spans] for d in tagger.tag_documents(items)]
    both = [[(s.start, s.end, s.layer, s.label) for s in d.spans] for d in ens.tag_documents(items)]
    assert both == alone and any(alone)
    assert ens.tag(tiny_docs[0].text).text == tiny_docs[0].text


def test_ensemble_averages_the_members_word_probabilities(tagger: Tagger, tiny_docs) -> None:
    other = _perturbed(tagger)
    items = [(d.id, d.text) for d in tiny_docs]
    ens = EnsembleTagger([tagger, other])
    got = list(ens.word_probabilities(items, chunk_docs=1))  # chunking does not change the result
    for (doc_id, _, words, probs), a, b in zip(got, tagger.word_probabilities(items), other.word_probabilities(items)):
        assert doc_id == a[0] and [w.start for w in words] == [w.start for w in a[2]]
        for layer in tagger.layers:
            assert not np.allclose(a[3][layer], b[3][layer])
            np.testing.assert_allclose(probs[layer], (a[3][layer] + b[3][layer]) / 2, rtol=1e-6)
            np.testing.assert_allclose(probs[layer].sum(axis=1), 1.0, rtol=1e-5)
    assert len(got) == len(tiny_docs)


def test_members_with_other_labels_are_refused(tagger: Tagger) -> None:
    other = _perturbed(tagger)
    other.meta = copy.deepcopy(other.meta)
    other.meta.labels = {**other.meta.labels, "entities": ["PER"]}
    with pytest.raises(CheckpointError, match="member 2 has labels"):
        EnsembleTagger([tagger, other])
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleTagger([])


def _reusable_run(spec: bm.SystemSpec, seed: int, out: Path, model: Path, secs: float) -> None:
    """A finished run folder the benchmark reuses: the config it would train with, metrics, a model."""
    run_dir = out / "runs" / spec.name / f"seed-{seed}"
    cfg = bm._training_config(spec, seed, run_dir, None)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps({"train_seconds": secs, "steps": 10}), encoding="utf-8")
    shutil.copytree(model, run_dir / "model")


def test_benchmark_ensemble_system_combines_every_seed(tmp_path: Path, tiny_corpus: Path, trained_tiny: Path) -> None:
    from .conftest import tiny_config_yaml

    (tmp_path / "t.yaml").write_text(tiny_config_yaml(tiny_corpus, tmp_path / "ignored"), encoding="utf-8")
    out = tmp_path / "out"
    base = bm.SystemSpec(name="base", train=str(tmp_path / "t.yaml"))
    for seed, secs in ((5, 10.0), (6, 12.5)):
        _reusable_run(base, seed, out, trained_tiny / "model", secs)
    cfg = tmp_path / "b.yaml"
    cfg.write_text(f"""name: ens
seeds: [5, 6]
device: cpu
systems:
  - {{name: base, train: {tmp_path / 't.yaml'}}}
  - {{name: both, ensemble: base, description: two seeds averaged}}
suites:
  - {{name: gold, data: [{tiny_corpus / 'test.jsonl'}], systems: [both]}}
""", encoding="utf-8")
    report = bm.run_benchmark(str(cfg), out=str(out), command="test", progress=False)
    jsonschema.validate(report, json.loads((ROOT / "benchmarks" / "report.schema.json").read_text(encoding="utf-8")),
                        cls=jsonschema.Draft202012Validator)
    system = next(s for s in report["systems"] if s["name"] == "both")
    assert system["kind"] == "ensemble" and system["encoder"] == "from_scratch"
    (run,) = system["runs"]
    assert run["members"] == [str(out / "runs" / "base" / f"seed-{s}" / "model") for s in (5, 6)]
    assert run["train_seconds"] == 22.5 and run["steps"] == 20 and run["reused"] is True
    (entry,) = report["suites"][0]["results"]
    assert entry["status"] == "ok" and entry["seeds"] == [None] and entry["summary"]["entities.micro_f1"]["mean"] > 0
    assert entry["runs"][0]["model_dir"] == " + ".join(run["members"])  # not shown as the rules
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| both | ensemble |" in md and "mean of the word probabilities of 2 model(s)" in md
    assert "`rules`" not in md


def test_ensemble_must_name_a_trained_system(tmp_path: Path) -> None:
    cfg = tmp_path / "b.yaml"
    cfg.write_text("""name: x
systems: [{name: r, rules: true}, {name: e, ensemble: r}, {name: f, ensemble: ghost}, {name: g, ensemble: [t, t]},
          {name: t, train: t.yaml}]
suites: [{name: s, data: [a.jsonl], systems: [e]}]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        bm.load_benchmark_config(cfg)
    assert "ensemble must name systems with 'train', got 'r'" in str(exc.value)
    assert "got 'ghost'" in str(exc.value)
    assert "(g): ensemble names a system twice: ['t', 't']" in str(exc.value)


def test_benchmark_ensemble_of_several_systems(tmp_path: Path, tiny_corpus: Path, trained_tiny: Path) -> None:
    """``ensemble: [a, b]`` pools the models of every seed of both systems (a mixed ensemble)."""
    from .conftest import tiny_config_yaml

    (tmp_path / "t.yaml").write_text(tiny_config_yaml(tiny_corpus, tmp_path / "ignored"), encoding="utf-8")
    out = tmp_path / "out"
    for name, secs in (("a", 10.0), ("b", 30.0)):
        _reusable_run(bm.SystemSpec(name=name, train=str(tmp_path / "t.yaml")), 5, out, trained_tiny / "model", secs)
    cfg = tmp_path / "b.yaml"
    cfg.write_text(f"""name: ens
seeds: [5]
device: cpu
systems:
  - {{name: a, train: {tmp_path / 't.yaml'}}}
  - {{name: b, train: {tmp_path / 't.yaml'}}}
  - {{name: ab, ensemble: [a, b]}}
suites:
  - {{name: gold, data: [{tiny_corpus / 'test.jsonl'}], systems: [a, ab]}}
""", encoding="utf-8")
    report = bm.run_benchmark(str(cfg), out=str(out), command="test", progress=False)
    jsonschema.validate(report, json.loads((ROOT / "benchmarks" / "report.schema.json").read_text(encoding="utf-8")),
                        cls=jsonschema.Draft202012Validator)
    system = next(s for s in report["systems"] if s["name"] == "ab")
    (run,) = system["runs"]
    assert run["members"] == [str(out / "runs" / n / "seed-5" / "model") for n in ("a", "b")]
    assert run["train_seconds"] == 40.0 and system["encoder"] == "from_scratch"
    assert [s["name"] for s in report["systems"]] == ["a", "ab"]  # b is trained for the ensemble, not scored alone
    entry = next(e for e in report["suites"][0]["results"] if e["system"] == "ab")
    assert entry["status"] == "ok" and entry["summary"]["entities.micro_f1"]["mean"] > 0


def test_cli_repeated_model_is_an_ensemble(trained_tiny: Path, tiny_corpus: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from araquote.cli import main

    model, data = str(trained_tiny / "model"), str(tiny_corpus / "test.jsonl")
    assert main(["evaluate", "--model", model, "--data", data, "--device", "cpu"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--model", model, "--model", model, "--data", data, "--device", "cpu"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["system"] == f"{model} + {model}"
    assert both["layers"]["entities"]["micro"] == single["layers"]["entities"]["micro"]
    out = tmp_path / "tagged.jsonl"
    assert main(["tag", "--model", model, "--model", model, data, "-o", str(out), "--device", "cpu", "--quiet"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert main(["evaluate", "--model", "rules", "--model", model, "--data", data]) == 2
    assert "'rules' cannot be part of an ensemble" in capsys.readouterr().err


def test_system_seeds_replace_the_benchmark_seeds_and_a_moved_run_is_reused(
        tmp_path: Path, tiny_corpus: Path, trained_tiny: Path) -> None:
    from .conftest import tiny_config_yaml

    (tmp_path / "t.yaml").write_text(tiny_config_yaml(tiny_corpus, tmp_path / "ignored"), encoding="utf-8")
    first = tmp_path / "first"
    _reusable_run(bm.SystemSpec(name="a", train=str(tmp_path / "t.yaml")), 5, first, trained_tiny / "model", 7.0)
    out = tmp_path / "out"
    first.rename(out)  # the run's config.yaml still names its old output_dir: still the same run
    cfg = tmp_path / "b.yaml"
    cfg.write_text(f"""name: s
seeds: [5, 6]
device: cpu
systems:
  - {{name: a, train: {tmp_path / 't.yaml'}, seeds: [5]}}
  - {{name: e, ensemble: a}}
suites:
  - {{name: gold, data: [{tiny_corpus / 'test.jsonl'}], systems: [a, e], max_docs: 2}}
""", encoding="utf-8")
    report = bm.run_benchmark(str(cfg), out=str(out), command="test", progress=False)
    a = next(s for s in report["systems"] if s["name"] == "a")
    assert [(r["seed"], r["reused"]) for r in a["runs"]] == [(5, True)]  # seed 6 of the benchmark not trained
    assert not (out / "runs" / "a" / "seed-6").exists()
    assert report["seeds"] == [5, 6]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystems: [{name: r, rules: true, seeds: [1]}, {name: t, train: t.yaml, seeds: [2, 2]}]\n"
                   "suites: [{name: s, data: [a.jsonl], systems: [r]}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        bm.load_benchmark_config(bad)
    assert "(r): 'seeds' applies to 'train' systems only" in str(exc.value)
    assert "(t): seeds must be distinct, got [2, 2]" in str(exc.value)


def test_a_run_saved_before_a_setting_existed_is_reused_only_at_its_default() -> None:
    """A config key added later (here model.word_pooling) is absent from an older run's config.yaml."""
    from araquote.training.config import Config

    now = Config().to_dict()
    saved = json.loads(json.dumps(now))
    del saved["model"]["word_pooling"]
    assert bm._diff_keys(saved, now, defaults=bm._defaults()) == []
    now["model"]["word_pooling"] = "mean"
    assert bm._diff_keys(saved, now, defaults=bm._defaults()) == ["model.word_pooling"]
    saved["model"]["extra"] = 1  # a key only the saved run has still differs
    assert "model.extra" in bm._diff_keys(saved, now, defaults=bm._defaults())


def test_benchmark_probability_cache_scores_like_the_taggers(tagger: Tagger, tmp_path: Path, tiny_docs) -> None:
    """The benchmark runs each checkpoint once per suite; its ensemble scores equal EnsembleTagger's."""
    from types import SimpleNamespace

    a = str(tmp_path / "a")
    tagger.model.save_pretrained(a, tagger.tokenizer)
    b = str(tmp_path / "b")
    _perturbed(tagger).model.save_pretrained(b, tagger.tokenizer)
    suite = SimpleNamespace(spec=SimpleNamespace(name="s", label_map={}), docs=list(tiny_docs))
    items = [(d.id, d.text) for d in tiny_docs]

    def spans(docs):
        return [sorted((s.start, s.end, s.layer, s.label) for s in d.spans) for d in docs]

    cache = bm.ProbabilityCache("cpu", 4)
    _, single, _ = cache.score(bm.Run(13, a), suite)
    assert spans(single) == spans(Tagger.from_pretrained(a, device="cpu", batch_size=4).tag_documents(items))
    forwards = dict(cache._probs)
    scores, both, seconds = cache.score(bm.Run(None, None, members=[a, b]), suite)
    expected = EnsembleTagger.from_pretrained([a, b], device="cpu", batch_size=4).tag_documents(items)
    assert spans(both) == spans(expected) and any(spans(both))
    assert cache._probs[(a, "s")] is forwards[(a, "s")]  # member a was not run again
    assert set(cache._probs) == {(a, "s"), (b, "s")} and seconds >= cache._probs[(b, "s")][1]
    assert scores["documents"] == len(tiny_docs)
