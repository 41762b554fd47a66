"""CLI smoke tests: train -> evaluate -> tag on a tiny config, and data tools."""

import json

from araquote.cli import main

from .conftest import tiny_config_yaml, write_jsonl


def test_train_evaluate_tag(tmp_path, tiny_corpus, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(tiny_config_yaml(tiny_corpus, tmp_path / "run", epochs=3), encoding="utf-8")
    assert main(["train", str(cfg), "--quiet", "--set", "train.epochs=2"]) == 0
    import yaml

    resolved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text(encoding="utf-8"))
    assert resolved["name"] == "tiny" and resolved["train"]["epochs"] == 2  # the override is in the saved config
    model = str(tmp_path / "run" / "model")
    assert main(["evaluate", "--model", model, "--data", str(tiny_corpus / "test.jsonl"), "-o", str(tmp_path / "rep.json")]) == 0
    rep = json.loads((tmp_path / "rep.json").read_text(encoding="utf-8"))
    assert set(rep["layers"]) == {"attribution", "entities"} and "records" in rep["quotes"]
    (tmp_path / "a.txt").write_text("قال الوزير إن الاتفاق نهائي.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["tag", "--model", model, str(tmp_path / "a.txt"), "-o", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["id"] == "a" and doc["layers"] == ["attribution", "entities"]
    assert main(["data", "validate", str(out)]) == 0


def test_config_error_exit_code(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {train: [x.jsonl]}\ntrain: {batchsize: 3}", encoding="utf-8")
    assert main(["train", str(cfg)]) == 2
    assert "unknown key 'train.batchsize' (did you mean 'batch_size'?)" in capsys.readouterr().err


def test_validate_reports_broken_file(tmp_path, tiny_docs, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", tiny_docs)
    assert main(["data", "validate", str(good)]) == 0
    bad = tmp_path / "bad.jsonl"
    obj = json.loads(tiny_docs[0].to_json())
    obj["spans"][0]["end"] += 1  # now inside a word
    bad.write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["data", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "tiny-a span s1" in err and "not on word boundaries" in err


def test_stats(tmp_path, tiny_docs, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", tiny_docs)
    assert main(["data", "stats", str(good), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 2 and stats["quote_records"] == 4 and stats["implicit_speaker"] == 2
    assert stats["quote_kinds"] == {"indirect": 2, "direct": 2}


def test_quotes_by_speaker_table(tmp_path, capsys):
    src = tmp_path / "a.txt"
    src.write_text("قال الرئيس الأمريكي جو بايدن إن الاتفاق نهائي. وأضاف أن التوقيع قريب.\n\nوقالت الوزيرة إن الخطة جاهزة.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["tag", "--model", "rules", str(src), "-o", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["quotes", str(out), "--by-speaker"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["speaker", "quotes", "docs"]
    rows = {line[:40].strip(): line[40:].split()[0] for line in table[1:]}
    assert rows == {"الرئيس الأمريكي جو بايدن": "2", "الوزيرة": "1"}
    assert main(["quotes", str(out)]) == 0
    assert "—قال→" in capsys.readouterr().out
