"""Streaming batch jobs: bad documents are reported and skipped, resume never duplicates or loses a document."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from araquote.inference.batch import repair_and_read_ids, run_tag_job
from araquote.inference.rules import RuleTagger


def _inputs(tmp_path, n=40):
    p = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"d{i}", "text": f"قال الوزير إن الاتفاق رقم {i} نهائي."}, ensure_ascii=False) for i in range(n)]
    lines.insert(3, '{"id": "broken", "text": ')  # truncated line
    lines.insert(5, json.dumps({"id": "empty", "text": "  "}))
    lines.insert(7, json.dumps({"id": "num", "text": 42}))
    lines.insert(9, json.dumps({"id": "d1", "text": "again"}))  # duplicate id
    p.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "bad-utf8", "text": "\xff"}\n')
    return p


def _ids(path):
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_documents_go_to_the_error_report(tmp_path):
    out = tmp_path / "out.jsonl"
    counts = run_tag_job(RuleTagger(), [str(_inputs(tmp_path))], str(out), progress=False)
    assert _ids(out) == [f"d{i}" for i in range(40)]
    errors = [json.loads(line) for line in (tmp_path / "out.jsonl.errors.jsonl").read_text(encoding="utf-8").splitlines()]
    reasons = {e["id"]: e["error"] for e in errors}
    assert "malformed JSON" in reasons[f"{tmp_path / 'in.jsonl'}:4"]
    assert reasons["empty"] == "empty text"
    assert "'text' must be a string" in reasons["num"]
    assert "duplicate id" in reasons["d1"]
    assert any("invalid UTF-8" in r for r in reasons.values())
    assert counts == {"tagged": 40, "skipped": 0, "errors": 5}


def test_resume_repairs_truncated_line_and_skips_done(tmp_path):
    src = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    run_tag_job(RuleTagger(), [str(src)], str(out), progress=False)
    data = out.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 20  # mid-line: a killed writer
    out.write_bytes(data[:cut])
    assert len(repair_and_read_ids(out)) == data[:cut].count(b"\n")
    counts = run_tag_job(RuleTagger(), [str(src)], str(out), resume=True, progress=False)
    assert _ids(out) == [f"d{i}" for i in range(40)]
    assert counts["skipped"] == data[:cut].count(b"\n")


def test_sigkill_then_resume_keeps_every_id_exactly_once(tmp_path, trained_tiny):
    n = 400
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"a{i}", "text": f"قالت منى العتيبي إن الوضع رقم {i} خطير. " * 3}, ensure_ascii=False) + "\n" for i in range(n)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "araquote", "tag", "--model", str(trained_tiny / "model"), str(src), "-o", str(out), "--chunk", "8", "--quiet", "--device", "cpu"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 2000):
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_bytes().count(b"\n")
    assert partial < n, "the job finished before it could be killed; make it longer"
    subprocess.run(cmd + ["--resume"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ids = _ids(out)
    assert sorted(ids) == sorted(f"a{i}" for i in range(n)) and len(ids) == n


def test_shards_merge_back_into_input_order(tmp_path):
    from araquote.cli import main

    src = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    for i in range(3):
        assert main(["tag", "--model", "rules", str(src), "-o", str(out), "--shard", f"{i}/3", "--quiet"]) == 0
    assert main(["merge", str(src), "-o", str(out), "--shards", "3"]) == 0
    single = tmp_path / "single.jsonl"
    assert main(["tag", "--model", "rules", str(src), "-o", str(single), "--quiet"]) == 0
    assert out.read_bytes() == single.read_bytes()
    assert main(["tag", "--model", "rules", str(src), "-o", str(out), "--shard", "3/3"]) == 2
