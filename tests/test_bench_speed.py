"""scripts/bench_speed.py: the --smoke run end to end (tiny random encoder, 10 articles) and its pure helpers."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_speed.py"
DATA = ROOT.parent / "shared" / "data" / "saudinewsnet"


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_speed"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bench = _load_script()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    if not any(DATA.glob("*.zip")):
        pytest.skip(f"no SaudiNewsNet zips in {DATA}")
    out = tmp_path_factory.mktemp("bench")
    work = out / "work"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(out), "--work-dir", str(work)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report, (out / "report.md").read_text(encoding="utf-8"), work


def test_smoke_measures_every_configuration(smoke):
    report, _, _ = smoke
    assert report["articles"]["count"] == 10
    assert "--smoke" in report["command"]
    assert report["machine"]["torch"] and "avx512_bf16" in report["machine"]["cpu_flags"]
    (target,) = report["targets"]
    assert target["name"] == "tiny-random" and target["build"]["encoder"]["hidden_size"] == 32
    rows = {r["dtype"]: r for r in target["araquote"]}
    assert set(rows) == {"fp32", "bf16", "int8"}
    for r in rows.values():
        assert "error" not in r, r
        assert r["articles"] == 10 and r["tokens"] > 10 * 50 and r["windows"] >= 10
        assert r["tokens_per_s"] > 0 and r["articles_per_s"] > 0 and r["peak_rss_mb"] > 50
        assert r["latency"]["articles"] == 5 and 0 < r["latency"]["p50_s"] <= r["latency"]["p95_s"]
        # the bare forward runs the very windows araquote built: same real-token count
        assert r["bare"]["tokens"] == r["tokens"] and r["bare"]["padded_tokens"] >= r["tokens"]
    assert len({r["tokens"] for r in rows.values()}) == 1


def test_smoke_hf_baseline_and_ratios(smoke):
    report, _, _ = smoke
    (target,) = report["targets"]
    hf = {r["dtype"]: r for r in target["hf"]}
    assert set(hf) == {"fp32", "bf16"}  # no int8 for the HF pipeline
    for r in hf.values():
        assert [t["batch_size"] for t in r["tuning"]] == [1, 4]
        assert r["batch_size"] in (1, 4) and r["labels"] == 9
        assert r["chunks"] >= 10 and r["tokens"] > 0 and r["articles_per_s"] > 0
    ratios = target["ratios"]
    assert set(ratios["araquote_over_hf_articles_per_s"]) == {"fp32", "bf16"}
    assert set(ratios["over_fp32_articles_per_s"]) == {"bf16", "int8"}
    assert set(ratios["araquote_over_bare_tokens_per_s"]) == {"fp32/bs4", "bf16/bs4", "int8/bs4"}
    assert all(v > 0 for group in ratios.values() for v in group.values())
    for dtype in ("bf16", "int8"):
        agreement = target["agreement"][dtype]
        assert 0.0 <= agreement["agreement"] <= 1.0 and agreement["fp32_spans"] > 0


def test_smoke_memory_check_and_report(smoke):
    report, md, work = smoke
    rss = report["targets"][0]["rss_check"]
    assert rss["counts"] == {"tagged": 30, "skipped": 0, "errors": 0}
    assert rss["rss_at_mark_mb"] > 0 and rss["rss_end_mb"] > 0 and math.isfinite(rss["growth_pct"])
    assert rss["samples"] >= 1
    assert report["command"] in md
    for heading in ("### araquote", "### Hugging Face", "### Ratios", "### Memory check", "## Method"):
        assert heading in md
    assert not work.exists()  # the work dir (checkpoint, span dumps) is removed unless --keep-work


def test_spread_samples_the_whole_list():
    assert bench.spread(300, 50)[0] == 0 and bench.spread(300, 50)[-1] == 299 and len(bench.spread(300, 50)) == 50
    assert bench.spread(3, 50) == [0, 1, 2]
    assert bench.spread(10, 1) == [0]


def test_span_agreement_counts_identical_spans(tmp_path):
    ref = [["d1", "entities", "PER", 0, 4], ["d1", "attribution", "CUE", 5, 8]]
    other = [["d1", "entities", "PER", 0, 4], ["d1", "attribution", "CUE", 5, 9], ["d2", "entities", "LOC", 0, 3]]
    (tmp_path / "a.json").write_text(json.dumps(ref))
    (tmp_path / "b.json").write_text(json.dumps(other))
    rows = [
        {"dtype": "fp32", "batch_size": 16, "spans_file": str(tmp_path / "a.json")},
        {"dtype": "int8", "batch_size": 16, "spans_file": str(tmp_path / "b.json")},
    ]
    result = bench.span_agreement(rows, 16)["int8"]
    assert result["identical"] == 1 and result["agreement"] == pytest.approx(2 * 1 / 5)


def test_bad_options_name_the_valid_ones(tmp_path):
    with pytest.raises(bench.BenchError, match="choose from fp32, bf16, int8"):
        bench.resolve_settings(bench.parse_args(["--dtypes", "fp16", "--out", str(tmp_path)]))
    with pytest.raises(bench.BenchError, match="positive integers"):
        bench.resolve_settings(bench.parse_args(["--batch-sizes", "0", "--out", str(tmp_path)]))
    with pytest.raises(bench.BenchError, match="--rss-mark"):
        bench.resolve_settings(bench.parse_args(["--rss-articles", "100", "--rss-mark", "100", "--out", str(tmp_path)]))


def test_missing_encoder_dir_is_skipped_with_a_note_and_cuda_drops_int8(tmp_path):
    s = bench.resolve_settings(
        bench.parse_args(["--encoder", str(tmp_path / "me5-small"), "--device", "cuda", "--dtypes", "fp32,bf16,int8"])
    )
    (target,) = s.targets
    assert target.skip and "not found" in target.skip and "build_offline_encoder" in target.skip
    assert s.dtypes == ["fp32", "bf16"] and any("int8" in n for n in s.notes)


def test_bare_forward_feeds_word_features_of_a_from_scratch_model(tiny_docs):
    from transformers import BertConfig

    from araquote.inference.model import ModelMeta, MultiLayerTokenClassifier
    from araquote.inference.tagger import Tagger
    from araquote.training.scratch import train_wordpiece

    tok = train_wordpiece([d.text for d in tiny_docs], lambda w: w, vocab_size=200)
    meta = ModelMeta(labels={"entities": ["PER", "LOC"]}, max_length=32, stride=8, encoder="from_scratch",
                     word_features="lexical+hash")
    model = MultiLayerTokenClassifier.from_encoder(
        BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=32, max_position_embeddings=64), meta)
    tagger = Tagger(model, tok, device="cpu", batch_size=2)
    batches = bench.araquote_batches(tagger, [d.text for d in tiny_docs])
    rows = [r for b in batches for r in b]
    assert rows and all(r.feature_ids is not None and len(r.feature_ids) == len(r.input_ids) for r in rows)
    result = bench.bare_forward(tagger.model, batches, "cpu")
    assert result["tokens"] == sum(len(r) for r in rows) and result["tokens_per_s"] > 0


def test_sigterm_keeps_the_finished_jobs(tmp_path):
    """A time-boxed run (``timeout`` sends SIGTERM) still writes a report of every job that finished, marked incomplete."""
    if not any(DATA.glob("*.zip")):
        pytest.skip(f"no SaudiNewsNet zips in {DATA}")
    import signal
    import time

    out = tmp_path / "bench"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    jobs = out / "jobs.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:  # wait for the first timed araquote job
        lines = jobs.read_text(encoding="utf-8").splitlines() if jobs.is_file() else []
        if any(json.loads(line)["job"].startswith("araquote") for line in lines):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the smoke run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err[-2000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["incomplete"].startswith("stopped by SIGTERM")
    rows = report["targets"][0]["araquote"]
    assert rows and all("error" not in r for r in rows) and rows[0]["tokens_per_s"] > 0
    assert len(rows) <= len(jobs.read_text(encoding="utf-8").splitlines()) - 2  # jobs.jsonl: info, build, timed ones
    assert "INCOMPLETE" in (out / "report.md").read_text(encoding="utf-8")
