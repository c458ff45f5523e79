"""Residual connection and layer normalisation around every sub-layer (section 3.1).

The paper (post-norm):  LayerNorm(x + Dropout(Sublayer(x)))
Pre-norm (an option):   x + Dropout(Sublayer(LayerNorm(x)))
Pre-norm trains more stably without warmup; a pre-norm stack needs a final LayerNorm, which the
encoder and decoder add when `norm_first=True`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


class ResidualNorm(nn.Module):
    """Wraps one sub-layer (attention or feed-forward) with dropout, residual and LayerNorm."""

    def __init__(
        self,
        *,
        d_model: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """x: (B, T, D) -> (B, T, D)."""
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))
