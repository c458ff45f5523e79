"""Guarding a training step against NaN and infinity.

Before a step is applied the trainer asks whether its loss and gradient norm are finite (one host
synchronisation). A step that is not stops the run there (`nonfinite="stop"`, the default): the
update is not applied and no weights are written, so the last checkpoint is the last good state
and `--resume` continues from it. `nonfinite="skip"` passes over such steps instead and stops at
the third in a row. Under fp16's grad scaler an overflowing gradient is the scaler's business (it
skips that step and lowers its scale); only the loss is checked then.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from aiayn.errors import AiaynError
from aiayn.training.checkpoint import latest_checkpoint
from aiayn.training.state import TrainState

log = logging.getLogger(__name__)

MAX_SKIPPED_IN_A_ROW = 3  # nonfinite=skip stops at the third non-finite step in a row


class TrainingDivergedError(AiaynError):
    """The loss or a gradient became NaN or infinite; the step was not applied."""

    exit_code = 3


def gradient_norm(
    parameters: Iterable[nn.Parameter],
    *,
    clip: float | None,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
) -> Tensor | None:
    """The gradients' total norm, clipped to `clip` if set (a plain tensor, also under FSDP).
    None under fp16's grad scaler without clipping."""
    parameters = list(parameters)
    if clip is not None:
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(parameters, clip)
    elif scaler.is_enabled():
        return None
    else:
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return None
        norm = torch.nn.utils.get_total_norm(grads)
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # a DTensor under FSDP


def handle(
    state: TrainState, *, mode: str, loss: float, grad_norm: float | None, checkpoint_dir: Path
) -> None:
    """A non-finite step (not applied): count it, and pass over it or raise."""
    step = state.step + 1
    what = f"the loss is {loss}" + ("" if grad_norm is None else f", the gradient norm {grad_norm}")
    state.skipped += 1
    state.skipped_in_a_row += 1
    if mode == "skip" and state.skipped_in_a_row < MAX_SKIPPED_IN_A_ROW:
        log.warning("step %d: %s; passed over (nonfinite=skip)", step, what)
        return
    saved = latest_checkpoint(checkpoint_dir)
    again = f"resume from {saved.name} (--resume)" if saved else "start again"
    in_a_row = f" ({state.skipped_in_a_row} in a row)" if state.skipped > 1 else ""
    raise TrainingDivergedError(
        f"step {step}: {what}{in_a_row}, so training stopped before applying it (no weights "
        f"were written); {again} with a lower learning rate, or pass over such steps with "
        "--set nonfinite=skip"
    )


__all__ = ["MAX_SKIPPED_IN_A_ROW", "TrainingDivergedError", "gradient_norm", "handle"]
