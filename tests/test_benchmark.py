"""``araquote benchmark``: the quick CI run end to end, the report schema, the config checks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from araquote.cli import main
from araquote.training import benchmark as bm
from araquote.training import report as rp
from araquote.training.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "benchmarks" / "report.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def quick_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's CI command, run once from the project root (paths in the config are relative to it)."""
    out = tmp_path_factory.mktemp("bench") / "quick"
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        assert main(["benchmark", "configs/benchmarks/quick.yaml", "--quick", "--out", str(out), "--quiet"]) == 0
    finally:
        os.chdir(old)
    return out


def test_quick_report_is_valid(quick_out: Path) -> None:
    report = json.loads((quick_out / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["quick"] is True and report["seeds"] == [13]
    assert report["command"] == f"araquote benchmark configs/benchmarks/quick.yaml --quick --out {quick_out}"
    assert report["environment"]["machine"]["cores"] >= 1 and report["environment"]["packages"]["torch"]
    corpus = next(s for s in report["suites"] if s["name"] == "corpus-test")
    assert corpus["status"] == "ok" and corpus["documents"] == 20
    assert corpus["data"][0] == {**corpus["data"][0], "path": "data/test.jsonl", "split": "test"}
    results = {r["system"]: r for r in corpus["results"]}
    assert set(results) == {"quickstart", "quickstart-lexicon", "rules"} and all(r["status"] == "ok" for r in results.values())
    # the variant scores the very checkpoint of its base, decoded with the name lexicon
    variant = next(s for s in report["systems"] if s["name"] == "quickstart-lexicon")
    assert variant["kind"] == "variant" and variant["base"] == "quickstart" and variant["decode"] == {"lexicon_weight": 1.0}
    run = results["quickstart"]["runs"][0]
    assert results["quickstart-lexicon"]["runs"][0]["model_dir"] == run["model_dir"]
    assert results["quickstart-lexicon"]["runs"][0]["train_seconds"] == run["train_seconds"]
    assert run["seed"] == 13 and run["train_seconds"] > 0 and run["eval_seconds"] > 0
    assert "attribution.micro_f1" in results["rules"]["summary"] and "entities.micro_f1" not in results["rules"]["summary"]
    assert results["quickstart"]["confusion"]["labels"][0] == "O"
    system = next(s for s in report["systems"] if s["name"] == "quickstart")
    assert system["encoder"] == "from_scratch" and system["runs"][0]["reused"] is False
    aner = next(s for s in report["suites"] if s["name"] == "anercorp-test")
    if (ROOT.parent / "shared" / "data" / "anercorp").exists():
        assert aner["status"] == "ok" and aner["documents"] <= 10 and aner["layers"] == ["entities"]
    else:
        assert aner["status"] == "skipped" and "not found" in aner["note"]


def test_a_report_that_breaks_the_schema_is_refused(quick_out: Path) -> None:
    report = json.loads((quick_out / "report.json").read_text(encoding="utf-8"))
    report["quick"] = "yes"
    del report["suites"][0]["results"][0]["runs"][0]["eval_seconds"]
    with pytest.raises(bm.BenchmarkError, match=r"2 problem\(s\)") as exc:
        rp.validate_report(report)
    assert "quick: 'yes' is not of type 'boolean'" in str(exc.value) and "suites/0/results/0" in str(exc.value)


def test_quick_report_md_has_tables_and_charts(quick_out: Path) -> None:
    md = (quick_out / "report.md").read_text(encoding="utf-8")
    assert "quick: true" in md and "## Suite: corpus-test" in md and "`araquote benchmark configs/benchmarks/quick.yaml" in md
    for heading in ("### Scores", "### Per label: attribution", "### Per label: entities", "### Quote roles", "### Runs"):
        assert heading in md
    assert re.search(r"^\| system \| encoder \| seeds \| attribution micro F1 \|", md, flags=re.M)
    assert re.search(r"^\| rules \| `rules` \| – \| \d+\.\d\d \|", md, flags=re.M)
    # the systems table says what each system was trained on (its train and dev files)
    assert re.search(r"^\| quickstart \| train \| .*\| `train.jsonl`; dev: `dev.jsonl` \| 13 \|", md, flags=re.M)
    assert re.search(r"^\| rules \| rules \| .*\| – \| – \|", md, flags=re.M)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    kinds = {"attribution-f1", "entities-f1", "precision-recall", "confusion"}
    assert all(any(k in link for link in links) for k in kinds), links
    for link in links:
        assert not Path(link).is_absolute() and (quick_out / link).stat().st_size > 1000


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_is_refused_with_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, "name: x\nsytems: [{name: rules, rules: true}]\nsuites: []\n")
    assert main(["benchmark", str(cfg), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'sytems'" in err and "did you mean 'systems'" in err and str(cfg) in err
    cfg = _write(tmp_path, "name: x\nsystems: [{name: rules, rules: true}]\nsuites: [{name: s, datas: [a.jsonl], systems: [rules]}]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'suites\[0\]\.datas' \(did you mean 'data'\?\)"):
        bm.load_benchmark_config(cfg)


def test_config_cross_checks_name_the_options(tmp_path: Path) -> None:
    cfg = _write(tmp_path, """name: x
systems: [{name: rules, rules: true}, {name: both, rules: true, model: m}]
suites:
  - {name: s, data: [a.jsonl], systems: [rules, ghost]}
""")
    with pytest.raises(ConfigError) as exc:
        bm.load_benchmark_config(cfg)
    msg = str(exc.value)
    assert "unknown system 'ghost'; systems defined: rules, both" in msg
    assert "needs exactly one of train, model, rules" in msg
    cfg = _write(tmp_path, "name: x\nsystems: [{name: r, rules: true}]\nsuites: [{name: s, data: [a], systems: [r], published: {ref: {micro: 83.7}}}]\n")
    with pytest.raises(ConfigError, match=r"'suites\[0\]\.published\.ref\.micro' must be an F1 fraction in \[0, 1\] \(0\.8370 for 83\.70\)"):
        bm.load_benchmark_config(cfg)
    cfg = _write(tmp_path, "name: x\nsystems: [{rules: true}]\nsuites: []\n")
    with pytest.raises(ConfigError, match=r"'systems\[0\]\.name' is required"):
        bm.load_benchmark_config(cfg)
    cfg = _write(tmp_path, """name: x
systems:
  - {name: r, rules: true, decode: {lexicon_weight: 1}}
  - {name: v, base: r, decode: {lexicon_weigth: 1, transition_weight: -2}}
suites: [{name: s, data: [a.jsonl], systems: [r, v]}]
""")
    with pytest.raises(ConfigError) as exc:
        bm.load_benchmark_config(cfg)
    msg = str(exc.value)
    assert "systems[1] (v): base must name a system with 'train', got 'r'" in msg
    assert "unknown decode setting 'lexicon_weigth'; known: transition_weight, lexicon_weight" in msg
    assert "decode.transition_weight must be a number in [0, 20], got -2" in msg
    assert "systems[0] (r): decode settings do not apply to the rules" in msg


def test_model_system_published_figures_and_missing_suite(tmp_path: Path, quick_out: Path, tiny_corpus: Path) -> None:
    trained = quick_out / "runs" / "quickstart" / "seed-13-quick"  # a run folder: its model/ is found
    cfg = _write(tmp_path, f"""name: tiny
seeds: [1, 2]
device: cpu
systems:
  - {{name: tiny, model: {trained}}}
  - {{name: rules, rules: true}}
suites:
  - name: gold
    data: [{tiny_corpus / 'test.jsonl'}]
    systems: [tiny, rules]
    label_map: {{MISC: O}}
    published: {{ref: {{micro: 0.5, per_type: {{PER: 0.25, DATE: 0.1}}, source: a paper}}}}
  - name: gone
    data: [{tmp_path / 'missing.jsonl'}]
    systems: [tiny]
""")
    report = bm.run_benchmark(str(cfg), out=str(tmp_path / "out"), command="test", progress=False)
    gold, gone = report["suites"]
    assert gone["status"] == "skipped" and "missing.jsonl" in gone["note"] and gone["results"] == []
    tiny = next(r for r in gold["results"] if r["system"] == "tiny")
    assert tiny["seeds"] == [None] and tiny["encoder"] == "from_scratch" and tiny["train_seconds"]["mean"] > 0
    assert "MISC" not in tiny["per_label"]["entities"]  # mapped to O on both sides
    comp = gold["published"][0]["comparison"]
    assert [c["system"] for c in comp] == ["tiny"]  # the rules predict no entities
    ours = tiny["summary"]["entities.micro_f1"]["mean"]
    assert comp[0]["micro"] == {"ours": ours, "difference": round(ours - 0.5, 4)}
    assert comp[0]["per_type"]["DATE"] == {"ours": None, "difference": None}
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "### Published figures beside ours" in md and "| ref | entities micro | 50.00 |" in md and "- ref: a paper" in md
    assert "suite gone: skipped: data file(s) not found" in md


def test_finished_run_is_reused_only_with_the_same_config(tmp_path: Path, tiny_corpus: Path) -> None:
    from .conftest import tiny_config_yaml

    (tmp_path / "t.yaml").write_text(tiny_config_yaml(tiny_corpus, tmp_path / "ignored"), encoding="utf-8")
    spec = bm.SystemSpec(name="t", train=str(tmp_path / "t.yaml"))
    run_dir = tmp_path / "runs" / "t" / "seed-5"
    cfg = bm._training_config(spec, 5, run_dir, None)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()), encoding="utf-8")
    (run_dir / "metrics.json").write_text('{"train_seconds": 12.5, "steps": 40}', encoding="utf-8")
    system = bm.plan_system(spec, [5], tmp_path, None)
    bm.train_system(system, progress=False)
    assert [(r.seed, r.train_seconds, r.steps, r.reused) for r in system.runs] == [(5, 12.5, 40, True)]
    # a run saved before a data-source setting existed is reused while the config keeps that setting's default
    saved = cfg.to_dict()
    for src in saved["data"]["train"]:
        del src["layers"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    assert bm._diff_keys(saved, cfg.to_dict(), defaults=bm._defaults()) == []
    system = bm.plan_system(spec, [5], tmp_path, None)
    bm.train_system(system, progress=False)
    assert system.runs[0].reused
    spec.set = ["data.train=[{path: x.jsonl, layers: [entities]}]"]
    assert "data.train[0].layers" in bm._diff_keys(saved, bm._training_config(spec, 5, run_dir, None).to_dict(),
                                                   defaults=bm._defaults())
    # without a dev split a null decode weight resolves to 0 (off): a run saved with 0 is the same run
    no_dev = {**saved, "data": {**saved["data"], "dev": []}, "model": {**saved["model"], "lexicon_weight": 0.0}}
    now = {**no_dev, "model": {**no_dev["model"], "lexicon_weight": None}}
    assert bm._diff_keys(bm._resolved_weights(no_dev), bm._resolved_weights(now), defaults=bm._defaults()) == []
    with_dev = {**now, "data": {**now["data"], "dev": saved["data"]["train"]}}
    assert bm._diff_keys(bm._resolved_weights({**no_dev, "data": with_dev["data"]}), bm._resolved_weights(with_dev),
                         defaults=bm._defaults()) == ["model.lexicon_weight"]  # with dev, null means "tune": not 0
    spec.set = ["train.learning_rate=0.01"]
    with pytest.raises(bm.BenchmarkError, match=r"differs at: train\.learning_rate"):
        bm.train_system(bm.plan_system(spec, [5], tmp_path, None), progress=False)
    spec.set = ["model.encoder=models/no-such-encoder"]
    with pytest.raises(bm.BenchmarkError, match="encoder directory models/no-such-encoder has no config.json"):
        bm.plan_system(spec, [5], tmp_path, None)


def test_aggregate_and_confusion(tiny_docs) -> None:
    assert rp.aggregate([0.5, 0.7]) == {"mean": 0.6, "std": 0.1414, "n": 2, "values": [0.5, 0.7]}
    assert rp.aggregate([0.5])["std"] is None
    assert rp._pct(rp.aggregate([0.5, 0.7])) == "60.00 ± 14.14" and rp._pct(rp.aggregate([0.5])) == "50.00"
    conf = bm.entity_confusion(tiny_docs, tiny_docs)
    assert conf["labels"] == ["O", "PER", "ORG", "LOC", "MISC"]
    assert all(c == 0 for i, row in enumerate(conf["counts"]) for j, c in enumerate(row) if i != j)


def test_seeds_option_replaces_the_config_seeds(tmp_path: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, f"""name: r
seeds: [1, 2, 3]
systems: [{{name: rules, rules: true}}]
suites: [{{name: gold, data: [{tiny_corpus / 'test.jsonl'}], systems: [rules]}}]
""")
    assert main(["benchmark", str(cfg), "--seeds", "7", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    assert report["seeds"] == [7] and "--seeds 7" in report["command"]
    assert main(["benchmark", str(cfg), "--seeds", "7,x", "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert "comma list of integers" in capsys.readouterr().err
    with pytest.raises(ValueError, match="distinct"):
        bm.run_benchmark(str(cfg), out=str(tmp_path / "o3"), progress=False, seeds=[4, 4])
