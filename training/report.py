"""The benchmark report: its JSON Schema check, PNG charts and ``report.md``.

:func:`write_outputs` writes what ``araquote benchmark`` leaves in its output folder from the report that
:mod:`araquote.training.benchmark` builds: ``charts/*.png`` (per-label F1 bars per system, precision/recall,
a confusion matrix of entity labels), ``report.json`` (validated against ``benchmarks/report.schema.json``
before anything is written) and ``report.md`` (provenance, systems, one section per suite with its tables,
the published figures beside ours, and the charts). Nothing here trains or scores: it renders a report dict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from araquote.inference.schema import (
    ATTRIBUTION,
    ATTRIBUTION_LABELS,
    DEFAULT_ENTITY_LABELS,
    ENTITIES,
    LAYERS,
    AraquoteError,
)

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "report.schema.json"


class BenchmarkError(AraquoteError, ValueError):
    """A benchmark cannot run: a stale run folder, a missing package, a report that breaks its schema."""


def aggregate(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (None for one value) of per-seed figures."""
    n = len(values)
    mean = sum(values) / n if n else 0.0
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": round(mean, 4), "std": None if std is None else round(std, 4), "n": n, "values": [round(v, 4) for v in values]}


def label_order(labels: Any) -> list[str]:
    """Labels in the schema's order (SPEAKER CUE QUOTE, PER ORG LOC MISC), then any others alphabetically."""
    found = set(labels)
    known = [lab for lab in (*ATTRIBUTION_LABELS, *DEFAULT_ENTITY_LABELS) if lab in found]
    return known + sorted(found - set(known))


def validate_report(report: dict[str, Any], schema_path: Path = SCHEMA_PATH) -> None:
    """Raise :class:`BenchmarkError` listing where ``report`` breaks the JSON Schema."""
    import jsonschema

    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchmarkError(f"report schema not found: {schema_path} (run from a source checkout of araquote)") from None
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]]
        raise BenchmarkError(f"report breaks {schema_path} ({len(errors)} problem(s)):\n  " + "\n  ".join(lines))

def write_outputs(report: dict[str, Any], out_dir: Path) -> None:
    """Charts, then the validated report.json, then report.md (the report is validated before anything is written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report["charts"] = make_charts(report, out_dir)
    validate_report(report)
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- charts


def make_charts(report: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """PNG charts under ``out_dir/charts``; returns their entries (paths relative to ``out_dir``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts_dir = out_dir / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    charts: list[dict[str, Any]] = []
    confusion_done = False
    for suite in report["suites"]:
        ok = [e for e in suite["results"] if e["status"] == "ok"]
        for layer in LAYERS:
            rows = [e for e in ok if e["per_label"].get(layer)]
            if rows:
                charts.append(_per_label_chart(plt, suite["name"], layer, rows, out_dir))
        if any(f"{layer}.micro_f1" in e["summary"] for e in ok for layer in LAYERS):
            charts.append(_pr_chart(plt, suite["name"], ok, out_dir))
        with_confusion = [e for e in ok if e.get("confusion")]
        if with_confusion and not confusion_done:
            charts += [_confusion_chart(plt, suite["name"], e, out_dir) for e in with_confusion]
            confusion_done = True
    return charts


def _chart(plt: Any, fig: Any, out_dir: Path, stem: str, **entry: Any) -> dict[str, Any]:
    rel = f"charts/{stem}.png"
    fig.savefig(out_dir / rel, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return {"path": rel, "system": None, "layer": None, **entry}


def _per_label_chart(plt: Any, suite: str, layer: str, rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    """Grouped bars: per-label (and micro) F1 of each system, error bars = std over seeds."""
    labels = label_order(lab for e in rows for lab in e["per_label"][layer])
    groups = labels + ["micro"]
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) + 2), 4))
    for k, e in enumerate(rows):
        stats = [e["per_label"][layer].get(lab, {}).get("f1") for lab in labels] + [e["summary"].get(f"{layer}.micro_f1")]
        means = [s["mean"] if s else 0.0 for s in stats]
        errs = [s["std"] or 0.0 if s else 0.0 for s in stats]
        xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, means, width, yerr=errs if any(errs) else None, capsize=3, label=e["system"])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1")
    ax.set_title(f"{suite}: {layer}, F1 per label")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _chart(plt, fig, out_dir, f"{suite}-{layer}-f1", suite=suite, kind="per_label_f1", layer=layer,
                  title=f"{suite}: {layer}, F1 per label")


def _pr_chart(plt: Any, suite: str, rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    """Micro precision against recall per system and layer, with iso-F1 curves."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for f in (0.2, 0.4, 0.6, 0.8):
        rs = [f / 2 + 0.005 + i * (1.05 - f / 2) / 200 for i in range(200)]
        pts = [(r, f * r / (2 * r - f)) for r in rs if 2 * r - f > 0 and f * r / (2 * r - f) <= 1.05]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="0.85", lw=0.8)
        if pts:
            ax.annotate(f"F1={f}", pts[0], fontsize=7, color="0.5")
    markers = {ATTRIBUTION: "o", ENTITIES: "s"}
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, e in enumerate(rows):
        for layer in LAYERS:
            if f"{layer}.micro_f1" in e["summary"]:
                r, p = e["summary"][f"{layer}.micro_recall"]["mean"], e["summary"][f"{layer}.micro_precision"]["mean"]
                ax.scatter([r], [p], marker=markers[layer], color=colours[k % len(colours)], label=f"{e['system']} ({layer})")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall (micro)")
    ax.set_ylabel("precision (micro)")
    ax.set_title(f"{suite}: precision and recall")
    ax.legend(fontsize=7, loc="lower left")
    return _chart(plt, fig, out_dir, f"{suite}-precision-recall", suite=suite, kind="precision_recall",
                  title=f"{suite}: precision and recall")


def _confusion_chart(plt: Any, suite: str, entry: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Gold (rows) against predicted (columns) entity types per word; colour = share of the gold row."""
    labels, counts = entry["confusion"]["labels"], entry["confusion"]["counts"]
    shares = [[c / max(sum(row), 1) for c in row] for row in counts]
    fig, ax = plt.subplots(figsize=(1.0 * len(labels) + 2, 0.9 * len(labels) + 1.5))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(counts):
        for j, c in enumerate(row):
            ax.text(j, i, str(c), ha="center", va="center", fontsize=8, color="white" if shares[i][j] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    system = entry["system"]
    ax.set_title(f"{suite}: {system}, entity types per word (seed {entry['seeds'][0]})", fontsize=9)
    return _chart(plt, fig, out_dir, f"{suite}-{system}-confusion", suite=suite, kind="confusion", system=system,
                  layer=ENTITIES, title=f"{suite}: {system}, entity confusion")


# ---------------------------------------------------------------------------------------------- markdown

COLUMNS = (
    ("attribution.micro_f1", "attribution micro F1"),
    ("entities.micro_f1", "entities micro F1"),
    ("entities.macro_f1", "entities macro F1"),
    ("quotes.exact.QUOTE.f1", "QUOTE exact F1"),
    ("quotes.overlap.QUOTE.f1", "QUOTE overlap F1"),
    ("quotes.records@0.3.f1", "records F1 @0.3"),
    ("quotes.records@0.8.f1", "records F1 @0.8"),
    ("quotes.speaker_accuracy", "speaker acc."),
)


def _pct(stat: dict[str, Any] | float | None) -> str:
    """A figure in percent; a mean with ``± std`` when there are several seeds."""
    if stat is None:
        return "–"
    if isinstance(stat, dict):
        text = f"{100 * stat['mean']:.2f}"
        return text + (f" ± {100 * stat['std']:.2f}" if stat.get("std") is not None else "")
    return f"{100 * stat:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: provenance, systems, one section per suite (tables, published figures, charts), notes."""
    lines = [f"# Benchmark: {report['name']}", ""]
    if report["description"]:
        lines += [report["description"], ""]
    if report["quick"]:
        lines += ["> **quick: true**: tiny models trained in seconds on a few documents, one seed, few test documents. "
                  "A check that the pipeline runs, not a result.", ""]
    lines += _provenance_md(report) + _systems_md(report)
    for suite in report["suites"]:
        lines += _suite_md(suite, [c for c in report["charts"] if c["suite"] == suite["name"]])
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _provenance_md(report: dict[str, Any]) -> list[str]:
    env = report["environment"]
    m = env["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    rows = [["date", report["date"]], ["command", f"`{report['command']}`"], ["config", f"`{report['config_path']}`"],
            ["quick", str(report["quick"]).lower()], ["seeds", ", ".join(map(str, report["seeds"]))],
            ["evaluation", f"device {report['evaluation']['device']}, {report['evaluation']['batch_size']} windows per batch"],
            ["machine", f"{m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), GPU: {m['gpu'] or 'none'}"],
            ["platform", f"{m['platform']}, Python {m['python']}"], ["packages", packages]]
    return ["## Provenance", ""] + _table(["", ""], rows) + ["Scores are percentages (F1 etc. × 100); with several seeds, "
                                                             "mean ± sample standard deviation.", ""]


def _systems_md(report: dict[str, Any]) -> list[str]:
    rows = []
    for s in report["systems"]:
        source = s["config"] or s["model"] or "rules"
        if s["kind"] == "ensemble":
            members = [m for r in s["runs"] for m in r.get("members", [])]
            source = f"mean of the word probabilities of {len(members)} model(s): " + ", ".join(f"`{m}`" for m in members)
        if s.get("base"):
            source = f"the models of `{s['base']}`"
        if s["overrides"]:
            source += " " + " ".join(f"`--set {o}`" for o in s["overrides"])
        if s.get("decode"):
            source += ", decoded with " + ", ".join(f"{k} {v:g}" for k, v in s["decode"].items())
        train = [r["train_seconds"] for r in s["runs"] if r["train_seconds"] is not None]
        secs = f"{sum(train) / len(train):.1f}" if train else "–"
        seeds = ", ".join(str(r["seed"]) for r in s["runs"] if r["seed"] is not None) or "–"
        rows.append([s["name"], s["kind"], f"`{s['encoder']}`", source, _trained_on(s["training_data"]), seeds, secs,
                     s["skipped"] or ""])
    return ["## Systems", ""] + _table(["system", "kind", "encoder", "from", "trained on", "seeds", "train s (mean)", "note"],
                                       rows)


def _trained_on(data: list[dict[str, Any]]) -> str:
    """The training (and dev) files of a system in a few words: file name, slice, weight, layers taught."""
    parts = []
    for d in data:
        text = ("dev: " if d["split"] == "dev" else "") + f"`{Path(d['path']).name}`"
        if d.get("portion"):
            text += f" [{d['portion'][0]:g}, {d['portion'][1]:g}]"
        if d.get("weight", 1.0) != 1.0:
            text += f" ×{d['weight']:g}"
        if d.get("layers"):
            text += f" ({', '.join(d['layers'])} only)"
        parts.append(text)
    return "; ".join(parts) or "–"


def _suite_md(suite: dict[str, Any], charts: list[dict[str, Any]]) -> list[str]:
    lines = [f"## Suite: {suite['name']}", ""]
    if suite["description"]:
        lines += [suite["description"], ""]
    data = _data_md(suite["data"])
    lines += [f"Data: {data}. Scored: {suite['documents']} documents, layers: {', '.join(suite['layers']) or 'none'}.", ""]
    if suite["note"]:
        lines += [f"*{suite['note']}*", ""]
    ok = [e for e in suite["results"] if e["status"] == "ok"]
    lines += [f"- {e['system']}: skipped ({e['note']})" for e in suite["results"] if e["status"] != "ok"]
    if not ok:
        return lines + [""]
    lines += _scores_md(ok)
    for layer in LAYERS:
        if any(layer in e["per_label"] for e in ok):
            lines += _per_label_md(layer, ok)
    if any("quotes.records@0.3.f1" in e["summary"] for e in ok):
        lines += _roles_md(ok)
    if suite["published"]:
        lines += _published_md(suite["published"])
    lines += _runs_md(ok)
    for c in charts:
        lines += [f"![{c['title']}]({c['path']})", ""]
    return lines


def _data_md(sources: list[dict[str, Any]]) -> str:
    """Data paths, format, split and document counts; many files of one folder are listed as one entry."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in sources:
        key = (str(Path(d["path"]).parent) if len(sources) > 3 else d["path"], d["format"], d["split"])
        groups.setdefault(key, []).append(d)
    parts = []
    for (where, fmt, split), ds in groups.items():
        docs = f", {sum(d['documents'] for d in ds)} documents" if all("documents" in d for d in ds) else ""
        if len(ds) == 1:
            parts.append(f"`{ds[0]['path']}` ({fmt}, split {split}{docs})")
        else:
            names = ", ".join(Path(d["path"]).name for d in ds)
            parts.append(f"`{where}/` {len(ds)} files ({names}; {fmt}, split {split}{docs})")
    return "; ".join(parts)


def _scores_md(ok: list[dict[str, Any]]) -> list[str]:
    cols = [(k, title) for k, title in COLUMNS if any(k in e["summary"] for e in ok)]
    rows = []
    for e in ok:
        train = f"{e['train_seconds']['mean']:.1f}" if e["train_seconds"] else "–"
        rows.append([e["system"], f"`{e['encoder']}`", ", ".join(str(s) for s in e["seeds"] if s is not None) or "–"]
                    + [_pct(e["summary"].get(k)) for k, _ in cols] + [train, f"{e['eval_seconds']['mean']:.2f}"])
    return ["### Scores", ""] + _table(["system", "encoder", "seeds"] + [t for _, t in cols] + ["train s", "eval s"], rows)


def _per_label_md(layer: str, ok: list[dict[str, Any]]) -> list[str]:
    labels = label_order(lab for e in ok for lab in e["per_label"].get(layer, {}))
    rows = []
    for lab in labels:
        for e in ok:
            stat = e["per_label"].get(layer, {}).get(lab)
            if stat:
                rows.append([lab, str(stat["support"]), e["system"], _pct(stat["precision"]), _pct(stat["recall"]), _pct(stat["f1"])])
    return [f"### Per label: {layer}", ""] + _table(["label", "support", "system", "P", "R", "F1"], rows)


def _roles_md(ok: list[dict[str, Any]]) -> list[str]:
    rows = []
    for role in ATTRIBUTION_LABELS:
        for e in ok:
            if "quotes.records@0.3.f1" not in e["summary"]:
                continue
            cells = []
            for mode in ("exact", "overlap"):
                for m in ("precision", "recall", "f1"):
                    cells.append(_pct(aggregate([r["scores"]["quotes"][mode][role][m] for r in e["runs"]])))
            rows.append([role, e["system"]] + cells)
    header = ["role", "system", "exact P", "exact R", "exact F1", "overlap P", "overlap R", "overlap F1"]
    return ["### Quote roles (exact and word-overlap span match)", ""] + _table(header, rows)


def _published_md(published: list[dict[str, Any]]) -> list[str]:
    systems = list(dict.fromkeys(c["system"] for p in published for c in p["comparison"]))
    rows = []
    for p in published:
        comp = {c["system"]: c for c in p["comparison"]}
        figures = [(key, p[key], lambda c, key=key: c.get(key)) for key in ("micro", "macro") if p[key] is not None]
        figures += [(f"{lab} F1", v, lambda c, lab=lab: c["per_type"].get(lab)) for lab, v in p["per_type"].items()]
        for what, value, get in figures:
            cells = []
            for s in systems:
                got = get(comp[s]) if s in comp else None
                ours = got["ours"] if got else None
                cells += [_pct(ours), f"{100 * got['difference']:+.2f}" if got and got["difference"] is not None else "–"]
            rows.append([p["name"], f"{p['layer']} {what}", _pct(value)] + cells)
    header = ["reference", "figure", "published"] + [h for s in systems for h in (s, f"Δ {s}")]
    sources = [f"- {p['name']}: {p['source']}" for p in published if p["source"]]
    return ["### Published figures beside ours", ""] + _table(header, rows) + (sources + [""] if sources else [])


def _runs_md(ok: list[dict[str, Any]]) -> list[str]:
    rows = [[e["system"], str(r["seed"]) if r["seed"] is not None else "–", f"`{r['model_dir'] or 'rules'}`",
             f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "–", f"{r['eval_seconds']:.2f}", str(r["documents"])]
            for e in ok for r in e["runs"]]
    return ["### Runs", ""] + _table(["system", "seed", "model", "train s", "eval s", "documents"], rows)
