"""Dropout (section 5.4), with a cheaper mask on the CPU.

The paper applies dropout "to the output of each sub-layer, before it is added to the sub-layer
input and normalized" and "to the sums of the embeddings and the positional encodings". Dropout
keeps each element with probability 1 - p and scales the kept ones by 1 / (1 - p), so that the
expected output is the input.

On a GPU, and under torch.compile (which generates its own fused random numbers), torch's
dropout is used as it is. On a CPU, drawing the random mask is most of what
dropout costs: torch draws one random float per element (`bernoulli_`), and its generator runs on
one thread however many cores there are. Here the mask comes from 15 random bits per element,
four elements from each 64-bit draw (torch's generator fills an int64 with 63 random bits): an
element is dropped when its 15 bits, read as a number in [0, 32768), fall below
round(p * 32768). So the probability used is p rounded to a multiple of 1/32768 (at most 1.6e-5
away), and the kept elements are scaled by 1 / (1 - that probability), which keeps the
expectation exact. The mask comes from torch's generator, so `torch.manual_seed` and a
checkpoint's saved RNG state reproduce it. benchmarks/dropout.py measures the two.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LEVELS = 1 << 15  # the mask's resolution: 15 random bits per element


def drop_mask(shape: torch.Size | tuple[int, ...], p: float) -> Tensor:
    """A bool tensor of `shape`, True = drop, each element dropped independently with
    probability round(p * 32768) / 32768, from 15 random bits per element."""
    n = torch.Size(shape).numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()  # 63 random bits each
    quarters = words.view(torch.int16)[:n].view(shape)  # 4 x 16 bits; the 4th has its top bit 0
    return (quarters & (LEVELS - 1)) < round(p * LEVELS)  # 15 uniform bits per element


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """x with each element zeroed with probability p (in training) and the rest scaled by
    1 / (1 - p); x itself when not training or p = 0. Same shape and dtype as x."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p!r}")
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or torch.compiler.is_compiling():
        return F.dropout(x, p, training=True)  # fused kernels (under torch.compile, its own)
    dropped = round(p * LEVELS)  # out of LEVELS
    if dropped == 0:
        return x
    if dropped == LEVELS:
        return x * 0.0  # everything dropped (and a gradient of zeros)
    # two passes, forward and backward alike: zero the dropped, scale the kept
    return x.masked_fill(drop_mask(x.shape, p), 0.0).mul_(LEVELS / (LEVELS - dropped))


class Dropout(nn.Module):
    """`dropout` as a module: active in training mode, the identity in eval mode."""

    def __init__(self, p: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


__all__ = ["LEVELS", "Dropout", "drop_mask", "dropout"]
