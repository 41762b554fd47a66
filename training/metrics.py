"""The one scorer, used by the training loop, ``araquote evaluate`` and the benchmarks.

* ``layers.<layer>``: seqeval entity-level P/R/F1 (micro, macro, per label) on
  word-level BIO, only over documents whose gold ``layers`` list that layer.
* ``quotes.exact`` / ``quotes.overlap``: per attribution role, exact span match
  and word-overlap (token-level) P/R/F1.
* ``quotes.speaker_accuracy``: on gold records whose QUOTE a predicted QUOTE
  matches exactly, the share whose predicted speaker is right.
* ``quotes.records``: records matched one-to-one by quote overlap (Hungarian),
  P/R/F1 at overlap >= 0.3 and >= 0.8, and speaker (explicit/implicit), cue and
  kind accuracy on the records matched at >= 0.3. Overlap of two quotes is
  ``|shared words| / max(|pred words|, |gold words|)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from seqeval.metrics import classification_report

from araquote.inference.attribution import _norm, name_speakers
from araquote.inference.schema import ATTRIBUTION, ATTRIBUTION_LABELS, LAYERS, Document, Span
from araquote.inference.text import split_words
from araquote.training.features import word_tags

ROLES = ATTRIBUTION_LABELS
THRESHOLDS = (0.3, 0.8)


def _prf(tp: float, n_pred: float, n_gold: float) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(n_gold)}


def score(gold: Sequence[Document], pred: Sequence[Document]) -> dict[str, Any]:
    """Score predicted documents against gold ones (matched by id; every gold id must be predicted)."""
    by_id = {d.id: d for d in pred}
    missing = [g.id for g in gold if g.id not in by_id]
    if missing:
        raise ValueError(f"no prediction for {len(missing)} gold document(s), e.g. {missing[:3]}")
    pairs = [(g, by_id[g.id]) for g in gold]
    report: dict[str, Any] = {"documents": len(gold), "layers": {}}
    for layer in LAYERS:
        # a layer the system does not predict at all (the rules have no entities) is not scored
        scored = [(g, p) for g, p in pairs if layer in g.layers and layer in p.layers]
        if scored:
            report["layers"][layer] = score_layer(scored, layer)
    attr = [(g, p) for g, p in pairs if ATTRIBUTION in g.layers and ATTRIBUTION in p.layers]
    if attr:
        report["quotes"] = score_quotes(attr)
    return report


def score_layer(pairs: Sequence[tuple[Document, Document]], layer: str) -> dict[str, Any]:
    """seqeval entity-level scores for one layer."""
    y_true, y_pred = [], []
    for g, p in pairs:
        words = split_words(g.text)
        if not words:
            continue
        y_true.append(word_tags(g, words, layer))
        y_pred.append(word_tags(p, words, layer))
    rep = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    per_label = {
        k: {"precision": round(v["precision"], 4), "recall": round(v["recall"], 4), "f1": round(v["f1-score"], 4), "support": int(v["support"])}
        for k, v in rep.items()
        if not k.endswith(" avg")
    }

    def avg(key: str) -> dict[str, float]:
        v = rep.get(key, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        return {"precision": round(v["precision"], 4), "recall": round(v["recall"], 4), "f1": round(v["f1-score"], 4), "support": int(v["support"])}

    return {"micro": avg("micro avg"), "macro": avg("macro avg"), "per_label": per_label}


def _word_set(words_start: list[int], span: Span) -> frozenset[int]:
    import bisect

    i = bisect.bisect_left(words_start, span.start)
    j = bisect.bisect_left(words_start, span.end)
    return frozenset(range(i, j))


def score_quotes(pairs: Sequence[tuple[Document, Document]]) -> dict[str, Any]:
    """Exact/overlap span scores per role, speaker accuracy and record-level scores."""
    exact = {r: [0, 0, 0] for r in ROLES}  # tp, pred, gold
    overlap = {r: [0, 0, 0] for r in ROLES}
    spk = [0, 0]
    rec = _RecordTally()
    for g, p in pairs:
        starts = [w.start for w in split_words(g.text)]
        for role in ROLES:
            gs = {(s.start, s.end) for s in g.spans if s.layer == ATTRIBUTION and s.label == role}
            ps = {(s.start, s.end) for s in p.spans if s.layer == ATTRIBUTION and s.label == role}
            exact[role][0] += len(gs & ps)
            exact[role][1] += len(ps)
            exact[role][2] += len(gs)
            gw = set().union(*[_word_set(starts, Span("", a, b, "", "")) for a, b in gs]) if gs else set()
            pw = set().union(*[_word_set(starts, Span("", a, b, "", "")) for a, b in ps]) if ps else set()
            overlap[role][0] += len(gw & pw)
            overlap[role][1] += len(pw)
            overlap[role][2] += len(gw)
        _speaker_exact(g, p, spk)
        rec.add(g, p, starts)
    return {
        "exact": {r: _prf(*v) for r, v in exact.items()},
        "overlap": {r: _prf(*v) for r, v in overlap.items()},
        "speaker_accuracy": round(spk[0] / spk[1], 4) if spk[1] else 0.0,
        "speaker_support": spk[1],
        "records": rec.report(),
    }


def _speaker_of(doc: Document) -> dict[tuple[int, int], tuple[Span | None, str | None]]:
    by_id = doc.span_by_id()
    out = {}
    for q in doc.quotes:
        qs = by_id.get(q.quote)
        if qs is not None:
            out[(qs.start, qs.end)] = (by_id.get(q.speaker) if q.speaker else None, q.speaker_name)
    return out


def _same_speaker(gold: tuple[Span | None, str | None], pred: tuple[Span | None, str | None]) -> bool:
    gs, gname = gold
    ps, pname = pred
    if gs is None or ps is None:
        return gs is None and ps is None
    if ps.start < gs.end and gs.start < ps.end:
        return True
    return bool(gname and pname and _norm_name(gname) == _norm_name(pname))


def _norm_name(name: str) -> str:
    return " ".join(_norm(w.text) for w in split_words(name))


def _with_names(doc: Document) -> Document:
    """``doc`` with speaker names on its records; a copy when they must be filled (scoring never edits its input)."""
    if doc.quotes and all(q.speaker_name is None for q in doc.quotes):
        doc = replace(doc, quotes=[replace(q) for q in doc.quotes])
        name_speakers(doc, doc.quotes)
    return doc


def _speaker_exact(g: Document, p: Document, tally: list[int]) -> None:
    gmap, pmap = _speaker_of(_with_names(g)), _speaker_of(_with_names(p))
    for key, gval in gmap.items():
        if key in pmap:
            tally[1] += 1
            tally[0] += _same_speaker(gval, pmap[key])


class _RecordTally:
    """Hungarian matching of records by quote overlap, accumulated over documents."""

    def __init__(self) -> None:
        self.tp = {t: 0 for t in THRESHOLDS}
        self.n_pred = 0
        self.n_gold = 0
        self.acc = {k: [0, 0] for k in ("speaker_explicit", "speaker_implicit", "cue", "kind")}

    def add(self, g: Document, p: Document, starts: list[int]) -> None:
        gb, pb = g.span_by_id(), p.span_by_id()
        grec = [r for r in g.quotes if r.quote in gb]
        prec = [r for r in p.quotes if r.quote in pb]
        self.n_gold += len(grec)
        self.n_pred += len(prec)
        if not grec or not prec:
            return
        gw = [_word_set(starts, gb[r.quote]) for r in grec]
        pw = [_word_set(starts, pb[r.quote]) for r in prec]
        ov = np.array([[len(a & b) / max(len(a), len(b), 1) for b in pw] for a in gw])
        rows, cols = linear_sum_assignment(-ov)
        for i, j in zip(rows, cols):
            for t in THRESHOLDS:
                self.tp[t] += int(ov[i, j] >= t)
            if ov[i, j] >= THRESHOLDS[0]:
                self._compare(g, p, grec[i], prec[j])

    def _compare(self, g: Document, p: Document, gr: Any, pr: Any) -> None:
        gb, pb = g.span_by_id(), p.span_by_id()
        key = "speaker_implicit" if gr.implicit_speaker else "speaker_explicit"
        gval = (gb.get(gr.speaker) if gr.speaker else None, gr.speaker_name)
        pval = (pb.get(pr.speaker) if pr.speaker else None, pr.speaker_name)
        self.acc[key][1] += 1
        self.acc[key][0] += _same_speaker(gval, pval)
        gc, pc = (gb.get(gr.cue) if gr.cue else None), (pb.get(pr.cue) if pr.cue else None)
        self.acc["cue"][1] += 1
        self.acc["cue"][0] += (gc is None and pc is None) or (gc is not None and pc is not None and pc.start < gc.end and gc.start < pc.end)
        self.acc["kind"][1] += 1
        self.acc["kind"][0] += gr.kind == pr.kind

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in THRESHOLDS:
            out[f"overlap_{t}"] = _prf(self.tp[t], self.n_pred, self.n_gold)
        for k, (ok, n) in self.acc.items():
            out[f"{k}_accuracy"] = round(ok / n, 4) if n else None
            out[f"{k}_support"] = n
        return out
