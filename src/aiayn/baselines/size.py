"""Parameter counts of the recurrent baseline, for comparisons at equal size.

With hidden size D, L layers, a shared and tied vocabulary of V tokens and PyTorch's two bias
vectors per LSTM layer (b_ih and b_hh), the model holds

    embedding           V D
    encoder             L (6 D^2 + 8 D)          two directions of D/2 units, input D
    bridge              2 L D^2 + 2 L D
    decoder LSTM        12 D^2 + 8 D  +  (L - 1) (8 D^2 + 8 D)     first layer's input is 2D
    attention           0 ("dot"), D^2 ("general"), 2 D^2 + 2 D ("additive")
    W_c                 2 D^2 + D

so about (16 L + 7) D^2 + V D with the "general" score. A Transformer layer pair with d_ff = 4 D
holds 28 D^2 (12 D^2 in the encoder layer, 16 D^2 in the decoder layer) against the LSTM's 16 D^2
per layer: at equal parameters the recurrent model gets a larger D or more layers.
"""

from __future__ import annotations

import math

import torch

from aiayn.baselines.rnn import LSTMEncoderDecoder
from aiayn.config import ModelConfig


def baseline_parameter_count(config: ModelConfig) -> int:
    """Number of distinct trainable parameters of the baseline `config` describes (a tied matrix
    counts once). Built on the meta device: no memory is allocated, so any size is cheap."""
    with torch.device("meta"):
        model = LSTMEncoderDecoder(config)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fit_d_model(
    config: ModelConfig, n_parameters: int, *, multiple_of: int | None = None
) -> ModelConfig:
    """`config` with the d_model whose parameter count is closest to `n_parameters` (the smaller
    one on a tie), for a comparison with a Transformer of the same size.

    d_model moves in steps of `multiple_of`, by default the least that keeps the config valid:
    even (each encoder direction has d_model / 2 units) and divisible by n_heads (which
    ModelConfig requires, although the LSTM does not use heads).
    """
    if not isinstance(n_parameters, int) or isinstance(n_parameters, bool) or n_parameters <= 0:
        raise ValueError(f"n_parameters must be a positive integer, got {n_parameters!r}")
    least = math.lcm(2, config.n_heads)
    step = least if multiple_of is None else multiple_of
    if not isinstance(step, int) or step <= 0 or step % least != 0:
        raise ValueError(
            f"multiple_of must be a positive multiple of {least} (even, and divisible by "
            f"n_heads={config.n_heads}), got {multiple_of!r}"
        )

    def count(k: int) -> int:
        return baseline_parameter_count(config.replace(d_model=k * step))

    # The count grows with d_model: find the first k whose count reaches the target.
    high = 1
    while count(high) < n_parameters:
        high *= 2
    low = high // 2  # count(low) < n_parameters, or low == 0
    while high - low > 1:
        mid = (low + high) // 2
        if count(mid) < n_parameters:
            low = mid
        else:
            high = mid
    best = high
    if low >= 1 and n_parameters - count(low) <= count(high) - n_parameters:
        best = low
    return config.replace(d_model=best * step)
