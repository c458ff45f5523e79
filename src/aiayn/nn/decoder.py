"""The decoder (section 3.1): N identical layers of masked self-attention, encoder-decoder
attention and feed-forward. Without the middle sub-layer it is a decoder-only language model.

Masked self-attention keeps the model auto-regressive: position i attends only to positions <= i,
so its prediction can depend only on the known outputs before it (section 3.2.3).

Notation: B batch, T target length, S source length, D d_model.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.nn.attention import MultiHeadAttention
from aiayn.nn.feed_forward import PositionwiseFeedForward
from aiayn.nn.kv_cache import DecoderCache, KVCache
from aiayn.nn.residual import ResidualNorm


class DecoderLayer(nn.Module):
    """Masked self-attention, [encoder-decoder attention], feed-forward; each with residual+norm."""

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
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        mha = dict(d_model=d_model, n_heads=n_heads, dropout=attn_dropout, bias=bias)
        residual = dict(d_model=d_model, dropout=dropout, norm_first=norm_first, eps=eps, bias=bias)
        self.self_attn = MultiHeadAttention(**mha)
        self.sublayer_self_attn = ResidualNorm(**residual)
        if cross_attention:
            self.cross_attn = MultiHeadAttention(**mha)
            self.sublayer_cross_attn = ResidualNorm(**residual)
        else:
            self.cross_attn = None
            self.sublayer_cross_attn = None
        self.feed_forward = PositionwiseFeedForward(
            d_model=d_model, d_ff=d_ff, activation=activation, dropout=ff_dropout, bias=bias
        )
        self.sublayer_ff = ResidualNorm(**residual)

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

        The causal mask is always applied; `self_mask` adds to it (e.g. left padding).
        """
        x = self.sublayer_self_attn(
            x,
            lambda y: self.self_attn(
                y, mask=self_mask, causal=True, cache=self_cache, need_weights=need_weights
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
    decoder-only language model's stack."""

    def __init__(self, config: ModelConfig, *, cross_attention: bool = True) -> None:
        super().__init__()
        c = config
        self.cross_attention = cross_attention
        self.layers = nn.ModuleList(
            DecoderLayer(
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
                cross_attention=cross_attention,
            )
            for _ in range(c.decoder_layers)
        )
        self.norm = (
            nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias) if c.norm_first else None
        )

    def new_cache(self) -> DecoderCache:
        return DecoderCache(len(self.layers), cross_attention=self.cross_attention)

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
