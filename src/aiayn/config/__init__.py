"""Typed, frozen configuration: the model (`ModelConfig`, presets), training (`TrainConfig`), and
the settings of the command line (`--set`, `--config`)."""

from aiayn.config.model import (
    ACTIVATIONS,
    ARCHS,
    ATTENTION_SCORES,
    MODEL_PRESETS,
    POOLINGS,
    POSITIONALS,
    RNN_ATTENTIONS,
    Arch,
    ModelConfig,
    model_preset,
)
from aiayn.config.overrides import Overrides, parse_value, read_config_file, split_overrides
from aiayn.config.train import LR_SCHEDULES, PRECISIONS, TrainConfig

__all__ = [
    "ACTIVATIONS",
    "ARCHS",
    "ATTENTION_SCORES",
    "LR_SCHEDULES",
    "MODEL_PRESETS",
    "POOLINGS",
    "POSITIONALS",
    "PRECISIONS",
    "RNN_ATTENTIONS",
    "Arch",
    "ModelConfig",
    "Overrides",
    "TrainConfig",
    "model_preset",
    "parse_value",
    "read_config_file",
    "split_overrides",
]
