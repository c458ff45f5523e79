"""The encoder (section 3.1): a stack of N identical layers, each self-attention then feed-forward,
each sub-layer wrapped in a residual connection and layer normalisation.

Notation: B batch, S source length, D d_model.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.nn.attention import MultiHeadAttention
from aiayn.nn.feed_forward import PositionwiseFeedForward
from aiayn.nn.residual import ResidualNorm


class EncoderLayer(nn.Module):
    """Self-attention over the whole source, then the position-wise feed-forward network."""

    def __init__(
        self,
        *,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        attn_dropout: float = 0.0,
        ff_dropout: float = 0.0,
        activation: str = "relu",
        norm_first: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(
            d_model=d_model, n_heads=n_heads, dropout=attn_dropout, bias=bias
        )
        self.feed_forward = PositionwiseFeedForward(
            d_model=d_model, d_ff=d_ff, activation=activation, dropout=ff_dropout, bias=bias
        )
        residual = dict(d_model=d_model, dropout=dropout, norm_first=norm_first, eps=eps, bias=bias)
        self.sublayer_attn = ResidualNorm(**residual)
        self.sublayer_ff = ResidualNorm(**residual)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> Tensor:
        """x: (B, S, D); mask broadcastable to (B, H, S, S), e.g. a (B, 1, 1, S) padding mask."""
        x = self.sublayer_attn(x, lambda y: self.self_attn(y, mask=mask, need_weights=need_weights))
        return self.sublayer_ff(x, self.feed_forward)


class Encoder(nn.Module):
    """N encoder layers; with pre-norm, a final LayerNorm (the stack's output is otherwise
    un-normalised)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model=c.d_model,
                n_heads=c.n_heads,
                d_ff=c.d_ff,
                dropout=c.p_drop,
                attn_dropout=c.p_drop_attn,
                ff_dropout=c.p_drop_ff,
                activation=c.activation,
                norm_first=c.norm_first,
                eps=c.layer_norm_eps,
                bias=c.bias,
            )
            for _ in range(c.n_layers)
        )
        self.norm = (
            nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias) if c.norm_first else None
        )

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> Tensor:
        """x: (B, S, D) embedded source -> (B, S, D) memory."""
        for layer in self.layers:
            x = layer(x, mask, need_weights=need_weights)
        return x if self.norm is None else self.norm(x)
