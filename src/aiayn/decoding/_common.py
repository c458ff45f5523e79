"""Helpers shared by the decoders: argument checks and the output-length limit of section 6.1.

Notation: B batch (sources), S source length.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

logger = logging.getLogger("aiayn.decoding")

# Section 6.1: "We set the maximum output length during inference to input length + 50".
EXTRA_OUTPUT_TOKENS = 50


def warn_if_training(model: nn.Module) -> None:
    """Decoding never switches the model's mode (that is the caller's choice); say when dropout
    may be active, since it makes decoding random and cached and uncached runs differ."""
    if model.training:
        logger.warning(
            "decoding with a model in training mode (dropout is active); call model.eval() first"
        )


def check_source(src: Tensor) -> None:
    if src.dim() != 2 or src.dtype != torch.long:
        raise ValueError(
            f"src must be a (B, S) tensor of int64 token ids, got shape {tuple(src.shape)} "
            f"and dtype {src.dtype}"
        )
    if src.size(0) == 0:
        raise ValueError("src must hold at least one source, got an empty batch")


def output_length_limits(
    src: Tensor, *, pad_id: int, model_max_len: int, max_len: int | None
) -> Tensor:
    """(B, S) padded source ids -> (B,) the most tokens (EOS included) to generate per source.

    `max_len=None` gives the paper's limit, each source's real (non-pad) length + 50. Either way
    the limit is capped by the model's `max_len`: the decoder input at step t holds BOS and t - 1
    tokens, positions 0 .. t - 1, and the model can embed positions below `model_max_len` only.
    """
    if max_len is None:
        limits = (src != pad_id).sum(dim=1) + EXTRA_OUTPUT_TOKENS  # (B, S) -> (B,)
    else:
        limits = torch.full((src.size(0),), max_len, dtype=torch.long, device=src.device)
    return limits.clamp(max=model_max_len)
