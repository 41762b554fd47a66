"""scripts/tune_anercorp.py: the grid, the job runner's deadline, and the benchmark config it writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("tune_anercorp", ROOT / "scripts" / "tune_anercorp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tune = _load_script()


def test_grid_is_a_product_with_the_head_rate_tied():
    points = tune.grid_points(["train.epochs=20,10", "train.learning_rate=1e-4,1.5e-4"], head_ratio=10)
    assert len(points) == 4
    assert points[0] == ["train.epochs=20", "train.learning_rate=1e-4", "train.head_learning_rate=0.001"]
    assert points[3] == ["train.epochs=10", "train.learning_rate=1.5e-4", "train.head_learning_rate=0.0015"]
    # a decimal point in a value must not collide two settings' folder names
    assert len({tune.tag(p) for p in points}) == 4
    assert tune.tag(points[3]) == "epochs-10_learning_rate-1.5e-4_head_learning_rate-0.0015"
    assert tune.grid_points([], 10) == [[]] and tune.tag([]) == "base"
    with pytest.raises(SystemExit, match="KEY=V1,V2"):
        tune.grid_points(["train.epochs"], 0)


def _job(tmp_path: Path, name: str) -> dict:
    return {"name": name, "set": [], "seed": 13, "config": "x.yaml", "out": str(tmp_path / name)}


def test_runner_marks_done_failed_and_stopped_jobs(tmp_path):
    script = {
        "ok": "import pathlib, sys; pathlib.Path(sys.argv[1], 'metrics.json').write_text('{}')",
        "bad": "import sys; sys.exit(3)",
        "slow": "import time; time.sleep(60)",
        "late": "pass",
    }
    jobs = [_job(tmp_path, name) for name in script]
    tune.run_all(jobs, width=3, deadline=4, command=lambda job: [sys.executable, "-c", script[job["name"]], job["out"]])
    status = {j["name"]: j["status"] for j in jobs}
    assert status["ok"] == "done"
    assert status["bad"] == "failed (rc 3)"
    assert status["slow"] == "stopped at the deadline" and jobs[2]["seconds"] < 30
    # the fourth job waited for a free slot; it ran once "ok" or "bad" ended, well before the deadline
    assert status["late"] == "failed (rc 0)"  # exits 0 but writes no metrics.json: not a finished training run
    assert all("proc" not in j and "started" not in j for j in jobs)


def test_deadline_leaves_queued_jobs_unstarted(tmp_path):
    jobs = [_job(tmp_path, f"j{i}") for i in range(3)]
    tune.run_all(jobs, width=1, deadline=1, command=lambda job: [sys.executable, "-c", "import time; time.sleep(30)"])
    assert [j["status"] for j in jobs] == ["stopped at the deadline"] + ["not started before the deadline"] * 2


def test_written_benchmark_config_loads_and_records_the_choice(tmp_path):
    from araquote.training.benchmark import load_benchmark_config

    out = tmp_path / "tuned.yaml"
    args = tune.parse_args(["--bench-config", str(out), "--suites", "anercorp-test", "--system", "me5-x"])
    chosen = ["train.epochs=20", "train.learning_rate=1e-4"]
    record = {
        "seeds": [13, 14],
        "settings": {"epochs-20_learning_rate-1e-4": {"mean_last_dev_f1": 0.77, "last_dev_f1": [0.76, 0.78]}},
        "chosen": {"point": "epochs-20_learning_rate-1e-4", "set": chosen, "tuned": True},
        "final": {"seeds": [13, 14, 15]},
    }
    tune.write_bench_config(args, record, chosen, [13, 15])
    text = out.read_text(encoding="utf-8")
    assert "epochs-20_learning_rate-1e-4: 0.77 [0.76, 0.78]" in text and "finished in time: [13, 15]" in text
    cfg = load_benchmark_config(out)
    assert cfg.seeds == [13, 15]
    assert [s.name for s in cfg.systems] == ["me5-x", "me5-x-ensemble"]
    assert cfg.systems[0].train == "configs/anercorp-full.yaml" and cfg.systems[0].set == chosen
    assert cfg.systems[1].ensemble == ["me5-x"]
    assert [s.name for s in cfg.suites] == ["anercorp-test"] and cfg.suites[0].systems == ["me5-x", "me5-x-ensemble"]
