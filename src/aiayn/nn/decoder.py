"""The decoder (section 3.1): N identical layers of masked self-attention, encoder-decoder
attention and feed-forward. Without the middle sub-layer it is a decoder-only language model.

Masked self-attention keeps the model auto-regressive: position i attends only to positions <= i,
so its prediction can depend only on the known outputs before it (section 3.2.3).

Notation: B batch, T target length, S source length, D d_model.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.nn.kv_cache import DecoderCache, KVCache
from aiayn.nn.sublayers import LayerSpec


class DecoderLayer(nn.Module):
    """Masked self-attention, [encoder-decoder attention], feed-forward; each with residual+norm."""

    def __init__(
        self, spec: LayerSpec, *, cross_attention: bool = True, causal: bool = True
    ) -> None:
        super().__init__()
        self.causal = causal  # False: an ablation that lets position i see the positions after it
        self.self_attn = spec.attention()
        self.sublayer_self_attn = spec.residual()
        self.cross_attn = spec.attention() if cross_attention else None
        self.sublayer_cross_attn = spec.residual() if cross_attention else None
        self.feed_forward = spec.feed_forward()
        self.sublayer_ff = spec.residual()

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        self_cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """x: (B, T, D); memory: (B, S, D) encoder output; masks True = may attend.

        The causal mask is applied (unless the layer was built with `causal=False`); `self_mask`
        adds to it (e.g. left padding).
        """
        x = self.sublayer_self_attn(
            x,
            lambda y: self.self_attn(
                y,
                mask=self_mask,
                causal=self.causal,
                cache=self_cache,
                need_weights=need_weights,
            ),
        )
        if self.cross_attn is not None:
            if memory is None and (cross_cache is None or cross_cache.k is None):
                raise ValueError("this decoder layer has encoder-decoder attention: pass `memory`")
            x = self.sublayer_cross_attn(
                x,
                lambda y: self.cross_attn(
                    y, memory, mask=memory_mask, cache=cross_cache, need_weights=need_weights
                ),
            )
        return self.sublayer_ff(x, self.feed_forward)


class Decoder(nn.Module):
    """N decoder layers; with pre-norm, a final LayerNorm. `cross_attention=False` gives the
    decoder-only language model's stack. `share_layers` makes the N layers one module, applied N
    times; `causal=False` (from the config) removes the subsequent-position mask."""

    def __init__(self, config: ModelConfig, *, cross_attention: bool = True) -> None:
        super().__init__()
        spec = LayerSpec.from_config(config)
        self.cross_attention = cross_attention

        def make() -> DecoderLayer:
            return DecoderLayer(spec, cross_attention=cross_attention, causal=config.causal)

        if config.share_layers:  # one layer applied N times (ALBERT): its weights are tied
            layer = make()
            self.layers = nn.ModuleList(layer for _ in range(config.decoder_layers))
        else:
            self.layers = nn.ModuleList(make() for _ in range(config.decoder_layers))
        self.norm = spec.final_norm()

    def new_cache(self, capacity: int | None = None) -> DecoderCache:
        """An empty cache for incremental decoding, allocated for `capacity` positions."""
        return DecoderCache(
            len(self.layers), cross_attention=self.cross_attention, capacity=capacity
        )

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cache: DecoderCache | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """x: (B, T, D) embedded target -> (B, T, D).

        With `cache`, x holds only the new positions.
        """
        for i, layer in enumerate(self.layers):
            x = layer(
                x,
                memory,
                self_mask=self_mask,
                memory_mask=memory_mask,
                self_cache=None if cache is None else cache.self_attn[i],
                cross_cache=None if cache is None else cache.cross_attn[i],
                need_weights=need_weights,
            )
        return x if self.norm is None else self.norm(x)
