"""Settings from the command line: `--set key=value` pairs and `--config FILE`.

A run's settings come in three sections: `model` (ModelConfig fields), `train` (TrainConfig
fields) and `task` (the task's own options). `--set` takes a bare key when exactly one section
knows it (`--set d_model=128`), or a prefixed one (`--set train.seed=3`). Values are JSON where
they parse as JSON (numbers, true/false/null, lists), else strings. A config file (JSON or TOML)
holds the same sections as tables, and optionally `preset`:

    {"preset": "small", "model": {"d_model": 128}, "train": {"max_steps": 500}, "task": {}}

Unknown keys, anywhere, are refused by name: a typo must never be silently ignored.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiayn.config.model import ModelConfig
from aiayn.config.train import TrainConfig
from aiayn.errors import AiaynError

SECTIONS: tuple[str, ...] = ("model", "train", "task")
FILE_KEYS: tuple[str, ...] = ("preset", *SECTIONS)


@dataclass(frozen=True)
class Overrides:
    """Settings sorted by section: {field: value} for the model, training and the task."""

    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    """A `--set` value: JSON where it parses (numbers, true/false/null, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _known(task_options: Iterable[str]) -> dict[str, set[str]]:
    return {
        "model": ModelConfig.field_names(),
        "train": TrainConfig.field_names(),
        "task": set(task_options),
    }


def split_overrides(pairs: Sequence[str], *, task_options: Iterable[str]) -> Overrides:
    """Sort `key=value` pairs into model, train and task settings.

    A key may be prefixed with `model.`, `train.` or `task.`; a bare key must name exactly one
    known setting. `task_options` are the option names of the task being trained.
    """
    known = _known(task_options)
    out = Overrides()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AiaynError(f"--set expects key=value, got {pair!r}")
        section, dot, name = key.partition(".")
        if dot and section in known:
            if name not in known[section]:
                raise AiaynError(f"unknown {section} setting {name!r} in --set {pair}")
            getattr(out, section)[name] = parse_value(value)
            continue
        owners = [s for s in ("task", "train", "model") if key in known[s]]
        if not owners:
            raise AiaynError(
                f"unknown setting {key!r} in --set {pair}; see `aiayn train --help` for "
                "prefixes model./train./task."
            )
        if len(owners) > 1:
            raise AiaynError(
                f"--set {key} is ambiguous: write {' or '.join(f'{o}.{key}' for o in owners)}"
            )
        getattr(out, owners[0])[key] = parse_value(value)
    return out


def read_config_file(path: str | Path, *, task_options: Iterable[str]) -> dict[str, Any]:
    """A JSON or TOML config file, its layout checked: only `preset`, `model`, `train` and
    `task` at the top, each section a table of known settings."""
    p = Path(path)
    if not p.is_file():
        raise AiaynError(f"config file {path} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AiaynError(f"cannot read config file {path}: {e}") from None
    if not isinstance(data, dict):
        raise AiaynError(
            f"config file {path} must hold a table of sections, got {type(data).__name__}"
        )
    known = _known(task_options)
    for key, value in data.items():
        if key not in FILE_KEYS:
            owners = [s for s in SECTIONS if key in known[s]]
            where = f"; put it under {' or '.join(owners)}" if owners else ""
            raise AiaynError(
                f"config file {path}: unknown key {key!r} at the top level (allowed: "
                f"{', '.join(FILE_KEYS)}){where}"
            )
        if key == "preset":
            if not isinstance(value, str):
                raise AiaynError(f"config file {path}: preset must be a string, got {value!r}")
            continue
        if not isinstance(value, dict):
            raise AiaynError(
                f"config file {path}: {key} must be a table of settings, got {value!r}"
            )
        unknown = sorted(set(value) - known[key])
        if unknown:
            raise AiaynError(
                f"config file {path}: unknown {key} setting(s) {', '.join(map(repr, unknown))}"
            )
    return data


__all__ = [
    "FILE_KEYS",
    "SECTIONS",
    "Overrides",
    "parse_value",
    "read_config_file",
    "split_overrides",
]
