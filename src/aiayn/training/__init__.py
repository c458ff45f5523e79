"""Training: loss, learning-rate schedules, the optimiser, checkpoints, and the one loop."""

from aiayn.training.checkpoint import (
    average_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    save_weights,
)
from aiayn.training.device import autocast, resolve_device
from aiayn.training.loss import (
    LossOutput,
    compute_loss,
    count_targets,
    label_smoothed_cross_entropy,
)
from aiayn.training.optim import build_optimizer, parameter_groups
from aiayn.training.schedules import cosine_lr, inverse_sqrt_lr, learning_rate
from aiayn.training.state import TrainState
from aiayn.training.trainer import BatchSource, Trainer

__all__ = [
    "BatchSource",
    "LossOutput",
    "TrainState",
    "Trainer",
    "autocast",
    "average_checkpoints",
    "build_optimizer",
    "compute_loss",
    "cosine_lr",
    "count_targets",
    "inverse_sqrt_lr",
    "label_smoothed_cross_entropy",
    "latest_checkpoint",
    "learning_rate",
    "list_checkpoints",
    "load_checkpoint",
    "load_weights",
    "parameter_groups",
    "resolve_device",
    "save_weights",
]
