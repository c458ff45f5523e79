"""A run directory, written by `aiayn train` and read back by every other command.

    RUN/
      config.json          task, task options, model and training config (resolved)
      tokenizer/           the task's tokenizer
      checkpoints/         step-XXXXXXX/ (model.safetensors + state.pt), `latest`, best.json
      model.safetensors    the final weights
      metrics.jsonl        one record a line; TensorBoard logs and PNG curves beside it
      summary.json         the final figures

`load_run` rebuilds the task (with its tokenizer), the model and the configs from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.tasks import Task, get_task
from aiayn.training.checkpoint import (
    atomic_write_json,
    latest_checkpoint,
    load_weights,
    read_best,
    verify_checkpoint,
)

CHECKPOINTS: tuple[str, ...] = ("final", "best", "latest", "averaged")


def write_run_config(run_dir: Path, *, task: Task, model: ModelConfig, train: TrainConfig) -> None:
    atomic_write_json(
        Path(run_dir) / "config.json",
        {
            "task": task.name,
            "task_options": task.opts,
            "model": model.to_dict(),
            "train": train.to_dict(),
        },
    )


def read_run_config(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise AiaynError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise AiaynError(f"{run_dir} is not a run directory (no config.json); train one first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AiaynError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise AiaynError(f"{path} does not describe a run (not a JSON object)")
    return data


@dataclass
class Run:
    """A trained run, loaded: its task (with tokenizer), model (eval mode) and configs."""

    directory: Path
    task: Task
    model: nn.Module
    model_config: ModelConfig
    train_config: TrainConfig


def weights_file(run_dir: Path, checkpoint: str = "final") -> Path:
    """The weights file of a run that `checkpoint` names: "final" (model.safetensors), "best"
    (the best checkpoint), "latest", or "averaged" (written by `aiayn average`)."""
    run_dir = Path(run_dir)
    if checkpoint == "final":
        weights = run_dir / "model.safetensors"
    elif checkpoint == "averaged":
        weights = run_dir / "averaged.safetensors"
        if not weights.is_file():
            raise AiaynError(f"{run_dir} has no averaged weights; run `aiayn average {run_dir}`")
    elif checkpoint == "best":
        best = read_best(run_dir / "checkpoints")
        if best is None:
            raise AiaynError(f"{run_dir} has no best checkpoint")
        verify_checkpoint(run_dir / "checkpoints" / best["name"])
        weights = run_dir / "checkpoints" / best["name"] / "model.safetensors"
    elif checkpoint == "latest":
        latest = latest_checkpoint(run_dir / "checkpoints")
        if latest is None:
            raise AiaynError(f"{run_dir} has no checkpoint")
        verify_checkpoint(latest)
        weights = latest / "model.safetensors"
    else:
        raise AiaynError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {checkpoint!r}")
    if not weights.is_file():
        raise AiaynError(f"{run_dir} has no trained weights ({weights.name}); is training done?")
    return weights


def load_run(
    run_dir: Path,
    *,
    device: torch.device | None = None,
    checkpoint: str = "final",
    data_dir: Path | None = None,
) -> Run:
    """Rebuild task, tokenizer and model from a run directory.

    `checkpoint` picks the weights (`weights_file`). `data_dir` is where the task finds its data
    sets (for `evaluate`), as for training.
    """
    run_dir = Path(run_dir)
    data = read_run_config(run_dir)
    try:
        task = get_task(data["task"], data.get("task_options", {}), data_dir=data_dir)
        model_config = ModelConfig.from_dict(data["model"])
        train_config = TrainConfig.from_dict(data["train"])
    except (KeyError, ValueError) as e:
        raise AiaynError(f"{run_dir / 'config.json'} does not describe a run: {e}") from e
    task.load(run_dir)
    model = task.build_model(model_config)
    load_weights(model, weights_file(run_dir, checkpoint))
    if device is not None:
        model = model.to(device)
    model.eval()
    return Run(run_dir, task, model, model_config, train_config)


__all__ = ["CHECKPOINTS", "Run", "load_run", "read_run_config", "weights_file", "write_run_config"]
