"""The shipped corpus: rebuilt from the authoring files it is byte-identical and valid; it lints clean."""

from pathlib import Path

import pytest

from araquote.cli import main
from araquote.training.authoring import MarkupError, parse_source
from araquote.training.build import assign_splits, build_corpus, stratum
from araquote.training.config import DataSource
from araquote.training.corpus import collect_labels, load_source, read_conll, read_corpus

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def test_rebuild_is_identical_and_valid(tmp_path):
    build_corpus(ROOT / "data/corpus/articles", tmp_path)
    for split in ("train", "dev", "test"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (ROOT / f"data/{split}.jsonl").read_bytes(), split
        read_corpus(tmp_path / f"{split}.jsonl")  # raises on any contract violation


def test_splits_are_stratified_and_disjoint():
    docs = {s: read_corpus(ROOT / f"data/{s}.jsonl") for s in ("train", "dev", "test")}
    ids = [d.id for ds in docs.values() for d in ds]
    assert len(ids) == len(set(ids)) >= 300
    n = len(ids)
    assert 0.6 < len(docs["train"]) / n < 0.8 and 0.1 < len(docs["test"]) / n < 0.2
    for split, ds in docs.items():
        strata = {stratum(d) for d in ds}
        assert {"long", "no_quote", "mixed", "implicit", "no_cue"} <= strata, split
        assert any(q.implicit_speaker for d in ds for q in d.quotes)
        assert {q.kind for d in ds for q in d.quotes} == {"direct", "indirect", "mixed"}


def test_split_assignment_is_deterministic():
    docs = read_corpus(ROOT / "data/dev.jsonl")
    a = {k: [d.id for d in v] for k, v in assign_splits(docs).items()}
    b = {k: [d.id for d in v] for k, v in assign_splits(list(reversed(docs))).items()}
    assert a == b


def test_corpus_lints_clean(capsys):
    assert main(["data", "lint"]) == 0, capsys.readouterr().out[-2000:]


@pytest.mark.parametrize(
    "src,needle",
    [
        ("id: x\n---\n[PER أحمد", "never closed"),
        ("id: x\n---\nأحمد]", "closes nothing"),
        ("id: x\n---\n[per أحمد]", "'[' must open a span"),
        ("id: x\n---\n[QUOTE:1:said إن]", "needs kind in direct, indirect, mixed"),
        ("id: x\n---\n[CUE:1 قال] [SPEAKER:1 أحمد]", "record 1 has"),
        ("id: x\n---\n[QUOTE:2:indirect:^1 أن نعم]", "points to ^1, which has no SPEAKER"),
        ("---\nنص", "needs an 'id"),
        ("id: x\nsection: a", "no '---' line"),
        ("id: x\nنص", "header line must be"),
        ("id: x\n---\nال[PER وزير]", "not on word boundaries"),
    ],
)
def test_markup_errors_name_the_problem(src, needle):
    with pytest.raises(MarkupError) as exc:
        parse_source(src, "f.txt")
    assert needle in str(exc.value) and "f.txt" in str(exc.value)


def test_markup_entities_and_escapes():
    doc = parse_source("id: x\n---\n[LOC الرياض]&nbsp;\\[1\\] [PER أحمد]", "f.txt")
    assert doc.text == "الرياض\u00a0[1] أحمد"
    assert [(doc.text[s.start : s.end], s.label) for s in doc.spans] == [("الرياض", "LOC"), ("أحمد", "PER")]


def test_conll_reader_maps_labels_and_offsets(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("فرانكفورت B-LOC\n(د O\nأعلن O\nغيث B-PERS\nالطراونة I-PERS\n\nنص B-MIS1\n", encoding="utf-8")
    docs = read_conll(p)
    assert [d.layers for d in docs] == [["entities"], ["entities"]]
    d = docs[0]
    assert [(d.text[s.start : s.end], s.label) for s in d.spans] == [("فرانكفورت", "LOC"), ("غيث الطراونة", "PER")]
    assert docs[1].spans[0].label == "MISC"
    assert len(read_conll(p, doc_tokens=100)) == 1


@pytest.mark.skipif(not (SHARED / "anercorp").exists(), reason="../shared/data not available")
def test_anercorp_test_split_token_count():
    docs = read_conll(SHARED / "anercorp/camel_split_reconstructed/ANERCorp_CamelLab_test.recon.txt")
    from araquote.inference.text import split_words

    assert sum(len(d.text.split(" ")) for d in docs) >= 24_900
    assert all(d.text[s.start : s.end] for d in docs for s in d.spans)
    assert {s.label for d in docs for s in d.spans} == {"PER", "ORG", "LOC", "MISC"}
    assert split_words(docs[0].text)


def test_aqmar_tag_repairs():
    from araquote.training.corpus import aqmar_tag

    assert [aqmar_tag(t) for t in ["B-MIS1", "I--ORG", "B-MIS1`", "I-MISS1", "B-ENGLISH", "IO", "OO", "O", "B-PER"]] == [
        "B-MISC", "I-ORG", "B-MISC", "I-MISC", "O", "O", "O", "O", "B-PER"]


def test_stats_counts_every_phenomenon_in_every_split(capsys):
    import json

    assert main(["data", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["phenomena_missing"] == []
    assert set(stats["phenomena"]) == {"data/train.jsonl", "data/dev.jsonl", "data/test.jsonl"}
    assert stats["documents"] >= 300 and stats["quote_records"] >= 1200 and stats["cue_lemmas"] >= 40
    assert stats["entity_spans"] >= 4000 and stats["implicit_speaker"] >= 150
    assert stats["quote_kinds"]["direct"] >= 200 and stats["quote_kinds"]["indirect"] >= 500
    assert stats["quote_kinds"]["mixed"] >= 80


def test_phenomena_detector_on_a_small_document():
    from araquote.training.datacli import phenomena

    doc = parse_source(
        "id: p1\n---\n[CUE:1 قال] [SPEAKER:1 مصدر مطلع] [QUOTE:1:indirect إن [LOC لبغداد] ستفاوض]. "
        "[CUE:2 وأضاف] [QUOTE:2:indirect:^1 أن الجولة تبدأ غدا. والمحادثات صعبة]. "
        "وأعلن الافتتاح برنامج «الماتش». هل يتفق [PER أحمد علي]؟\nاقرأ أيضا: خبر آخر\n"
    )
    got = phenomena(doc)
    assert got["indirect quote"] == 2 and got["implicit (pro-drop) speaker"] == 1
    assert got["speaker after the cue"] == 1 and got["anonymous or collective source"] == 1
    assert got["quote over several sentences"] == 1 and got["reporting verb outside any record"] == 1
    assert got["quotation marks around a non-quote"] == 1 and got["question mark"] == 1
    assert got["'اقرأ أيضا' line"] == 1 and got["multi-word entity"] == 1
    assert got["entity with an attached proclitic"] == 1 and got["entity inside a QUOTE"] == 1


def test_a_source_can_teach_only_some_layers():
    """``layers: [entities]`` on a two-layer corpus: its quote spans and records go, its entities stay, untouched."""
    full = read_corpus(ROOT / "data" / "dev.jsonl")
    kept = load_source(DataSource(path=str(ROOT / "data" / "dev.jsonl"), layers=["entities"]))
    assert len(kept) == len(full) and all(d.layers == ["entities"] and not d.quotes for d in kept)
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in kept] == [
        [(s.start, s.end, s.label) for s in d.spans if s.layer == "entities"] for d in full]
    assert sum(len(d.spans) for d in kept) > 0
    assert list(collect_labels(kept)) == ["entities"] and list(collect_labels(full)) == ["attribution", "entities"]
    quotes_only = load_source(DataSource(path=str(ROOT / "data" / "dev.jsonl"), layers=["attribution"]))
    assert all(d.layers == ["attribution"] and d.quotes == f.quotes for d, f in zip(quotes_only, full))
