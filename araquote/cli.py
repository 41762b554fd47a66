"""``araquote`` command line: thin wrappers over library functions.

Training-side commands (train, evaluate, data …) import ``araquote.training``
lazily, so ``araquote tag`` works in a deployment without datasets/accelerate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from araquote.inference.schema import AraquoteError


def _load_tagger(model: str | list[str], device: str, dtype: str, batch_size: int) -> Any:
    from araquote.inference.ensemble import load_tagger

    return load_tagger(model, device=device, dtype=dtype, batch_size=batch_size)


def cmd_train(args: argparse.Namespace) -> int:
    from araquote.training.config import load_config
    from araquote.training.train import train

    cfg = load_config(args.config, args.set)
    metrics = train(cfg, progress=not args.quiet)
    if metrics:
        summary = {split: {layer: v["micro"]["f1"] for layer, v in metrics[split]["layers"].items()} for split in ("dev", "test") if split in metrics}
        print(json.dumps({"output_dir": cfg.output_dir, "micro_f1": summary, "train_seconds": metrics["train_seconds"]}, ensure_ascii=False))
    return 0


def cmd_lexicon(args: argparse.Namespace) -> int:
    from araquote.training.config import load_config
    from araquote.training.train import LEXICON_GRID, tune_lexicon

    cfg = load_config(args.config, args.set)
    grid = [float(x) for x in args.grid.split(",")] if args.grid else list(LEXICON_GRID)
    result = tune_lexicon(args.model, cfg, grid, rebuild=args.rebuild, write=args.write)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from araquote.training.evaluate import evaluate

    report = evaluate(args.model, args.data, oracle_spans=args.oracle_spans, device=args.device, dtype=args.dtype)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)
    from araquote.training.evaluate import format_summary

    print(format_summary(report) if args.output else text)
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    from araquote.inference.batch import run_tag_job

    index, count = _parse_shard(args.shard)
    if args.format == "html" and (args.resume or args.shard or args.errors):
        raise ValueError("--format html writes one page per batch; --resume, --shard and --errors apply to JSONL output only")
    tagger = _load_tagger(args.model, args.device, args.dtype, args.batch_size)
    if args.format == "html":
        from araquote.inference.html import render_job

        return render_job(tagger, args.inputs, args.output, args.max_chars)
    output = args.output
    if count > 1 and output not in (None, "-"):
        from araquote.inference.batch import shard_path

        output = shard_path(output, index, count)  # merge with: araquote merge --shards N INPUTS -o OUTPUT
    counts = run_tag_job(tagger, args.inputs, output, resume=args.resume, errors=args.errors,
                         max_chars=args.max_chars, chunk_docs=args.chunk, progress=not args.quiet, shard=(index, count))
    if getattr(tagger, "auto_report", None):
        print(json.dumps({"dtype_auto": tagger.auto_report}), file=sys.stderr)
    print(json.dumps(counts), file=sys.stderr)
    return 0


def _parse_shard(shard: str | None) -> tuple[int, int]:
    """``I/N`` -> (I, N) with 0 <= I < N; accelerate's process index/count when launched with accelerate."""
    if not shard:
        import os

        n = int(os.environ.get("WORLD_SIZE", "1"))
        return int(os.environ.get("RANK", "0")), n
    try:
        index, count = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {shard!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard I/N needs 0 <= I < N, got {shard!r}")
    return index, count


def cmd_merge(args: argparse.Namespace) -> int:
    from araquote.inference.batch import merge_shards

    print(json.dumps(merge_shards(args.inputs, args.output, args.shards, args.max_chars)), file=sys.stderr)
    return 0


def cmd_quotes(args: argparse.Namespace) -> int:
    from araquote.inference.quotes import print_quotes

    print_quotes(args.file, by_speaker=args.by_speaker)
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from araquote.inference.html import view_files

    output = args.output or str(Path(args.files[0]).with_suffix(".html"))
    n = view_files(args.files, output, title=args.title)
    if output != "-":
        print(f"{n} documents rendered to {output}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from araquote.inference.server import serve

    tagger = _load_tagger(args.model, args.device, args.dtype, args.batch_size)
    serve(tagger, args.model, host=args.host, port=args.port, max_bytes=args.max_bytes, max_batch=args.max_batch, quiet=args.quiet)
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    import shlex

    from araquote.training.benchmark import run_benchmark

    command = " ".join(shlex.quote(a) for a in ["araquote", "benchmark", args.config] + (["--quick"] if args.quick else [])
                       + (["--out", args.out] if args.out else []) + (["--seeds", args.seeds] if args.seeds else []))
    seeds = None
    if args.seeds:
        try:
            seeds = [int(x) for x in args.seeds.split(",")]
        except ValueError:
            print(f"araquote benchmark: --seeds takes a comma list of integers, got {args.seeds!r}", file=sys.stderr)
            return 2
    report = run_benchmark(args.config, quick=args.quick, out=args.out, command=command, progress=not args.quiet, seeds=seeds)
    out = args.out or f"benchmarks/results/{report['name']}"
    print(f"benchmark report written to {out}/report.md and {out}/report.json", file=sys.stderr)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from araquote.training import datacli

    return datacli.run(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="araquote", description="Who said what in Arabic news: quotes and entities.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a two-layer model from a YAML config")
    t.add_argument("config")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.epochs=3")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    lx = sub.add_parser("lexicon", help="build a checkpoint's name lexicon from a config's train split; tune its weight on dev")
    lx.add_argument("model", help="checkpoint dir (written by 'araquote train')")
    lx.add_argument("--config", required=True, help="the training config: its train split builds the lexicon, its dev split tunes it")
    lx.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    lx.add_argument("--grid", default="", help="comma-separated weights to try (default 0,0.5,1,2,3,4,6,8,10,12)")
    lx.add_argument("--rebuild", action="store_true", help="rebuild the entries even if the checkpoint has some")
    lx.add_argument("--write", action="store_true", help="store the entries and the chosen weight in the checkpoint")
    lx.set_defaults(func=cmd_lexicon)

    e = sub.add_parser("evaluate", help="score a model (or the rules baseline) on gold JSONL")
    e.add_argument("--model", required=True, action="append",
                   help="checkpoint dir, or 'rules'; repeat it to average several checkpoints (an ensemble)")
    e.add_argument("--data", required=True, nargs="+")
    e.add_argument("-o", "--output")
    e.add_argument("--oracle-spans", action="store_true", help="use the gold spans; score only the quote-record resolver")
    e.add_argument("--device", default="auto")
    e.add_argument("--dtype", default="fp32")
    e.set_defaults(func=cmd_evaluate)

    g = sub.add_parser("tag", help="tag articles (.txt, .jsonl, directories, '-') into corpus JSONL")
    g.add_argument("--model", required=True, action="append",
                   help="checkpoint dir, or 'rules'; repeat it to average several checkpoints (an ensemble)")
    g.add_argument("inputs", nargs="+")
    g.add_argument("-o", "--output", default="-")
    g.add_argument("--format", choices=("jsonl", "html"), default="jsonl")
    g.add_argument("--resume", action="store_true", help="skip ids already in the output; repair a truncated last line")
    g.add_argument("--errors", help="error report JSONL (default OUTPUT.errors.jsonl)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--dtype", default="fp32", help="fp32 | bf16 | int8 | auto (fastest mode whose spans agree with fp32 on the first batch)")
    g.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    g.add_argument("--chunk", type=int, default=64, help="documents read, tagged and written per step")
    g.add_argument("--max-chars", type=int, default=1_000_000, help="longer documents go to the error report")
    g.add_argument("--shard", help="I/N: tag only documents whose position %% N == I")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=cmd_tag)

    mg = sub.add_parser("merge", help="merge the shard outputs of a sharded 'tag' run back into input order")
    mg.add_argument("inputs", nargs="+", help="the same inputs the sharded run read")
    mg.add_argument("-o", "--output", required=True, help="the -o the sharded run was given")
    mg.add_argument("--shards", type=int, required=True)
    mg.add_argument("--max-chars", type=int, default=1_000_000)
    mg.set_defaults(func=cmd_merge)

    q = sub.add_parser("quotes", help="list quote records of a tagged JSONL file")
    q.add_argument("file")
    q.add_argument("--by-speaker", action="store_true")
    q.set_defaults(func=cmd_quotes)

    vw = sub.add_parser("view", help="render tagged JSONL as one self-contained right-to-left HTML page")
    vw.add_argument("files", nargs="+")
    vw.add_argument("-o", "--output", help="page path, or '-' for stdout (default: first file with .html)")
    vw.add_argument("--title", help="page title (default: the file names)")
    vw.set_defaults(func=cmd_view)

    sv = sub.add_parser("serve", help="HTTP tagging service: GET /health, POST /tag, demo page at /")
    sv.add_argument("--model", required=True, help="checkpoint dir, or 'rules'")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback; there is no authentication)")
    sv.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    sv.add_argument("--max-bytes", type=int, default=2 * 1024 * 1024, help="largest request body; larger -> 413")
    sv.add_argument("--max-batch", type=int, default=32, help="most documents per request; more -> 413")
    sv.add_argument("--device", default="auto", help="auto | cpu | cuda")
    sv.add_argument("--dtype", default="fp32", help="fp32 | bf16 | int8 | auto (fastest mode whose spans agree with fp32 on the first batch)")
    sv.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    sv.add_argument("--quiet", action="store_true", help="no access log")
    sv.set_defaults(func=cmd_serve)

    bm = sub.add_parser("benchmark", help="train/load systems, score them on held-out suites, write report.md/.json + charts")
    bm.add_argument("config", help="benchmark YAML, e.g. configs/benchmarks/quick.yaml")
    bm.add_argument("--quick", action="store_true", help="tiny models trained in seconds, one seed, first few documents (CI)")
    bm.add_argument("--out", help="output folder (default benchmarks/results/NAME)")
    bm.add_argument("--quiet", action="store_true", help="no progress output")
    bm.add_argument("--seeds", help="comma list replacing the config's seeds, e.g. 13 for one run per system")
    bm.set_defaults(func=cmd_benchmark)

    d = sub.add_parser("data", help="corpus tools")
    add_data_commands(d)
    d.set_defaults(func=cmd_data)
    return p


def add_data_commands(d: argparse.ArgumentParser) -> None:
    ds = d.add_subparsers(dest="data_command", required=True)
    v = ds.add_parser("validate", help="check corpus JSONL files against the annotation contract")
    v.add_argument("files", nargs="+")
    s = ds.add_parser("stats", help="documents, tokens, spans per layer/label, quote kinds, cues")
    s.add_argument("files", nargs="*", default=["data/train.jsonl", "data/dev.jsonl", "data/test.jsonl"])
    s.add_argument("--json", action="store_true")
    b = ds.add_parser("build", help="authoring files -> train/dev/test JSONL")
    b.add_argument("--src", default="data/corpus/articles")
    b.add_argument("--out", default="data")
    b.add_argument("--check", action="store_true", help="only check that the JSONL on disk equals a fresh build")
    lint = ds.add_parser("lint", help="flag likely misses and inconsistencies in the corpus")
    lint.add_argument("files", nargs="*", default=["data/train.jsonl", "data/dev.jsonl", "data/test.jsonl"])
    lint.add_argument("--allow", default="data/corpus/lint-allow.yaml")
    sv = ds.add_parser("silver", help="label high-precision quotes in raw articles with the rules")
    sv.add_argument("inputs", nargs="+", help="raw JSONL ({id, text}) or .txt files or directories")
    sv.add_argument("-o", "--output", required=True)
    sv.add_argument("--max-docs", type=int, default=0)
    _add_interchange_commands(ds)


def _add_interchange_commands(ds: Any) -> None:
    """``data export`` / ``data import``: Label Studio, doccano, CoNLL, Wojood (see training/interchange.py)."""
    ex = ds.add_parser("export", help="corpus/tagged JSONL -> Label Studio tasks (+ config), doccano JSONL or CoNLL")
    ex.add_argument("input", help="corpus or tagged JSONL")
    ex.add_argument("-o", "--output", required=True, help="labelstudio also writes OUTPUT's stem + .config.xml")
    ex.add_argument("--format", required=True, choices=("labelstudio", "doccano", "conll"))
    ex.add_argument("--layer", default="entities", choices=("attribution", "entities"), help="conll: the layer's tags")
    ex.add_argument("--sentences", action="store_true", help="conll: blank line between sentences, not only documents")
    ex.add_argument("--as", dest="target", default="auto", choices=("auto", "annotations", "predictions"),
                    help="labelstudio: auto = predictions when the spans have scores")
    ex.add_argument("--model", help="labelstudio: also put this checkpoint's labels in the labelling config")
    im = ds.add_parser("import", help="Label Studio JSON export, doccano JSONL or Wojood .txt -> corpus JSONL")
    im.add_argument("input")
    im.add_argument("-o", "--output", required=True)
    im.add_argument("--format", required=True, choices=("labelstudio", "doccano", "wojood"))
    im.add_argument("--config", help="labelstudio: labelling config whose labels are the allowed ones")
    im.add_argument("--default-kind", choices=("direct", "indirect", "mixed"),
                    help="labelstudio: kind of QUOTE regions without one (default: report them)")
    im.add_argument("--doc-tokens", type=int, default=0, help="wojood: pack sentences into documents of ~N tokens")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (AraquoteError, ValueError, OSError) as exc:
        print(f"araquote: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head/less that closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("araquote: interrupted", file=sys.stderr)
        return 130
