"""Training survives interruption: SIGKILL at a random step, resume, same final metrics as an uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from .conftest import tiny_config_yaml

EXTRA = "  checkpoint_every_steps: 1\n"


def _run(cfg, env, kill_after=None):
    cmd = [sys.executable, "-m", "araquote", "train", str(cfg), "--quiet"]
    if kill_after is None:
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = cfg.parent / "run" / "train_log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and sum(1 for line in log.read_text().splitlines() if '"loss"' in line) >= kill_after:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_and_resume_reaches_the_same_metrics(tmp_path, tiny_corpus):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    results = []
    for name, kill in (("straight", None), ("killed", random.randint(1, 6))):
        d = tmp_path / name
        d.mkdir()
        cfg = d / "c.yaml"
        cfg.write_text(tiny_config_yaml(tiny_corpus, d / "run", epochs=12, extra=EXTRA).replace("log_every: 5", "log_every: 1"), encoding="utf-8")
        _run(cfg, env, kill_after=kill)
        if kill is not None:
            assert not (d / "run" / "metrics.json").exists(), "killed too late"
            assert not list((d / "run").glob(".checkpoint.tmp-*")) or (d / "run" / "checkpoint" / "state.json").exists()
            _run(cfg, env)
        results.append(json.loads((d / "run" / "metrics.json").read_text(encoding="utf-8")))
    straight, resumed = results
    assert resumed["steps"] == straight["steps"]
    assert resumed["test"] == straight["test"]
    assert [h["dev_f1"] for h in resumed["history"]] == [h["dev_f1"] for h in straight["history"]]
