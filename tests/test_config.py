from pathlib import Path

import pytest

from araquote.training.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
ROOT_CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").glob("*.yaml"))
BENCHMARK_CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs" / "benchmarks").glob("*.yaml"))


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("path", ROOT_CONFIGS)
def test_shipped_configs_load(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(path)
    assert cfg.data.train


@pytest.mark.parametrize("path", BENCHMARK_CONFIGS)
def test_shipped_benchmark_configs_load_and_name_shipped_training_configs(path, monkeypatch):
    from araquote.training.benchmark import load_benchmark_config

    monkeypatch.chdir(ROOT)
    cfg = load_benchmark_config(path)
    for system in cfg.systems:
        if system.train:
            assert (ROOT / system.train).is_file(), f"{path}: {system.name} trains missing {system.train}"


def test_arabert_config_names_the_hub_model():
    assert load_config("configs/arabert-base.yaml").model.encoder == "aubmindlab/bert-base-arabertv02"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("data: {train: [a.jsonl]}\ntrian: {}", "unknown key 'trian' (did you mean 'train'?)"),
        ("data: {train: [a.jsonl]}\ntrain: {epochs: three}", "'train.epochs' must be int"),
        ("data: {train: [a.jsonl]}\ntrain: {batch_size: 0}", "train.batch_size must be >= 1"),
        ("data: {train: [a.jsonl]}\nmodel: {max_length: 64, stride: 64}", "model.stride must be >= 0 and < model.max_length - 2"),
        ("data: {train: [a.jsonl]}\ntrain: {precision: fp8}", "train.precision must be one of"),
        ("data: {train: [{path: a.jsonl, format: csv}]}", "format must be one of jsonl, conll, aqmar"),
        ("data: {}", "data.train needs at least one source"),
        ("data: {train: [{path: a.jsonl, layers: [entity]}]}", "data.train[0].layers must list some of attribution, entities once each"),
        ("data: {train: [a.jsonl], dev: [{path: b.jsonl, layers: []}]}", "data.dev[0].layers must list some of"),
        ("data: {train: [a.jsonl]}\nmodel: {transition_weight: -1}", "model.transition_weight must be null (tune on dev)"),
        ("- a\n- b", "top level must be a mapping"),
        ("data: [oops", "not valid YAML"),
    ],
)
def test_bad_configs_are_refused_with_the_key_and_options(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    assert needle in str(exc.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("nope.yaml")


def test_dot_overrides_are_typed(tmp_path):
    cfg = load_config(_write(tmp_path, "data: {train: [a.jsonl]}"), ["train.learning_rate=3e-5", "model.max_length=128", "name=x"])
    assert cfg.train.learning_rate == 3e-5 and cfg.model.max_length == 128 and cfg.name == "x"
    assert cfg.model.transition_weight is None  # default: tuned on dev
    assert load_config(_write(tmp_path, "data: {train: [a.jsonl]}"), ["model.transition_weight=0.5"]).model.transition_weight == 0.5
    with pytest.raises(ConfigError, match="unknown key 'train.lr'"):
        load_config(_write(tmp_path, "data: {train: [a.jsonl]}"), ["train.lr=1"])


def test_missing_required_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.train\[0\]' is missing required key\(s\) path"):
        load_config(_write(tmp_path, "data: {train: [{format: conll}]}"))
