"""The key/value cache that makes token-by-token decoding cost O(T) per step instead of O(T^2).

At step t a decoder only needs the new token's query; the keys and values of tokens 0..t-1 do not
change (the causal mask guarantees it), so they are kept here instead of being recomputed.

The keys and values live in a buffer allocated once for `capacity` positions and written in
place, so a step copies only its own new entries (growing by concatenation would copy the whole
past at every step: quadratic work over a sequence). A sequence longer than the capacity doubles
the buffer, which keeps the cost per step constant on average.

Shapes: keys and values are (B, H, S, Dh); the buffer is (B, H, capacity, Dh), S <= capacity.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_CAPACITY = 64  # positions allocated on the first update when no capacity is given


class KVCache:
    """Keys and values of one attention layer.

    `static=True` is for encoder-decoder attention: its keys and values come from the encoder
    memory, are computed on the first step and never change.
    """

    def __init__(self, *, static: bool = False, capacity: int | None = None) -> None:
        self.static = static
        self.capacity = capacity
        self._k: Tensor | None = None  # (B, H, capacity, Dh) buffers, or the static tensors
        self._v: Tensor | None = None
        self._length = 0

    def __len__(self) -> int:
        return self._length

    @property
    def k(self) -> Tensor | None:
        """The cached keys (B, H, S, Dh), or None before the first update."""
        return None if self._k is None else self._k[:, :, : self._length]

    @property
    def v(self) -> Tensor | None:
        return None if self._v is None else self._v[:, :, : self._length]

    def _reserve(self, needed: int, like: Tensor) -> None:
        """Make the buffers hold at least `needed` positions, keeping what they hold."""
        current = 0 if self._k is None else self._k.size(-2)
        if needed <= current:
            return
        size = max(needed, self.capacity or DEFAULT_CAPACITY, 2 * current)
        B, H, _, Dh = like.shape
        k = like.new_empty(B, H, size, Dh)
        v = like.new_empty(B, H, size, Dh)
        if self._k is not None and self._length:
            k[:, :, : self._length] = self._k[:, :, : self._length]
            v[:, :, : self._length] = self._v[:, :, : self._length]
        self._k, self._v = k, v

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append (B, H, S_new, Dh) keys/values; return all of them, (B, H, S_past + S_new, Dh)."""
        if self.static:
            if self._k is None:
                self._k, self._v, self._length = k, v, k.size(-2)
            return self._k, self._v
        start, end = self._length, self._length + k.size(-2)
        self._reserve(end, k)
        self._k[:, :, start:end] = k  # written in place: (B, H, S_new, Dh) into the buffer
        self._v[:, :, start:end] = v
        self._length = end
        return self.k, self.v

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows `index` (beam search: follow each surviving hypothesis's parent).

        Only the filled positions are copied, into a fresh buffer of the same capacity."""
        if self._k is None:
            return
        if self.static:
            self._k, self._v = self._k.index_select(0, index), self._v.index_select(0, index)
            return
        L = self._length
        k = self._k.new_empty(index.numel(), *self._k.shape[1:])
        v = self._v.new_empty(index.numel(), *self._v.shape[1:])
        torch.index_select(self._k[:, :, :L], 0, index, out=k[:, :, :L])
        torch.index_select(self._v[:, :, :L], 0, index, out=v[:, :, :L])
        self._k, self._v = k, v


class DecoderCache:
    """One cache per decoder layer: a growing self-attention cache and, for an encoder-decoder,
    a static cross-attention cache. `capacity` is the number of positions to allocate for."""

    def __init__(
        self, n_layers: int, *, cross_attention: bool, capacity: int | None = None
    ) -> None:
        self.self_attn = [KVCache(capacity=capacity) for _ in range(n_layers)]
        self.cross_attn = [
            KVCache(static=True) if cross_attention else None for _ in range(n_layers)
        ]

    def __len__(self) -> int:
        """Number of positions already decoded (the position of the next token)."""
        return len(self.self_attn[0]) if self.self_attn else 0

    def reorder(self, index: Tensor) -> None:
        """Keep decoder rows `index` (beam search: each live beam follows its parent)."""
        for cache in self.self_attn:
            cache.reorder(index)

    def select_memory(self, index: Tensor) -> None:
        """Keep the memory rows `index` of encoder-decoder attention (beam search: the sources
        still searching; their beams share each source's keys and values)."""
        for cache in self.cross_attn:
            if cache is not None:
                cache.reorder(index)
