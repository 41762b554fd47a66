"""``araquote data …`` commands: validate, stats, build, lint, silver, export, import."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from araquote.inference.schema import Document, DocumentError, parse_jsonl_line, read_jsonl, validate
from araquote.inference.text import split_words


def run(args: argparse.Namespace) -> int:
    return {"validate": _validate, "stats": _stats, "build": _build, "lint": _lint, "silver": _silver,
            "export": _export, "import": _import}[args.data_command](args)


def _validate(args: argparse.Namespace) -> int:
    bad = 0
    for f in args.files:
        problems: list[str] = []
        n = 0
        seen: dict[str, int] = {}
        try:
            with open(f, "rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    if not raw.strip():
                        continue
                    n += 1
                    try:  # one malformed line is reported, the rest of the file is still checked
                        doc = parse_jsonl_line(raw, f"{f}:{lineno}")
                    except DocumentError as exc:
                        problems.append(str(exc))
                        continue
                    if doc.id in seen:
                        problems.append(f"{f}:{lineno}: duplicate document id {doc.id!r} (first on line {seen[doc.id]})")
                    seen.setdefault(doc.id, lineno)
                    problems.extend(validate(doc, where=f"{f}:{lineno}"))
        except FileNotFoundError:
            problems.append(f"{f}: file not found")
        except OSError as exc:
            problems.append(f"{f}: cannot read this file ({exc.strerror or exc})")
        if problems:
            bad += 1
            print("\n".join(problems), file=sys.stderr)
            print(f"{f}: INVALID ({len(problems)} problem(s))")
        else:
            print(f"{f}: ok ({n} documents)")
    return 1 if bad else 0


def corpus_stats(docs: Sequence[Document]) -> dict[str, Any]:
    """Counts a data card needs: documents, tokens, spans per layer/label, records per kind, cues."""
    spans: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    cues: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    tokens = implicit = no_quote = 0
    for d in docs:
        tokens += len(split_words(d.text))
        layers.update(d.layers)
        spans.update(f"{s.layer}/{s.label}" for s in d.spans)
        by_id = d.span_by_id()
        for q in d.quotes:
            kinds[q.kind] += 1
            implicit += q.implicit_speaker
            if q.cue and q.cue in by_id:
                cues[cue_lemma(d.text[by_id[q.cue].start : by_id[q.cue].end])] += 1
        no_quote += "attribution" in d.layers and not d.quotes
    return {
        "documents": len(docs),
        "tokens": tokens,
        "documents_per_layer": dict(layers),
        "spans": dict(sorted(spans.items())),
        "entity_spans": sum(v for k, v in spans.items() if k.startswith("entities/")),
        "quote_records": sum(kinds.values()),
        "quote_kinds": dict(kinds),
        "implicit_speaker": implicit,
        "documents_without_quotes": no_quote,
        "cue_lemmas": len(cues),
        "cues": dict(cues.most_common()),
    }


#: Anonymous and collective sources (folded, without و/ف/ال): "مصدر مطلع", "مسؤولون", "البيان", "الوكالة" ...
ANONYMOUS_SOURCES = frozenset(
    """مصدر مصادر مسؤول مسؤولون مسؤولين مسوول مسوولون مسوولين بيان البيان وكاله الوكاله شهود سكان مراقبون مراقبين
    محللون محللين خبراء متحدث ناطق مقربون مقربين اوساط دوائر تقارير تقرير مصدرا""".split()
)
_PROCLITIC_ENTITY = ("و", "ب", "ل", "ف", "ك")
PHENOMENA = (
    ("direct quote", "records"), ("indirect quote", "records"), ("mixed quote", "records"),
    ("quote over several sentences", "records"), ("quote over several paragraphs", "records"),
    ("speaker before the cue", "records"), ("speaker after the cue", "records"),
    ("speaker after the quote", "records"), ("no cue (headline 'المصدر: …')", "records"),
    ("implicit (pro-drop) speaker", "records"), ("anonymous or collective source", "records"),
    ("article without quotes", "documents"), ("article over 1,500 words", "documents"),
    ("reporting verb outside any record", "words"), ("quotation marks around a non-quote", "pairs"),
    ("'اقرأ أيضا' line", "lines"), ("question mark", "marks"),
    ("entity with an attached proclitic", "spans"), ("multi-word entity", "spans"),
    ("entity inside a QUOTE", "spans"), ("entity inside a SPEAKER", "spans"),
)


def phenomena(doc: Document) -> Counter[str]:
    """How often ``doc`` shows each corpus phenomenon of :data:`PHENOMENA` (heuristic where the JSONL
    does not say it: anonymous sources by a word list, proclitics by a leading و/ب/ل/ف/ك on a
    word the gazetteer-free stemmer splits)."""
    from araquote.inference.rules import fold, is_cue
    from araquote.inference.wordfeatures import split_clitics

    out: Counter[str] = Counter()
    text, by_id = doc.text, doc.span_by_id()
    words = split_words(text)
    n_words = sum(1 for w in words if w.text[0].isalnum())
    quotes = [s for s in doc.spans if s.layer == "attribution" and s.label == "QUOTE"]
    speakers = [s for s in doc.spans if s.layer == "attribution" and s.label == "SPEAKER"]
    cues = [s for s in doc.spans if s.layer == "attribution" and s.label == "CUE"]
    for q in doc.quotes:
        quote, cue, speaker = by_id.get(q.quote), by_id.get(q.cue or ""), by_id.get(q.speaker or "")
        out[f"{q.kind} quote"] += 1
        out["implicit (pro-drop) speaker"] += bool(q.implicit_speaker)
        if quote is not None:
            body = text[quote.start : quote.end].rstrip(" .!?؟»”\"")
            out["quote over several sentences"] += any(ch in body for ch in ".!؟?")
            out["quote over several paragraphs"] += "\n" in body
        if cue is None:
            out["no cue (headline 'المصدر: …')"] += 1
        if speaker is not None and not q.implicit_speaker:
            if cue is not None and speaker.start < cue.start:
                out["speaker before the cue"] += 1
            elif cue is not None and quote is not None and cue.start < speaker.start < quote.start:
                out["speaker after the cue"] += 1
            if quote is not None and speaker.start >= quote.end:
                out["speaker after the quote"] += 1
            first = [fold(w.text) for w in split_words(text[speaker.start : speaker.end]) if w.text[0].isalpha()]
            if first and (first[0] in ANONYMOUS_SOURCES or split_clitics(first[0])[1] in ANONYMOUS_SOURCES):
                out["anonymous or collective source"] += 1
    if "attribution" in doc.layers and not doc.quotes:
        out["article without quotes"] += 1
    out["article over 1,500 words"] += n_words > 1500
    inside = [(s.start, s.end) for s in cues]
    out["reporting verb outside any record"] += sum(
        1 for w in words if w.text[0].isalpha() and is_cue(w.text) and not any(a <= w.start < b for a, b in inside))
    in_quote = [(s.start, s.end) for s in quotes]
    out["quotation marks around a non-quote"] += sum(
        1 for a, b in _mark_pairs(text) if not any(qa < b and a + 1 < qb for qa, qb in in_quote))
    out["'اقرأ أيضا' line"] += sum(1 for line in text.split("\n") if fold(line.strip()).startswith(("اقرا ايضا", "اقرأ أيضا")))
    out["question mark"] += text.count("؟") + text.count("?")
    for e in (s for s in doc.spans if s.layer == "entities"):
        ews = [w for w in split_words(text[e.start : e.end]) if w.text[0].isalnum()]
        if ews and ews[0].text[0] in _PROCLITIC_ENTITY:
            clitic = split_clitics(fold(ews[0].text))[0]
            out["entity with an attached proclitic"] += bool(clitic) and clitic not in ("ال",)
        out["multi-word entity"] += len(ews) > 1
        out["entity inside a QUOTE"] += any(q.start <= e.start and e.end <= q.end for q in quotes)
        out["entity inside a SPEAKER"] += any(p.start <= e.start and e.end <= p.end for p in speakers)
    return out


def _mark_pairs(text: str) -> list[tuple[int, int]]:
    """``(open, close)`` offsets of quotation-mark pairs: « », “ ”, „ “ and straight quotes taken in turn."""
    pairs, opened, straight = [], -1, -1
    for i, ch in enumerate(text):
        if ch in "«“„" and opened < 0:
            opened = i
        elif ch in "»”" and opened >= 0:
            pairs.append((opened, i))
            opened = -1
        elif ch == '"':
            if straight < 0:
                straight = i
            else:
                pairs.append((straight, i))
                straight = -1
    return pairs


def cue_lemma(cue: str) -> str:
    """A rough lemma of a cue for counting: the first word, spelling-folded, without attached و/ف,
    with feminine/plural verb endings and feminine participles folded (قالت، قالوا -> قال; مضيفة -> مضيفا);
    "وفقا لـ" -> وفق, "بحسب ما" -> بحسب, "جاء في" keeps its preposition."""
    from araquote.inference.rules import ACCORDING, CUE_PARTICIPLES, CUE_VERBS, fold

    words = [fold(w.text) for w in split_words(cue) if w.text[0].isalnum()]
    if not words:
        return cue
    known = CUE_VERBS | CUE_PARTICIPLES | ACCORDING | {"وفقا", "جاء", "نقلا", "علي"}
    w = words[0]
    if w not in known and len(w) > 3 and w[0] in "وف" and (w[1:] in known or len(w) > 4):
        w = w[1:]
    if w.endswith("ه") and w[:-1] + "ا" in CUE_PARTICIPLES:
        w = w[:-1] + "ا"
    for suffix in ("وا", "ت", "ا"):
        if w.endswith(suffix) and w[: -len(suffix)] in CUE_VERBS and w not in CUE_PARTICIPLES:
            w = w[: -len(suffix)]
            break
    w = {"وفقا": "وفق", "طبقا": "طبق", "حسبما": "حسب"}.get(w, w)
    if w in ("جاء", "نقلا", "علي") and len(words) > 1:
        w = f"{w} {words[1]}"
    return w


def _stats(args: argparse.Namespace) -> int:
    docs: list[Document] = []
    per_file: dict[str, Counter[str]] = {}
    for f in args.files:
        these = [doc for _, doc in read_jsonl(f)]
        docs.extend(these)
        per_file[f] = sum((phenomena(d) for d in these), Counter())
    stats = corpus_stats(docs)
    stats["phenomena"] = {f: {name: c[name] for name, _ in PHENOMENA} for f, c in per_file.items()}
    missing = [(f, name) for f, c in per_file.items() for name, _ in PHENOMENA if not c[name]]
    stats["phenomena_missing"] = [f"{f}: {name}" for f, name in missing]
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return 0
    for key in ("documents", "tokens", "entity_spans", "quote_records", "implicit_speaker", "documents_without_quotes", "cue_lemmas"):
        print(f"{key:26} {stats[key]}")
    print("quote kinds               ", stats["quote_kinds"])
    print("spans per layer/label:")
    for k, v in stats["spans"].items():
        print(f"  {k:24} {v}")
    names = [Path(f).stem for f in per_file]
    print("phenomena per file (" + ", ".join(f"{n} = {f}" for n, f in zip(names, per_file)) + "):")
    print(f"  {'':42} {'unit':9} " + " ".join(f"{n:>7}" for n in names))
    for name, unit in PHENOMENA:
        print(f"  {name:42} {unit:9} " + " ".join(f"{per_file[f][name]:>7}" for f in per_file))
    if missing:
        print("missing: " + "; ".join(stats["phenomena_missing"]))
    else:
        print(f"every phenomenon is present in every file ({len(per_file)})")
    return 0


def _build(args: argparse.Namespace) -> int:
    from .build import build_corpus

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build_corpus(args.src, tmp)
            diff = [n for n in ("train", "dev", "test")
                    if (Path(tmp) / f"{n}.jsonl").read_bytes() != (Path(args.out) / f"{n}.jsonl").read_bytes()]
        if diff:
            print(f"out of date: {', '.join(diff)} (run: araquote data build)")
            return 1
        print("corpus JSONL matches the authoring files")
        return 0
    counts = build_corpus(args.src, args.out)
    print(json.dumps(counts))
    return 0


def _lint(args: argparse.Namespace) -> int:
    from .lint import lint_files

    flags, allowed = lint_files(args.files, args.allow)
    for f in flags:
        print(f)
    print(f"{len(flags)} flag(s) not in the allow-list; {allowed} allowed with a reason")
    return 1 if flags else 0


def _silver(args: argparse.Namespace) -> int:
    from .silver import make_silver

    counts = make_silver(args.inputs, args.output, max_docs=args.max_docs)
    print(json.dumps(counts))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .interchange import export_file

    counts = export_file(args.format, args.input, args.output, layer=args.layer, target=args.target,
                         model_dir=args.model, sentences=args.sentences)
    print(json.dumps(counts, ensure_ascii=False))
    return 0


def _import(args: argparse.Namespace) -> int:
    from .interchange import import_file

    counts = import_file(args.format, args.input, args.output, doc_tokens=args.doc_tokens,
                         default_kind=args.default_kind, config=args.config)
    print(json.dumps(counts, ensure_ascii=False))
    return 0
