"""Helpers shared by the decoders: argument checks, the output-length limit of section 6.1, and
the constraints a search may put on the next token (a minimum length, no repeated n-grams).

Notation: B batch (sources or beams), S source length, t tokens generated so far, V vocabulary.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

logger = logging.getLogger("aiayn.decoding")

# Section 6.1: "We set the maximum output length during inference to input length + 50".
EXTRA_OUTPUT_TOKENS = 50
NEG_INF = float("-inf")


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


def constrain(
    log_probs: Tensor,
    generated: Tensor,
    *,
    eos_id: int,
    min_len: int,
    no_repeat_ngram: int,
) -> Tensor:
    """Forbid (set to -inf) the next tokens the options rule out; (B, V) -> (B, V).

    `generated` (B, t) holds each row's tokens so far. EOS is forbidden while a row has fewer
    than `min_len` tokens. With `no_repeat_ngram` n > 0, a token that would complete an n-gram
    already in the row is forbidden (Paulus et al. 2018 block repeated trigrams in summaries).
    """
    t = generated.size(1)
    if t < min_len:
        log_probs = log_probs.index_fill(
            1, torch.tensor([eos_id], device=log_probs.device), NEG_INF
        )
    n = no_repeat_ngram
    if n > 0 and t >= n:
        windows = generated.unfold(1, n, 1)  # (B, t - n + 1, n): every n-gram so far
        last = generated[:, t - n + 1 :]  # (B, n - 1): what the next token would follow
        seen = (windows[:, :, : n - 1] == last[:, None, :]).all(-1)  # (B, t - n + 1)
        banned = torch.zeros_like(log_probs).scatter_add_(
            1, windows[:, :, n - 1], seen.to(log_probs.dtype)
        )
        log_probs = log_probs.masked_fill(banned > 0, NEG_INF)
    return log_probs
