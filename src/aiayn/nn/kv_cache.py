"""The key/value cache that makes token-by-token decoding cost O(T) per step instead of O(T^2).

At step t a decoder only needs the new token's query; the keys and values of tokens 0..t-1 do not
change (the causal mask guarantees it), so they are kept here instead of being recomputed.

Shapes: keys and values are (B, H, S, Dh), S growing by one per decoding step.
"""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """Keys and values of one attention layer.

    `static=True` is for encoder-decoder attention: its keys and values come from the encoder
    memory, are computed on the first step and never change.
    """

    def __init__(self, *, static: bool = False) -> None:
        self.static = static
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(-2)

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append (B, H, S_new, Dh) keys/values; return all of them, (B, H, S_past + S_new, Dh)."""
        if self.k is None or self.static:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)  # (B, H, S_past, Dh) + (B, H, S_new, Dh)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows `index` (beam search: follow each surviving hypothesis's parent)."""
        if self.k is not None:
            self.k = self.k.index_select(0, index)
            self.v = self.v.index_select(0, index)


class DecoderCache:
    """One cache per decoder layer: a growing self-attention cache and, for an encoder-decoder,
    a static cross-attention cache."""

    def __init__(self, n_layers: int, *, cross_attention: bool) -> None:
        self.self_attn = [KVCache() for _ in range(n_layers)]
        self.cross_attn = [
            KVCache(static=True) if cross_attention else None for _ in range(n_layers)
        ]

    def __len__(self) -> int:
        """Number of positions already decoded (the position of the next token)."""
        return len(self.self_attn[0]) if self.self_attn else 0

    def reorder(self, index: Tensor) -> None:
        for cache in self.self_attn:
            cache.reorder(index)
        for cache in self.cross_attn:
            if cache is not None:
                cache.reorder(index)
