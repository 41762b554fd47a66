"""Label Studio, doccano, CoNLL and Wojood interchange: round trips, clear errors, a non-default label set."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest

from araquote.cli import main
from araquote.inference.schema import Document, Span, validate
from araquote.training.authoring import parse_source
from araquote.training.corpus import read_conll
from araquote.training.interchange import (
    InterchangeError,
    from_doccano,
    from_labelstudio,
    labels_for,
    labels_from_config,
    labelstudio_config,
    read_wojood,
    to_conll,
    to_doccano,
    to_labelstudio,
)

from .conftest import SHARED, tiny_config_yaml, write_jsonl

WOJOOD = SHARED / "data" / "wojood_sample"

# NBSP inside the speaker, tashkeel (المتحدثُ، إنّ), tatweel, RLM before the full stop, a mixed quote,
# a pro-drop continuation (implicit speaker), a headline quote without a cue, and a SPEAKER that is also an ORG.
DOC_MIXED = """id: ls-mixed
---
[SPEAKER:3 [ORG البنتاجون]]: [QUOTE:3:direct لا تغيير في الخطط]
[CUE:1 وقال] [SPEAKER:1 المتحدثُ&nbsp;باسم [ORG وزارة الخارجية] [PER نيد برايس]] [QUOTE:1:mixed إنّ الحكومة «لن تتراجـع» عن قرارها]&rlm;.
[CUE:2 وأضاف] [QUOTE:2:indirect:^1 أن الوفد سيزور [LOC القاهرة] قريبا]&rlm;.
"""

DOC_ENTITIES = """id: ls-ents
layers: entities
---
زار [PER أحمدُ سالم] مدينة [LOC غزة]&nbsp;أمس مع وفد [ORG الهلال الأحمر].
"""


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return [parse_source(DOC_MIXED, "mixed.txt"), parse_source(DOC_ENTITIES, "ents.txt")]


def simulate_export(tasks: list[dict]) -> list[dict]:
    """What Label Studio's JSON export returns after the tasks were imported and submitted unchanged."""
    out = []
    for k, task in enumerate(json.loads(json.dumps(tasks, ensure_ascii=False))):
        result = task.get("annotations", task.get("predictions"))[0]["result"]
        out.append({"id": 100 + k, "data": task["data"], "project": 3,
                    "annotations": [{"id": 500 + k, "was_cancelled": False, "result": result, "lead_time": 4.2}],
                    "predictions": []})
    return out


def dicts(docs: list[Document]) -> list[dict]:
    return [d.to_dict() for d in docs]


# --- Label Studio ------------------------------------------------------------------------


def test_labelstudio_round_trip(docs):
    tasks = to_labelstudio(docs)
    back = from_labelstudio(simulate_export(tasks))
    assert dicts(back) == dicts(docs)
    mixed = back[0]
    assert "\u00a0" in mixed.text and "\u200f" in mixed.text and "ُ" in mixed.text
    assert [q.kind for q in mixed.quotes] == ["direct", "mixed", "indirect"]
    assert [q.implicit_speaker for q in mixed.quotes] == [False, False, True]
    assert mixed.quotes[0].cue is None
    assert back[1].layers == ["entities"]


def test_labelstudio_task_shape(docs):
    task = to_labelstudio(docs[:1])[0]
    assert task["data"]["id"] == "ls-mixed" and task["data"]["text"] == docs[0].text
    result = task["annotations"][0]["result"]
    regions = [r for r in result if r["type"] == "labels"]
    assert {r["from_name"] for r in regions} == {"attribution", "entities"}
    for r in regions:
        assert docs[0].text[r["value"]["start"] : r["value"]["end"]] == r["value"]["text"]
    relations = [r for r in result if r["type"] == "relation"]
    assert sorted(r["labels"][0] for r in relations) == ["cue", "cue", "speaker", "speaker", "speaker"]
    kinds = {r["id"]: r["value"]["choices"] for r in result if r.get("from_name") == "kind"}
    implicit = [r["id"] for r in result if r.get("from_name") == "implicit"]
    assert sorted(kinds.values()) == [["direct"], ["indirect"], ["mixed"]] and len(implicit) == 1


def test_labelstudio_predictions_carry_scores(docs):
    doc = copy.deepcopy(docs[1])
    for k, s in enumerate(doc.spans):
        s.score = 0.5 + 0.1 * k
    task = to_labelstudio([doc], target="predictions", model_version="tiny-1")[0]
    pred = task["predictions"][0]
    assert pred["model_version"] == "tiny-1" and pred["score"] == pytest.approx(0.6)
    assert sorted(r["score"] for r in pred["result"]) == pytest.approx([0.5, 0.6, 0.7])
    assert "score" not in json.dumps(to_labelstudio([doc])[0]["annotations"])  # human annotations: no model scores
    back = from_labelstudio(simulate_export([task]))[0]
    assert all(s.score is None for s in back.spans)


def test_labelstudio_config(docs):
    labels = labels_for(docs)
    assert labels == {"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PER", "ORG", "LOC"]}
    xml = labelstudio_config({"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PERS", "GPE", "DATE"]})
    root = ET.fromstring(xml)
    assert root.tag == "View"
    assert any("direction: rtl" in (v.get("style") or "") and v.find("Text") is not None for v in root.iter("View"))
    controls = {c.get("name"): [lab.get("value") for lab in c.iter("Label")] for c in root.iter("Labels")}
    assert controls == {"attribution": ["SPEAKER", "CUE", "QUOTE"], "entities": ["PERS", "GPE", "DATE"]}
    assert all(c.get("toName") == "text" for c in root.iter("Labels"))
    assert [r.get("value") for r in root.iter("Relation")] == ["speaker", "cue"]
    kind = next(c for c in root.iter("Choices") if c.get("name") == "kind")
    assert kind.get("perRegion") == "true" and [c.get("value") for c in kind] == ["direct", "indirect", "mixed"]
    assert labels_from_config(xml) == controls
    entity_only = ET.fromstring(labelstudio_config({"entities": ["PER"]}))
    assert [c.get("name") for c in entity_only.iter("Labels")] == ["entities"] and not list(entity_only.iter("Relations"))


def _export_of(doc: Document) -> list[dict]:
    return simulate_export(to_labelstudio([doc]))


def _result(tasks: list[dict]) -> list[dict]:
    return tasks[0]["annotations"][0]["result"]


def test_labelstudio_unknown_label_names_task_and_region(docs):
    tasks = _export_of(docs[1])
    region = next(r for r in _result(tasks) if r["value"]["labels"] == ["PER"])
    region["value"]["labels"] = ["PERS"]
    with pytest.raises(InterchangeError) as err:
        from_labelstudio(tasks, labels={"entities": ["PER", "ORG", "LOC", "MISC"]})
    msg = str(err.value)
    assert f"task 100 (document ls-ents) region {region['id']}" in msg
    assert "unknown label 'PERS'" in msg and "known: PER, ORG, LOC, MISC" in msg
    region["from_name"] = "label"
    with pytest.raises(InterchangeError, match="unknown control 'label'; known: attribution, entities"):
        from_labelstudio(tasks)


def test_labelstudio_dangling_relation_and_missing_kind(docs):
    tasks = _export_of(docs[0])
    result = _result(tasks)
    rel = next(r for r in result if r["type"] == "relation")
    rel["to_id"] = "gone"
    quote_id = rel["from_id"]
    result[:] = [r for r in result if not (r.get("from_name") == "kind" and r["id"] == quote_id)]
    with pytest.raises(InterchangeError) as err:
        from_labelstudio(tasks)
    msg = str(err.value)
    assert f"task 100 (document ls-mixed): relation {quote_id}->gone: dangling relation, no labelled region gone" in msg
    assert f"region {quote_id}: QUOTE has no kind" in msg
    rel["to_id"] = next(r["id"] for r in result if r.get("value", {}).get("labels") == ["SPEAKER"])
    kind = from_labelstudio(tasks, default_kind="indirect")[0].quotes
    assert any(q.quote == quote_id and q.kind == "indirect" for q in kind)


def test_labelstudio_relations_drawn_backwards_or_unlabelled(docs):
    tasks = _export_of(docs[0])
    for r in _result(tasks):
        if r["type"] == "relation":
            r["from_id"], r["to_id"], r["labels"] = r["to_id"], r["from_id"], []
    assert dicts(from_labelstudio(tasks)) == dicts(docs[:1])


def test_labelstudio_offsets_checked_against_region_text(docs):
    tasks = _export_of(docs[1])
    region = _result(tasks)[0]
    region["value"]["start"] += 1
    region["value"]["end"] += 1
    with pytest.raises(InterchangeError, match="UTF-16"):
        from_labelstudio(tasks)


def test_labelstudio_one_region_on_both_layers():
    text = "قال البنتاجون إن الخطة جاهزة."
    result = [
        {"id": "r1", "from_name": "attribution", "to_name": "text", "type": "labels", "value": {"start": 4, "end": 13, "labels": ["SPEAKER"]}},
        {"id": "r1", "from_name": "entities", "to_name": "text", "type": "labels", "value": {"start": 4, "end": 13, "labels": ["ORG"]}},
        {"id": "c", "from_name": "attribution", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["CUE"]}},
        {"id": "q", "from_name": "attribution", "to_name": "text", "type": "labels", "value": {"start": 14, "end": 28, "labels": ["QUOTE"]}},
        {"id": "q", "from_name": "kind", "to_name": "text", "type": "choices", "value": {"start": 14, "end": 28, "choices": ["indirect"]}},
        {"from_id": "q", "to_id": "r1", "type": "relation", "direction": "right", "labels": ["speaker"]},
        {"from_id": "c", "to_id": "q", "type": "relation", "direction": "right", "labels": []},
        {"id": "note", "from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": ["ok"]}},
    ]
    tasks = [{"id": 7, "data": {"text": text}, "annotations": [{"result": [], "was_cancelled": True}, {"result": result}]},
             {"id": 8, "data": {"text": "نص بلا تعليق"}, "annotations": []}]
    (doc,) = from_labelstudio(tasks)
    assert doc.id == "task-7" and doc.layers == ["attribution", "entities"]
    assert sorted((s.id, s.layer, s.label) for s in doc.spans) == [
        ("c", "attribution", "CUE"), ("q", "attribution", "QUOTE"), ("r1", "attribution", "SPEAKER"), ("r1-entities", "entities", "ORG")]
    assert [q.to_dict() for q in doc.quotes] == [{"quote": "q", "speaker": "r1", "cue": "c", "kind": "indirect", "implicit_speaker": False}]


# --- doccano ---------------------------------------------------------------------------------


def test_doccano_round_trip(docs):
    lines = [json.loads(json.dumps(to_doccano(d), ensure_ascii=False)) for d in docs]
    assert ["entities:ORG" in [lab[2] for lab in line["label"]] for line in lines] == [True, True]
    assert "attribution:QUOTE" in [lab[2] for lab in lines[0]["label"]]
    back = [from_doccano(line, f"x.jsonl:{k + 1}") for k, line in enumerate(lines)]
    assert dicts(back) == dicts(docs)


def test_doccano_edits_and_plain_labels(docs):
    line = to_doccano(docs[1])
    line["label"].append([0, 3, "PER"])  # a bare label added in doccano: the entities layer, a fresh id
    line["label"] = [lab for lab in line["label"] if lab[2] != "entities:LOC"]
    doc = from_doccano(line, "x.jsonl:1")
    assert not validate(doc)
    assert {(s.label, doc.text[s.start : s.end]) for s in doc.spans} == {("PER", "زار"), ("PER", "أحمدُ سالم"), ("ORG", "الهلال الأحمر")}
    assert len({s.id for s in doc.spans}) == 3
    plain = from_doccano({"id": 4, "text": "وصل ماكرون إلى باريس", "label": [[4, 10, "PER"], [15, 20, "LOC"]]}, "y.jsonl:1")
    assert plain.id == "4" and plain.layers == ["entities"] and not validate(plain)
    with pytest.raises(InterchangeError, match="bare label 'QUOTE' is ambiguous"):
        from_doccano({"text": "قال إن", "label": [[0, 6, "QUOTE"]]}, "z.jsonl:1")
    edited = to_doccano(docs[0])
    edited["label"] = [lab for lab in edited["label"] if lab[2] != "attribution:CUE"]
    with pytest.raises(InterchangeError, match="z.jsonl:2 \\(document ls-mixed\\): quote record of .* points to cue"):
        from_doccano(edited, "z.jsonl:2")


# --- CoNLL ----------------------------------------------------------------------------------------


def test_conll_export_reads_back(tmp_path, docs):
    path = tmp_path / "ents.conll"
    path.write_text("".join(to_conll(docs, "entities")), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert "زار O" in lines and "أحمدُ B-PER" in lines and "سالم I-PER" in lines
    back = read_conll(path)
    assert len(back) == 2
    for orig, got in zip(docs, back, strict=True):
        want = [(s.label, " ".join(w.text for w in _words(orig, s))) for s in orig.spans_of("entities")]
        assert [(s.label, got.text[s.start : s.end]) for s in got.spans_of("entities")] == want
    quotes = "".join(to_conll(docs, "attribution", sentences=True))
    assert "زار O" not in quotes.split("\n") and quotes.count("\n\n") == 3  # the entity-only document is skipped
    assert "إنّ B-QUOTE" in quotes and "« I-QUOTE" in quotes


def _words(doc: Document, span: Span):
    from araquote.inference.text import split_words

    return [w for w in split_words(doc.text) if span.start <= w.start and w.end <= span.end]


# --- CLI ------------------------------------------------------------------------------------------------


def test_cli_export_import(tmp_path, docs, capsys):
    corpus = write_jsonl(tmp_path / "gold.jsonl", docs)
    out = tmp_path / "ls" / "tasks.json"
    assert main(["data", "export", "--format", "labelstudio", str(corpus), "-o", str(out)]) == 0
    config = tmp_path / "ls" / "tasks.config.xml"
    assert config.is_file() and "direction: rtl" in config.read_text(encoding="utf-8")
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(simulate_export(json.loads(out.read_text(encoding="utf-8"))), ensure_ascii=False), encoding="utf-8")
    back = tmp_path / "back.jsonl"
    assert main(["data", "import", "--format", "labelstudio", str(exported), "--config", str(config), "-o", str(back)]) == 0
    assert back.read_text(encoding="utf-8") == corpus.read_text(encoding="utf-8")
    assert main(["data", "export", "--format", "doccano", str(corpus), "-o", str(tmp_path / "d.jsonl")]) == 0
    assert main(["data", "import", "--format", "doccano", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "d-back.jsonl")]) == 0
    assert (tmp_path / "d-back.jsonl").read_text(encoding="utf-8") == corpus.read_text(encoding="utf-8")
    assert main(["data", "export", "--format", "conll", "--layer", "attribution", str(corpus), "-o", str(tmp_path / "a.conll")]) == 0
    assert '"skipped_not_annotated": 1' in capsys.readouterr().out
    bad = json.loads(exported.read_text(encoding="utf-8"))
    bad[0]["annotations"][0]["result"][0]["value"]["labels"] = ["NOPE"]
    exported.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    assert main(["data", "import", "--format", "labelstudio", str(exported), "--config", str(config), "-o", str(back)]) == 2
    assert "task 100 (document ls-mixed) region" in capsys.readouterr().err


# --- Wojood ----------------------------------------------------------------------------------------------


needs_wojood = pytest.mark.skipif(not (WOJOOD / "train.txt").is_file(), reason="shared/data/wojood_sample is absent")


@needs_wojood
def test_wojood_converts_and_validates():
    docs = read_wojood(WOJOOD / "val.txt")
    assert len(docs) == 158 and all(d.layers == ["entities"] for d in docs)
    assert not [p for d in docs for p in validate(d)]
    labels = {s.label for d in docs for s in d.spans}
    assert {"PERS", "GPE", "DATE", "ORG"} <= labels and "PER" not in labels
    first = docs[0]
    assert all(first.text[s.start : s.end].strip() == first.text[s.start : s.end] for s in first.spans)
    packed = read_wojood(WOJOOD / "val.txt", doc_tokens=200)
    assert len(packed) < len(docs) and "\n" in packed[0].text and not [p for d in packed for p in validate(d)]
    assert "$#$" not in "".join(d.text for d in packed)


def test_wojood_reader_on_a_small_file(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("مراسلة O\nسكرتير B-OCC\nاللجنة I-OCC B-ORG\nالعربية I-OCC I-ORG\nفي O\nنابلس B-GPE\n$#$ O\n\n"
                    "18 B-ORDINAL\n- O\n", encoding="utf-8")
    a, b = read_wojood(path)
    assert a.text == "مراسلة سكرتير اللجنة العربية في نابلس"
    assert [(s.label, a.text[s.start : s.end]) for s in a.spans] == [("OCC", "سكرتير اللجنة العربية"), ("GPE", "نابلس")]
    assert b.id == "wojood-w-00002" and b.spans[0].label == "ORDINAL"
    path.write_text("كلمة B-PER X\n", encoding="utf-8")
    with pytest.raises(InterchangeError, match="w.txt:1: tag 'X' is not O, B-X or I-X"):
        read_wojood(path)


@needs_wojood
def test_wojood_trains_without_code_changes(tmp_path, capsys):
    from araquote.training.config import load_config
    from araquote.training.train import train

    corpus = tmp_path / "corpus"
    assert main(["data", "import", "--format", "wojood", str(WOJOOD / "test.txt"), "-o", str(corpus / "all.jsonl")]) == 0
    docs = [Document.from_dict(json.loads(line)) for line in (corpus / "all.jsonl").read_text(encoding="utf-8").splitlines()]
    rich = sorted(docs, key=lambda d: -len({s.label for s in d.spans}))[:8]
    write_jsonl(corpus / "train.jsonl", rich[:6])
    write_jsonl(corpus / "dev.jsonl", rich[6:])
    write_jsonl(corpus / "test.jsonl", rich[6:])
    cfg = tmp_path / "w.yaml"
    cfg.write_text(tiny_config_yaml(corpus, tmp_path / "run", epochs=2), encoding="utf-8")
    train(load_config(cfg), progress=False)
    meta = json.loads((tmp_path / "run" / "model" / "araquote.json").read_text(encoding="utf-8"))
    assert set(meta["labels"]) == {"entities"}
    assert set(meta["labels"]["entities"]) - {"PER", "ORG", "LOC", "MISC"} >= {"PERS", "GPE"}
    assert set(meta["labels"]["entities"]) == {s.label for d in rich[:6] for s in d.spans}
    # a labelling config for correcting this model's output offers its labels
    assert labels_for([], tmp_path / "run" / "model") == {"entities": meta["labels"]["entities"]}
