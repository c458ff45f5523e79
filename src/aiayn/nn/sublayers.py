"""The hyper-parameters every encoder and decoder layer shares, and the sub-layers built from them.

A Transformer layer is two or three sub-layers (attention, [encoder-decoder attention],
feed-forward), each wrapped in a residual connection and layer norm (section 3.1). `LayerSpec`
says how big they are and which departures from the paper are on; its three builders are the one
place where a layer's parts are made, so the encoder and the decoder cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import nn

from aiayn.config import ModelConfig
from aiayn.nn.attention import MultiHeadAttention
from aiayn.nn.feed_forward import PositionwiseFeedForward
from aiayn.nn.residual import ResidualNorm

# LayerSpec's fields whose ModelConfig field has another name
_CONFIG_NAMES = {
    "dropout": "p_drop",
    "attn_dropout": "p_drop_attn",
    "ff_dropout": "p_drop_ff",
    "eps": "layer_norm_eps",
    "skip": "residual",
}


@dataclass(frozen=True)
class LayerSpec:
    """d_model, h (n_heads) and d_ff of section 3, P_drop on sub-layer outputs, and the options."""

    d_model: int
    n_heads: int
    d_ff: int
    dropout: float = 0.1  # P_drop, on each sub-layer's output before the residual sum
    attn_dropout: float = 0.0  # on the attention weights (not in the paper)
    ff_dropout: float = 0.0  # after the feed-forward activation (not in the paper)
    activation: str = "relu"
    norm_first: bool = False  # False: the paper's post-norm
    eps: float = 1e-5
    bias: bool = True
    skip: bool = True  # the residual connection; False removes it (an ablation)
    attention_score: str = "scaled-dot"  # how a query and a key give a weight

    @classmethod
    def from_config(cls, config: ModelConfig) -> LayerSpec:
        """Each field from the ModelConfig field of its name, or of the name _CONFIG_NAMES gives."""
        return cls(
            **{f.name: getattr(config, _CONFIG_NAMES.get(f.name, f.name)) for f in fields(cls)}
        )

    def attention(self) -> MultiHeadAttention:
        return MultiHeadAttention(
            d_model=self.d_model,
            n_heads=self.n_heads,
            dropout=self.attn_dropout,
            bias=self.bias,
            score=self.attention_score,
        )

    def feed_forward(self) -> PositionwiseFeedForward:
        return PositionwiseFeedForward(
            d_model=self.d_model,
            d_ff=self.d_ff,
            activation=self.activation,
            dropout=self.ff_dropout,
            bias=self.bias,
        )

    def residual(self) -> ResidualNorm:
        return ResidualNorm(
            d_model=self.d_model,
            dropout=self.dropout,
            norm_first=self.norm_first,
            eps=self.eps,
            bias=self.bias,
            residual=self.skip,
        )

    def final_norm(self) -> nn.LayerNorm | None:
        """A pre-norm stack ends with a LayerNorm (its sub-layers leave the residual sum
        un-normalised); the paper's post-norm stack needs none."""
        if not self.norm_first:
            return None
        return nn.LayerNorm(self.d_model, eps=self.eps, bias=self.bias)


__all__ = ["LayerSpec"]
