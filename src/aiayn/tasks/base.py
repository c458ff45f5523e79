"""What a task is: data, a tokenizer, an evaluation and the figures of its summary.

The trainer and the CLI are generic; a task supplies the parts that differ. A run directory holds
`config.json` (task, task options, model and training config), the task's tokenizer, checkpoints,
`model.safetensors`, `metrics.jsonl` and `summary.json`; `load_run` rebuilds everything from it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.training.loss import Batch, LossOutput


@dataclass
class FixedBatches:
    """A BatchSource over pre-made batches (lists of example indices), reshuffled every epoch
    with a generator seeded by (seed, epoch), so any epoch's order can be rebuilt on resume."""

    batches: list[list[int]]
    collate: Any  # Callable[[list[int]], Batch]
    seed: int = 0
    shuffle: bool = True
    _cache: tuple[int, list[Batch]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.batches)

    def epoch_batches(self, epoch: int) -> Sequence[Batch]:
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        order = list(range(len(self.batches)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        epoch_batches = [self.collate(self.batches[i]) for i in order]
        self._cache = (epoch, epoch_batches)
        return epoch_batches


class Task:
    """Base class. Subclasses set the class attributes and implement `prepare` and `evaluate`."""

    name: ClassVar[str]
    arch: ClassVar[str]  # the model architecture the task trains
    description: ClassVar[str] = ""
    default_preset: ClassVar[str] = "tiny"
    default_train: ClassVar[dict[str, Any]] = {}
    default_model: ClassVar[dict[str, Any]] = {}
    options: ClassVar[dict[str, Any]] = {}  # task options and their defaults

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise AiaynError(
                f"unknown option(s) {', '.join(unknown)} for task {self.name!r}; "
                f"known: {', '.join(sorted(self.options)) or 'none'}"
            )
        self.opts: dict[str, Any] = {**self.options, **options}
        self.data_dir = data_dir

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        """Build or load the data and tokenizer (saving the tokenizer into `run_dir`).

        Returns the ModelConfig fields the data fixes (vocab_size, pad_id, max_len...)."""
        raise NotImplementedError

    def load(self, run_dir: Path) -> None:
        """Restore what `prepare` saved (the tokenizer), for a trained run."""
        raise NotImplementedError

    def build_model(self, config: ModelConfig) -> nn.Module:
        from aiayn.models import build_model

        return build_model(config)

    # -- training -------------------------------------------------------------------------
    def train_source(self, train_config: TrainConfig) -> Any:
        raise NotImplementedError

    def loss_fn(self, train_config: TrainConfig) -> Any:
        """A custom loss (model, batch) -> LossOutput, or None for aiayn.training.compute_loss."""
        return None

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        """Figures on a held-out split; keys prefixed with the split name ("val_loss")."""
        raise NotImplementedError

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Final figures for summary.json (beyond steps, seconds, parameters). `untrained` is the
        validation evaluation before the first step, `final` the trainer's last one (of these
        weights), which a task may reuse rather than evaluate twice."""
        return {}

    def proofs(self, summary: dict[str, Any]) -> list[str]:
        """Human-readable lines the CLI prints at the end of training."""
        return []

    def reference_outputs(self, model: nn.Module) -> Any:
        """Deterministic outputs (e.g. greedy decodes of a few inputs) used to check that a saved
        and reloaded model behaves exactly like the one in memory."""
        raise NotImplementedError

    # -- using a trained model (the CLI) ------------------------------------------------------
    def encode_prompt(self, text: str) -> list[int]:
        """A language-model prompt -> ids (the task's tokenizer)."""
        return self.tokenizer.encode(text)

    def heal_prompt(self, text: str) -> tuple[str, list[int] | None]:
        """A prompt -> (the text to encode, the ids its first new token may take, or None).

        Tokenizers that cut a prompt the way they cut the text can override this to take off a
        last piece that training text would have continued (token healing)."""
        return text, None

    def decode_output(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def translate(
        self, model: nn.Module, lines: list[str], *, beam: int = 4, alpha: float = 0.6
    ) -> list[str]:
        """Translate `lines` (an encoder-decoder task): batched by length, in input order.

        Empty lines give empty outputs; a line longer than the model's maximum is an error.
        """
        from aiayn.decoding import beam_decode, greedy_decode

        tok = self.tokenizer
        encoded = [self.encode_source(line) for line in lines]
        max_len = model.config.max_len
        for number, ids in enumerate(encoded, start=1):
            if len(ids) > max_len:
                raise AiaynError(
                    f"line {number} has {len(ids)} tokens, more than the model's maximum {max_len}"
                )
        outputs = [""] * len(lines)
        order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
        device = next(model.parameters()).device
        for start in range(0, len(order), 64):
            chunk = order[start : start + 64]
            src = torch.full((len(chunk), max(len(encoded[i]) for i in chunk)), tok.pad_id)
            for row, i in enumerate(chunk):
                src[row, : len(encoded[i])] = torch.tensor(encoded[i])
            src = src.to(device)
            with torch.no_grad():
                if beam <= 1:
                    hyps = greedy_decode(model, src, bos_id=tok.bos_id, eos_id=tok.eos_id)
                else:
                    hyps = beam_decode(
                        model,
                        src,
                        bos_id=tok.bos_id,
                        eos_id=tok.eos_id,
                        beam_size=beam,
                        alpha=alpha,
                    )
            for i, hyp in zip(chunk, hyps, strict=True):
                outputs[i] = self.decode_target(hyp)
        return outputs

    def encode_source(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def decode_target(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)


def write_run_config(
    run_dir: Path,
    *,
    task: Task,
    model: ModelConfig,
    train: TrainConfig,
) -> None:
    from aiayn.training.checkpoint import atomic_write_json

    atomic_write_json(
        Path(run_dir) / "config.json",
        {
            "task": task.name,
            "task_options": task.opts,
            "model": model.to_dict(),
            "train": train.to_dict(),
        },
    )


@dataclass
class Run:
    """A trained run, loaded: its task (with tokenizer), model (eval mode) and configs."""

    directory: Path
    task: Task
    model: nn.Module
    model_config: ModelConfig
    train_config: TrainConfig


def read_run_config(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise AiaynError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise AiaynError(f"{run_dir} is not a run directory (no config.json); train one first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AiaynError(f"{path} is not valid JSON: {e}") from e


def load_run(
    run_dir: Path,
    *,
    device: torch.device | None = None,
    checkpoint: str = "final",
    data_dir: Path | None = None,
) -> Run:
    """Rebuild task, tokenizer and model from a run directory.

    `checkpoint`: "final" (model.safetensors), "best" (the best checkpoint), "latest", or
    "averaged" (averaged.safetensors, written by `aiayn average`). `data_dir` is where the task
    finds its data sets (for `evaluate`), as for training.
    """
    from aiayn.tasks import get_task
    from aiayn.training.checkpoint import latest_checkpoint, load_weights, read_best

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
        weights = run_dir / "checkpoints" / best["name"] / "model.safetensors"
    elif checkpoint == "latest":
        latest = latest_checkpoint(run_dir / "checkpoints")
        if latest is None:
            raise AiaynError(f"{run_dir} has no checkpoint")
        weights = latest / "model.safetensors"
    else:
        raise AiaynError(
            f"checkpoint must be 'final', 'best', 'latest' or 'averaged', got {checkpoint!r}"
        )
    if not weights.is_file():
        raise AiaynError(f"{run_dir} has no trained weights ({weights.name}); is training done?")
    load_weights(model, weights)
    if device is not None:
        model = model.to(device)
    model.eval()
    return Run(run_dir, task, model, model_config, train_config)


__all__ = [
    "Batch",
    "FixedBatches",
    "LossOutput",
    "Run",
    "Task",
    "load_run",
    "read_run_config",
    "write_run_config",
]
