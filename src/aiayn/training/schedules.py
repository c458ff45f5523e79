"""Learning-rate schedules, as pure functions of the step (so resuming needs only the step).

The paper's (section 5.3):
    lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)
a linear warmup for `warmup_steps`, then decay proportional to the inverse square root of the step.
"""

from __future__ import annotations

import math

from aiayn.config import TrainConfig


def inverse_sqrt_lr(step: int, *, d_model: int, warmup_steps: int, scale: float = 1.0) -> float:
    """The paper's schedule at `step` (counted from 1)."""
    step = max(step, 1)
    if warmup_steps == 0:
        return scale * d_model**-0.5 * step**-0.5
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


def cosine_lr(step: int, *, peak: float, warmup_steps: int, max_steps: int, min_lr: float) -> float:
    """Linear warmup to `peak`, then half a cosine down to `min_lr` at `max_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / (warmup_steps + 1)
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    return min_lr + 0.5 * (peak - min_lr) * (1.0 + math.cos(math.pi * progress))


def learning_rate(step: int, config: TrainConfig, *, d_model: int) -> float:
    """The learning rate for optimiser step `step` (1-based) under `config`."""
    if config.lr_schedule == "inverse-sqrt":
        if config.lr is None:
            return inverse_sqrt_lr(
                step, d_model=d_model, warmup_steps=config.warmup_steps, scale=config.lr_scale
            )
        # Same shape, but normalised so that the peak (at the end of warmup) is `config.lr`.
        peak_formula = inverse_sqrt_lr(
            max(config.warmup_steps, 1), d_model=d_model, warmup_steps=config.warmup_steps
        )
        return (
            config.lr
            * inverse_sqrt_lr(step, d_model=d_model, warmup_steps=config.warmup_steps)
            / peak_formula
        )
    peak = config.lr if config.lr is not None else 1e-3
    if config.lr_schedule == "cosine":
        return cosine_lr(
            step - 1,
            peak=peak,
            warmup_steps=config.warmup_steps,
            max_steps=config.max_steps,
            min_lr=config.min_lr,
        )
    # constant, with an optional linear warmup
    if config.warmup_steps > 0 and step < config.warmup_steps:
        return peak * step / config.warmup_steps
    return peak
