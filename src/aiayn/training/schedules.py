"""Learning-rate schedules, as pure functions of the step (so resuming needs only the step) or,
for a cosine that decays over a time budget, of the step and the training time so far.

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
    return _half_cosine((step - warmup_steps) / max(1, max_steps - warmup_steps), peak, min_lr)


def _half_cosine(progress: float, peak: float, min_lr: float) -> float:
    """From `peak` at progress 0 down to `min_lr` at progress 1, along half a cosine."""
    return min_lr + 0.5 * (peak - min_lr) * (1.0 + math.cos(math.pi * progress))


def cosine_lr_over_time(
    step: int, seconds: float, *, peak: float, warmup_steps: int, budget: float, min_lr: float
) -> float:
    """Half a cosine from `peak` down to `min_lr` over `budget` seconds of training, capped
    during the first `warmup_steps` by the same linear warmup as `cosine_lr`.

    The warmup counts steps (what keeps the first updates stable is their number), the decay
    counts seconds: a fast machine takes more steps in the same hour and still ends its decay
    at the end of the hour, a slow one ends it there too. The smaller of the two is taken, so
    the rate is continuous where the warmup hands over to the decay.
    """
    decay = _half_cosine(min(max(seconds / budget, 0.0), 1.0), peak, min_lr)
    if warmup_steps > 0 and step < warmup_steps:
        return min(peak * (step + 1) / (warmup_steps + 1), decay)
    return decay


def learning_rate(step: int, config: TrainConfig, *, d_model: int, seconds: float = 0.0) -> float:
    """The learning rate for optimiser step `step` (1-based) under `config`, `seconds` into
    training (read only by a cosine with `cosine_over="minutes"`)."""
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
    if config.lr_schedule == "cosine" and config.cosine_over == "minutes":
        assert config.max_minutes is not None  # TrainConfig.validate requires it
        return cosine_lr_over_time(
            step - 1,
            seconds,
            peak=peak,
            warmup_steps=config.warmup_steps,
            budget=config.max_minutes * 60.0,
            min_lr=config.min_lr,
        )
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
