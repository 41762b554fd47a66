"""Tune the ANERcorp recipe on a hold-out of TRAIN, then train the winner on all of train and benchmark it.

Built for a machine with a GPU, where one me5-small run takes seconds to minutes, so many runs fit side by side:

1. sweep: every point of the grid (``--grid KEY=V1,V2 ...``; a product) at every ``--seeds``, trained with
   ``--holdout`` (configs/anercorp-holdout.yaml: 90% of ANERcorp train, dev = the other 10%), ``--jobs`` at a time;
   a run still going at ``--sweep-deadline`` is stopped and its setting dropped (recorded).
2. choose: the setting with the best mean dev micro-F1 of the LAST epoch (the full run keeps its last model).
   The test split is not read in steps 1-2.
3. final: the chosen setting with ``--full`` (configs/anercorp-full.yaml) at every ``--final-seeds``, side by side,
   straight into the benchmark's run folders (``BENCH_OUT/runs/<system>/seed-<s>``), so that
4. ``araquote benchmark`` on the written config (``--bench-config``) reuses them and scores test and AQMAR, each seed
   and the ensemble of all of them.

``sweep.json`` (in ``--work``) holds every run's dev curve and the choice; the benchmark config's header repeats the
choice. The ensemble and every final seed are registered in that config before any test score is computed.

Usage (on the GPU machine, see scripts/gpu_session.sh)::

    python3 scripts/tune_anercorp.py --grid train.learning_rate=5e-5,1e-4,1.5e-4 --grid train.epochs=10,20,30 \
        --head-ratio 10 --seeds 13,14 --final-seeds 13,14,15,16,17,18,19,20 --jobs 9 --work /dev/shm/tune
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--holdout", default="configs/anercorp-holdout.yaml")
    p.add_argument("--full", default="configs/anercorp-full.yaml")
    p.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,...: one axis of the grid (repeatable)")
    p.add_argument("--head-ratio", type=float, default=0.0,
                   help="> 0: set train.head_learning_rate to this multiple of each train.learning_rate")
    p.add_argument("--seeds", default="13,14")
    p.add_argument("--final-seeds", default="13,14,15,16")
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--sweep-deadline", type=float, default=600.0, help="seconds for the whole sweep")
    p.add_argument("--final-deadline", type=float, default=600.0, help="seconds for the final runs")
    p.add_argument("--work", default="runs/tune")
    p.add_argument("--system", default="me5-tuned")
    p.add_argument("--bench-config", default="configs/benchmarks/anercorp-tuned.yaml")
    p.add_argument("--bench-out", default="benchmarks/results/anercorp-tuned")
    p.add_argument("--template", default="configs/benchmarks/anercorp-full.yaml",
                   help="benchmark config whose suites are reused")
    p.add_argument("--suites", help="comma list of the template's suites to keep (default: all)")
    p.add_argument("--skip-sweep", action="store_true",
                   help="no hold-out runs: train the one --grid point given (or the recipe as it is) at --final-seeds")
    p.add_argument("--no-benchmark", action="store_true")
    return p.parse_args(argv)


def grid_points(axes: list[str], head_ratio: float) -> list[list[str]]:
    """``["a=1,2", "b=x"]`` -> ``[["a=1", "b=x"], ["a=2", "b=x"]]`` (plus the tied head learning rate)."""
    parsed = []
    for axis in axes:
        key, _, values = axis.partition("=")
        if not key or not values:
            raise SystemExit(f"--grid {axis!r}: want KEY=V1,V2,...")
        parsed.append([f"{key}={v}" for v in values.split(",")])
    points = [list(p) for p in itertools.product(*parsed)] if parsed else [[]]
    if head_ratio > 0:
        for p in points:
            lr = next((float(s.split("=", 1)[1]) for s in p if s.startswith("train.learning_rate=")), None)
            if lr is not None:
                p.append(f"train.head_learning_rate={lr * head_ratio:g}")
    return points


def tag(point: list[str]) -> str:
    parts = [(s.split("=", 1)[0].rsplit(".", 1)[-1], s.split("=", 1)[1]) for s in point]
    return "_".join(f"{k}-{v}" for k, v in parts) or "base"


def train_command(job: dict[str, Any]) -> list[str]:
    """``araquote train CONFIG --set ...`` for one job (its overrides, seed and output folder)."""
    sets = job["set"] + [f"seed={job['seed']}", f"output_dir={job['out']}"]
    return [sys.executable, "-m", "araquote", "train", job["config"], "--quiet", *[a for s in sets for a in ("--set", s)]]


def run_all(jobs: list[dict[str, Any]], width: int, deadline: float,
            command: Callable[[dict[str, Any]], list[str]] = train_command) -> None:
    """Run jobs, ``width`` at a time, each in its own process group; stop what outlives ``deadline`` (seconds).

    A job is ``done`` when it exits 0 and wrote ``metrics.json`` in its ``out`` folder; each job gets ``status``
    and ``seconds``.
    """
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "TOKENIZERS_PARALLELISM": "false"}
    pending, running = list(jobs), []
    end = time.monotonic() + deadline
    while pending or running:
        while pending and len(running) < width:
            job = pending.pop(0)
            Path(job["out"]).mkdir(parents=True, exist_ok=True)
            job["started"] = time.monotonic()
            with open(Path(job["out"]) / "stdout.txt", "w") as log:
                job["proc"] = subprocess.Popen(command(job), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
            running.append(job)
            print(f"[{time.strftime('%H:%M:%S')}] start {job['name']}", flush=True)
        time.sleep(1)
        for job in list(running):
            if job["proc"].poll() is None:
                continue
            running.remove(job)
            job["seconds"] = round(time.monotonic() - job["started"], 1)
            ok = job["proc"].returncode == 0 and (Path(job["out"]) / "metrics.json").is_file()
            job["status"] = "done" if ok else f"failed (rc {job['proc'].returncode})"
            print(f"[{time.strftime('%H:%M:%S')}] {job['status']} {job['name']} in {job['seconds']} s", flush=True)
            if not ok:
                print((Path(job["out"]) / "stdout.txt").read_text(errors="replace")[-3000:], flush=True)
        if time.monotonic() >= end:
            for job in running:
                os.killpg(job["proc"].pid, signal.SIGKILL)
                job["status"] = "stopped at the deadline"
                job["seconds"] = round(time.monotonic() - job["started"], 1)
                print(f"[{time.strftime('%H:%M:%S')}] stopped {job['name']} at the deadline", flush=True)
            for job in pending:
                job["status"] = "not started before the deadline"
            pending, running = [], []
    for job in jobs:
        job.pop("proc", None)
        job.pop("started", None)


def dev_curve(out: str) -> list[float]:
    path = Path(out) / "train_log.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["dev_f1"] for r in rows if "dev_f1" in r]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    finals = [int(s) for s in args.final_seeds.split(",")]
    points = grid_points(args.grid, args.head_ratio)
    if args.skip_sweep:
        if len(points) != 1:
            raise SystemExit("--skip-sweep takes one setting: give each --grid axis a single value")
        record: dict[str, Any] = {"holdout": None, "full": args.full, "seeds": [], "grid": args.grid,
                                  "head_ratio": args.head_ratio, "settings": {}, "ranking": [],
                                  "chosen": {"point": tag(points[0]), "set": points[0], "tuned": False}}
        return finish(args, record, points[0], finals, work)
    t0 = time.monotonic()
    sweep = [{"name": f"{tag(p)}/seed-{s}", "point": tag(p), "set": p, "seed": s, "config": args.holdout,
              "out": str(work / "sweep" / tag(p) / f"seed-{s}")} for p in points for s in seeds]
    run_all(sweep, args.jobs, args.sweep_deadline)
    settings: dict[str, dict[str, Any]] = {}
    for job in sweep:
        job["dev_f1_by_epoch"] = dev_curve(job["out"])
        s = settings.setdefault(job["point"], {"set": job["set"], "last_dev_f1": [], "complete": True})
        if job["status"] == "done" and job["dev_f1_by_epoch"]:
            s["last_dev_f1"].append(job["dev_f1_by_epoch"][-1])
        else:
            s["complete"] = False
    for s in settings.values():
        s["mean_last_dev_f1"] = round(sum(s["last_dev_f1"]) / len(s["last_dev_f1"]), 4) if s["last_dev_f1"] else None
    ranked = sorted((k for k, s in settings.items() if s["complete"]), key=lambda k: -settings[k]["mean_last_dev_f1"])
    record = {"holdout": args.holdout, "full": args.full, "seeds": seeds, "grid": args.grid,
                              "head_ratio": args.head_ratio, "sweep_seconds": round(time.monotonic() - t0, 1),
                              "runs": [{k: v for k, v in j.items() if k not in ("config",)} for j in sweep],
                              "settings": settings, "ranking": ranked}
    (work / "sweep.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    for k in ranked:
        print(f"{k:40s} mean last-epoch dev F1 {settings[k]['mean_last_dev_f1']:.4f}  {settings[k]['last_dev_f1']}")
    if not ranked:
        print("no setting finished every seed: nothing to choose", file=sys.stderr)
        return 1
    best = ranked[0]
    chosen = settings[best]["set"]
    record["chosen"] = {"point": best, "set": chosen, "tuned": True}
    print(f"chosen on dev: {best} {chosen}", flush=True)
    return finish(args, record, chosen, finals, work)


def finish(args: argparse.Namespace, record: dict[str, Any], chosen: list[str], finals: list[int], work: Path) -> int:
    """Train ``chosen`` on all of train at every final seed, side by side; write the benchmark config; run it."""
    bench_out = Path(args.bench_out)
    final_jobs = [{"name": f"final/seed-{s}", "set": chosen, "seed": s, "config": args.full,
                   "out": str(bench_out / "runs" / args.system / f"seed-{s}")} for s in finals]
    t1 = time.monotonic()
    run_all(final_jobs, args.jobs, args.final_deadline)
    done = [j["seed"] for j in final_jobs if j["status"] == "done"]
    record["final"] = {"seeds": finals, "finished": done, "seconds": round(time.monotonic() - t1, 1),
                       "runs": [{k: v for k, v in j.items() if k not in ("config",)} for j in final_jobs]}
    (work / "sweep.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    if not done:
        print("no final run finished", file=sys.stderr)
        return 1
    write_bench_config(args, record, chosen, done)
    if args.no_benchmark:
        return 0
    return subprocess.call([sys.executable, "-m", "araquote", "benchmark", args.bench_config, "--out", str(bench_out),
                            "--quiet"], cwd=ROOT)


def write_bench_config(args: argparse.Namespace, record: dict[str, Any], chosen: list[str], seeds: list[int]) -> None:
    """The benchmark config of the final runs: each seed and their ensemble, the template's suites (``--suites``)."""
    template = yaml.safe_load((ROOT / args.template).read_text(encoding="utf-8"))
    names = [args.system, f"{args.system}-ensemble"]
    keep = args.suites.split(",") if args.suites else [s["name"] for s in template["suites"]]
    suites = [{**s, "systems": names} for s in template["suites"] if s["name"] in keep]
    change = " ".join(chosen) or "no change"
    if record["chosen"].get("tuned"):
        how = "chosen on a hold-out of ANERcorp train"
        header = [
            f"# Written by scripts/tune_anercorp.py: {args.full} with the setting that scored best on the ANERcorp",
            f"# train hold-out ({args.holdout}; mean dev micro-F1 of the last epoch over seeds {record['seeds']}),",
            "# chosen before any test score of it was computed. Every setting tried (mean, per seed):",
            *[f"#   {k}: {v['mean_last_dev_f1']} {v['last_dev_f1']}" for k, v in record["settings"].items()],
        ]
    else:
        how = "not tuned: the recipe's own settings"
        header = [f"# Written by scripts/tune_anercorp.py --skip-sweep: {args.full} ({change}), no tuning,"]
    header += [
        f"# trained at seeds {record['final']['seeds']} side by side; finished in time: {seeds}. The ensemble of all",
        "# finished seeds was registered here before any test score was computed.",
    ]
    cfg = {
        "name": Path(args.bench_config).stem,
        "description": f"ANERcorp: {args.full} with {change} ({how}), {len(seeds)} seeds and their ensemble.",
        "seeds": seeds,
        "systems": [
            {"name": args.system, "description": f"{args.full} with {change} ({how})", "train": args.full,
             **({"set": chosen} if chosen else {})},
            {"name": names[1], "description": f"the models of {args.system} of every seed, word probabilities averaged",
             "ensemble": args.system},
        ],
        "suites": suites,
    }
    text = "\n".join(header) + "\n" + yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False, width=120)
    Path(args.bench_config).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
