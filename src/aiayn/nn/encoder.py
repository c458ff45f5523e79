"""The encoder (section 3.1): a stack of N identical layers, each self-attention then feed-forward,
each sub-layer wrapped in a residual connection and layer normalisation.

Notation: B batch, S source length, D d_model.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.nn.sublayers import LayerSpec


class EncoderLayer(nn.Module):
    """Self-attention over the whole source, then the position-wise feed-forward network."""

    def __init__(self, spec: LayerSpec) -> None:
        super().__init__()
        self.self_attn = spec.attention()
        self.sublayer_attn = spec.residual()
        self.feed_forward = spec.feed_forward()
        self.sublayer_ff = spec.residual()

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> Tensor:
        """x: (B, S, D); mask broadcastable to (B, H, S, S), e.g. a (B, 1, 1, S) padding mask."""
        x = self.sublayer_attn(x, lambda y: self.self_attn(y, mask=mask, need_weights=need_weights))
        return self.sublayer_ff(x, self.feed_forward)


class Encoder(nn.Module):
    """N encoder layers; with pre-norm, a final LayerNorm (the stack's output is otherwise
    un-normalised). `share_layers` makes the N layers one module, applied N times."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        spec = LayerSpec.from_config(config)
        if config.share_layers:  # one layer applied N times (ALBERT): its weights are tied
            layer = EncoderLayer(spec)
            self.layers = nn.ModuleList(layer for _ in range(config.n_layers))
        else:
            self.layers = nn.ModuleList(EncoderLayer(spec) for _ in range(config.n_layers))
        self.norm = spec.final_norm()

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> Tensor:
        """x: (B, S, D) embedded source -> (B, S, D) memory."""
        for layer in self.layers:
            x = layer(x, mask, need_weights=need_weights)
        return x if self.norm is None else self.norm(x)
