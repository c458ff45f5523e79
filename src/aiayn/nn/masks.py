"""Attention masks, as pure functions, with one convention: `True` means "may attend".

A mask broadcasts against attention scores of shape (B, H, T_q, T_k):
- a padding mask is (B, 1, 1, T_k): every query may look at the real keys only;
- a causal ("subsequent", section 3.2.3) mask is (T_q, T_k): query i may look at keys <= i.
Libraries that use the opposite convention (torch.nn.MultiheadAttention's key_padding_mask, where
True means "ignore") are converted at the boundary, in aiayn.interop.
"""

from __future__ import annotations

import torch
from torch import Tensor


def padding_mask(tokens: Tensor, pad_id: int) -> Tensor:
    """(B, T) token ids -> (B, 1, 1, T) bool mask, False at padding positions."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | None = None) -> Tensor:
    """(T_q, T_k) bool mask, lower-triangular: query i may attend to keys 0..i (+ offset).

    When T_k > T_q (incremental decoding: T_k - T_q keys are already cached), the queries are the
    *last* T_q positions, so query i sits at absolute position T_k - T_q + i.
    """
    t_k = t_q if t_k is None else t_k
    if t_k < t_q:
        raise ValueError(f"causal_mask needs t_k >= t_q, got t_q={t_q}, t_k={t_k}")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)
