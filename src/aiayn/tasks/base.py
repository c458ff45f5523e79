"""What a task is: data, a tokenizer, an evaluation and the figures of its summary.

The trainer and the applications are generic; a task supplies the parts that differ. Every task
can be trained and evaluated (this base class). What else a task can do with a trained model is
said by the capabilities it declares (aiayn.tasks.capabilities): translate, generate, classify,
draw attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from aiayn.baselines import BASELINE_INTERFACES, build_baseline
from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.models import build_model
from aiayn.tokenizers import BOS_ID, PAD_ID

_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


class Task:
    """Base class. Subclasses set the class attributes and implement `prepare` and `evaluate`."""

    name: ClassVar[str]
    arch: ClassVar[str]  # the model architecture the task trains
    description: ClassVar[str] = ""
    default_preset: ClassVar[str] = "tiny"
    default_train: ClassVar[dict[str, Any]] = {}
    default_model: ClassVar[dict[str, Any]] = {}
    options: ClassVar[dict[str, Any]] = {}  # task options and their defaults
    # The evaluation figure that picks the best checkpoint, and whether lower or higher is better.
    best_metric: ClassVar[str] = "val_loss"
    best_mode: ClassVar[str] = "min"
    # Numeric options that must be at least 1 (the others at least 0), and options that may
    # also be None although their default is not.
    positive_options: ClassVar[frozenset[str]] = frozenset()
    nullable_options: ClassVar[frozenset[str]] = frozenset()
    # Token ids that are never a target (<pad>, <bos>): label smoothing leaves them out.
    never_targets: ClassVar[tuple[int, ...]] = (PAD_ID, BOS_ID)

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
        self._check_option_types()

    def _check_option_types(self) -> None:
        """Each option has its default's type (a float option takes an int too) and a number is
        never negative; those in `positive_options` are >= 1. Options whose default is None
        (files, an optional setting) are the task's own to check."""
        for key, default in self.options.items():
            value = self.opts[key]
            if default is None or value is None and key in self.nullable_options:
                continue
            kind = type(default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                self.opts[key] = value = float(value)
            if type(value) is not kind:
                raise AiaynError(
                    f"task option {key} must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
                    f"got {value!r}"
                )
            if kind in (int, float) and value < (1 if key in self.positive_options else 0):
                low = 1 if key in self.positive_options else 0
                raise AiaynError(f"task option {key} must be >= {low}, got {value!r}")

    def check_split(self, split: str, allowed: tuple[str, ...]) -> None:
        """Refuse a split name the task does not have, naming the ones it has (`aiayn eval
        --split`)."""
        if split not in allowed:
            raise AiaynError(
                f"unknown split {split!r} for task {self.name!r}: choose one of "
                f"{', '.join(allowed)}"
            )

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        """Build or load the data and tokenizer (saving the tokenizer into `run_dir`).

        Returns the ModelConfig fields the data fixes (vocab_size, pad_id, max_len...)."""
        raise NotImplementedError

    def load(self, run_dir: Path) -> None:
        """Restore what `prepare` saved (the tokenizer), for a trained run."""
        raise NotImplementedError

    def accepts(self, arch: str) -> bool:
        """Whether the task can train a model of `arch`: its own, or a baseline with the same
        interface (an encoder-decoder task trains the LSTM encoder-decoder too)."""
        return arch == self.arch or BASELINE_INTERFACES.get(arch) == self.arch

    def build_model(self, config: ModelConfig) -> nn.Module:
        """A freshly initialised model of `config` (one of ours, or a baseline)."""
        if config.arch in BASELINE_INTERFACES:
            return build_baseline(config)
        return build_model(config)

    # -- training -------------------------------------------------------------------------
    def train_source(self, train_config: TrainConfig) -> Any:
        raise NotImplementedError

    def loss_fn(self, train_config: TrainConfig) -> Any:
        """A custom loss (model, batch) -> LossOutput, or None for aiayn.training.compute_loss."""
        return None

    def plots(self, run_dir: Path, summary: dict[str, Any]) -> None:
        """Draw the task's own figures into the run directory at the end of training."""

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


__all__ = ["Task"]
