"""Positional encoding (section 3.5): how a model with no recurrence knows the order of tokens.

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

Each dimension is a sinusoid whose wavelength grows geometrically from 2*pi to 10000*2*pi, so
PE(pos + k) is a linear function of PE(pos). The paper found learned position embeddings gave
nearly identical results (Table 3, row E); both are here, and "none" (no positions at all, an
ablation: self-attention alone is permutation-equivariant, so such an encoder cannot tell order).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    """The (max_len, d_model) table of section 3.5: sines in even dimensions, cosines in odd."""
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,)
    angle = position / torch.pow(10000.0, two_i / d_model)  # (max_len, d_model/2)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Looks up the fixed sinusoidal table; nothing is learned."""

    def __init__(self, *, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        # Not persistent: the table is a formula, not a weight, so checkpoints do not carry it.
        self.register_buffer(
            "pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False
        )

    def forward(self, positions: Tensor) -> Tensor:
        """(..., T) integer positions -> (..., T, d_model)."""
        return self.pe[positions]


class LearnedPositionalEmbedding(nn.Module):
    """One trained vector per position (BERT, GPT); cannot extrapolate past max_len."""

    def __init__(self, *, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=d_model**-0.5)

    def forward(self, positions: Tensor) -> Tensor:
        """(..., T) integer positions -> (..., T, d_model)."""
        return self.weight[positions]


class NoPositionalEncoding(nn.Module):
    """Zeros: the model is told nothing about order."""

    def __init__(self, *, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.d_model = d_model

    def forward(self, positions: Tensor) -> Tensor:
        """(..., T) integer positions -> (..., T, d_model) zeros."""
        return torch.zeros(*positions.shape, self.d_model, device=positions.device)


def positional_encoding(kind: str, *, max_len: int, d_model: int) -> nn.Module:
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(max_len=max_len, d_model=d_model)
    if kind == "learned":
        return LearnedPositionalEmbedding(max_len=max_len, d_model=d_model)
    if kind == "none":
        return NoPositionalEncoding(max_len=max_len, d_model=d_model)
    raise ValueError(f"positional must be 'sinusoidal', 'learned' or 'none', got {kind!r}")


__all__ = [
    "LearnedPositionalEmbedding",
    "NoPositionalEncoding",
    "SinusoidalPositionalEncoding",
    "positional_encoding",
    "sinusoidal_positional_encoding",
]
