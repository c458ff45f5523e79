"""`--set key=value` and `--config FILE`: settings sorted into model, train and task, values
read as JSON, and every unknown key refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiayn.config import parse_value, read_config_file, split_overrides
from aiayn.errors import AiaynError

TASK_OPTIONS = ("n_train", "seed", "direction")  # `seed` is also a TrainConfig field


def test_bare_keys_go_to_the_one_section_that_knows_them() -> None:
    out = split_overrides(["d_model=128", "max_steps=5", "n_train=64"], task_options=TASK_OPTIONS)
    assert (out.model, out.train, out.task) == ({"d_model": 128}, {"max_steps": 5}, {"n_train": 64})


def test_prefixed_keys_name_their_section() -> None:
    out = split_overrides(
        ["train.seed=3", "task.seed=4", "model.pad_id=1"], task_options=TASK_OPTIONS
    )
    assert (out.model, out.train, out.task) == ({"pad_id": 1}, {"seed": 3}, {"seed": 4})


def test_a_key_that_two_sections_know_is_ambiguous() -> None:
    with pytest.raises(AiaynError, match="--set seed is ambiguous: write task.seed or train.seed"):
        split_overrides(["seed=3"], task_options=TASK_OPTIONS)


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("d_modle=3", "unknown setting 'd_modle' in --set d_modle=3"),
        ("model.max_steps=3", "unknown model setting 'max_steps' in --set model.max_steps=3"),
        ("task.d_model=3", "unknown task setting 'd_model'"),
        ("d_model", "--set expects key=value, got 'd_model'"),
        ("=3", "--set expects key=value, got '=3'"),
    ],
)
def test_unknown_and_malformed_keys_are_refused_by_name(pair: str, message: str) -> None:
    with pytest.raises(AiaynError, match=message.replace(".", r"\.")):
        split_overrides([pair], task_options=TASK_OPTIONS)


def test_an_unknown_prefix_is_part_of_the_key() -> None:
    with pytest.raises(AiaynError, match="unknown setting 'optim.lr'"):
        split_overrides(["optim.lr=3"], task_options=TASK_OPTIONS)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("true", True),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('"7"', "7"),
        ("de-en", "de-en"),
        ("data/train.de", "data/train.de"),
        ("", ""),
    ],
)
def test_values_are_json_where_they_parse_else_strings(text: str, value: object) -> None:
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_a_value_may_hold_an_equals_sign() -> None:
    out = split_overrides(["direction=a=b"], task_options=TASK_OPTIONS)
    assert out.task == {"direction": "a=b"}


def test_later_pairs_win() -> None:
    out = split_overrides(["d_model=64", "model.d_model=32"], task_options=TASK_OPTIONS)
    assert out.model == {"d_model": 32}


# ------------------------------------------------------------------------------ config files
SETTINGS = {
    "preset": "small",
    "model": {"d_model": 128},
    "train": {"max_steps": 500},
    "task": {"n_train": 10},
}


def test_json_and_toml_files_read_the_same(tmp_path: Path) -> None:
    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps(SETTINGS), encoding="utf-8")
    as_toml = tmp_path / "run.toml"
    as_toml.write_text(
        'preset = "small"\n[model]\nd_model = 128\n[train]\nmax_steps = 500\n'
        "[task]\nn_train = 10\n",
        encoding="utf-8",
    )
    assert read_config_file(as_json, task_options=TASK_OPTIONS) == SETTINGS
    assert read_config_file(as_toml, task_options=TASK_OPTIONS) == SETTINGS


def _write(tmp_path: Path, data: object, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_flat_file_is_refused_naming_the_section_to_use(tmp_path: Path) -> None:
    path = _write(tmp_path, {"d_model": 128})
    with pytest.raises(AiaynError) as error:
        read_config_file(path, task_options=TASK_OPTIONS)
    message = str(error.value)
    assert "unknown key 'd_model' at the top level" in message
    assert "put it under model" in message and str(path) in message
    with pytest.raises(AiaynError, match="put it under train or task"):
        read_config_file(_write(tmp_path, {"seed": 1}), task_options=TASK_OPTIONS)
    with pytest.raises(AiaynError, match=r"unknown key 'colour'.*\(allowed: preset, model"):
        read_config_file(_write(tmp_path, {"colour": 1}), task_options=TASK_OPTIONS)


@pytest.mark.parametrize("section", ["model", "train", "task"])
def test_an_unknown_key_in_any_section_is_refused_by_name(tmp_path: Path, section: str) -> None:
    path = _write(tmp_path, {section: {"bogus_key": 1}})
    with pytest.raises(AiaynError, match=f"unknown {section} setting.*'bogus_key'"):
        read_config_file(path, task_options=TASK_OPTIONS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must hold a table of sections, got list"),
        ({"preset": 3}, "preset must be a string, got 3"),
        ({"model": [1]}, r"model must be a table of settings, got \[1\]"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(AiaynError, match=message):
        read_config_file(_write(tmp_path, data), task_options=TASK_OPTIONS)


@pytest.mark.parametrize(
    ("name", "text"),
    [("bad.json", '{"model": {"d_model": 128,}}'), ("bad.toml", "[model\nd_model = 1\n")],
)
def test_a_file_that_does_not_parse_is_one_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AiaynError) as error:
        read_config_file(path, task_options=TASK_OPTIONS)
    message = str(error.value)
    assert message.startswith(f"cannot read config file {path}: ") and "\n" not in message
    assert error.value.__suppress_context__  # `from None`: no chained traceback


def test_a_missing_or_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(AiaynError, match="config file .*nothing.json does not exist"):
        read_config_file(tmp_path / "nothing.json", task_options=TASK_OPTIONS)
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"task": {"direction": "\xe9"}}')
    with pytest.raises(AiaynError, match="cannot read config file"):
        read_config_file(path, task_options=TASK_OPTIONS)
