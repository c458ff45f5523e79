"""Residual connection and layer normalisation around every sub-layer (section 3.1).

The paper (post-norm):  LayerNorm(x + Dropout(Sublayer(x)))
Pre-norm (an option):   x + Dropout(Sublayer(LayerNorm(x)))
Pre-norm trains more stably without warmup; a pre-norm stack needs a final LayerNorm, which the
encoder and decoder add when `norm_first=True`.

`residual=False` removes the skip connection (an ablation): LayerNorm(Dropout(Sublayer(x))), or
Dropout(Sublayer(LayerNorm(x))) in pre-norm. Each layer's output is then only what its sub-layers
compute, and the gradient reaches the bottom of the stack only through every sub-layer's Jacobian.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from aiayn.nn.dropout import Dropout


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
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps, bias=bias)
        self.dropout = Dropout(dropout)
        self.norm_first = norm_first
        self.residual = residual

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """x: (B, T, D) -> (B, T, D)."""
        skip = x if self.residual else 0.0
        if self.norm_first:
            return skip + self.dropout(sublayer(self.norm(x)))
        return self.norm(skip + self.dropout(sublayer(x)))
