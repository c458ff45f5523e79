"""Scaled dot-product attention and multi-head attention (sections 3.2.1 and 3.2.2).

Notation used in the shape comments:
    B  batch size            H   number of heads (h in the paper)
    T  query length          S   key/value length
    D  d_model               Dh  size of one head, d_k = d_v = D / H

Masks follow aiayn.nn.masks: a bool tensor broadcastable to (B, H, T, S), True = may attend.

The score of a query q and a key k is the paper's q.k / sqrt(d_k) ("scaled-dot"), or one of the
alternatives (`attention_scores`): "dot" (no scale: section 3.2.1 and footnote 4 say why the scale
is there), "additive" (Bahdanau et al. 2015, v^T tanh(q + k)) and "bilinear" (Luong et al. 2015's
"general", q W k / sqrt(d_k)). Only the paper's score has a fused kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aiayn.nn.kv_cache import KVCache
from aiayn.nn.masks import causal_mask


def attend(
    scores: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """softmax(scores) V, whatever function of the queries and keys gave the scores.

    scores: (..., T, S), v: (..., S, Dv); mask broadcastable to (..., T, S). `causal=True` adds the
    subsequent-position mask (query i sees keys up to i, aligned to the end of the keys when
    S > T). Returns (output (..., T, Dv), attention weights (..., T, S)).

    A query whose every key is masked gets all-zero weights (and so a zero output), not NaN; this
    matches torch.nn.functional.scaled_dot_product_attention.
    """
    if causal:
        c = causal_mask(scores.size(-2), scores.size(-1), device=scores.device)
        mask = c if mask is None else mask & c
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # A row that was all -inf is NaN after softmax; it attends to nothing, so its weights are 0.
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout_p > 0.0:
        keep = torch.rand(weights.shape, generator=generator, device=weights.device) >= dropout_p
        weights = weights * keep / (1.0 - dropout_p)
    return weights @ v, weights  # (..., T, S) @ (..., S, Dv) -> (..., T, Dv)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, written out step by step.

    q: (..., T, Dh), k: (..., S, Dh), v: (..., S, Dv); mask broadcastable to (..., T, S).
    Returns (output (..., T, Dv), attention weights (..., T, S)); see `attend`.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, Dh) @ (..., Dh, S) -> (..., T, S)
    return attend(scores, v, mask, causal=causal, dropout_p=dropout_p, generator=generator)


SCORES: tuple[str, ...] = ("scaled-dot", "dot", "additive", "bilinear")


def attention_scores(
    q: Tensor,
    k: Tensor,
    score: str = "scaled-dot",
    *,
    bilinear: Tensor | None = None,
    additive_v: Tensor | None = None,
) -> Tensor:
    """The (..., T, S) scores of queries q (..., H, T, Dh) against keys k (..., H, S, Dh).

        scaled-dot  q.k / sqrt(d_k)
        dot         q.k
        bilinear    q W_h k / sqrt(d_k)              bilinear: (H, Dh, Dh), one W_h per head
        additive    v_h . tanh(q + k)                additive_v: (H, Dh), one v_h per head

    Additive is Bahdanau's v^T tanh(W s + U h) with W and U the heads' own projections W^Q, W^K;
    it builds a (..., H, T, S, Dh) tensor, so it costs Dh times the memory of the others.
    """
    if score == "scaled-dot":
        return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, Dh) @ (..., Dh, S)
    if score == "dot":
        return q @ k.transpose(-2, -1)
    if score == "bilinear":
        if bilinear is None:
            raise ValueError("the bilinear score needs its matrices `bilinear` (H, Dh, Dh)")
        # (..., H, T, Dh) @ (H, Dh, Dh) -> (..., H, T, Dh), then @ (..., H, Dh, S)
        return (q @ bilinear) @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if score == "additive":
        if additive_v is None:
            raise ValueError("the additive score needs its vectors `additive_v` (H, Dh)")
        # (..., H, T, 1, Dh) + (..., H, 1, S, Dh) -> (..., H, T, S, Dh)
        hidden = torch.tanh(q.unsqueeze(-2) + k.unsqueeze(-3))
        # (..., H, T, S, Dh) @ (H, 1, Dh, 1) -> (..., H, T, S, 1) -> (..., H, T, S)
        return (hidden @ additive_v[:, None, :, None]).squeeze(-1)
    raise ValueError(
        f"attention score must be one of {', '.join(map(repr, SCORES))}, got {score!r}"
    )


def fast_scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    causal: bool = False,
    dropout_p: float = 0.0,
) -> Tensor:
    """The same computation through torch's fused kernel (flash / memory-efficient / math).

    Only the output is returned: the fused kernels never materialise the weights.
    """
    if causal and q.size(-2) == 1:
        causal = False  # one query, the newest position: every key is in its past
    if causal and (mask is not None or q.size(-2) != k.size(-2)):
        # torch's is_causal aligns the triangle to the top-left corner; ours aligns to the end of
        # the keys (cached decoding), so build the mask explicitly in those cases.
        c = causal_mask(q.size(-2), k.size(-2), device=q.device)
        mask = c if mask is None else mask & c
        causal = False
    if q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
        # Under bf16 autocast on a CPU the projections are fast in bf16, but torch's CPU attention
        # kernel is several times slower in bf16 than in fp32 (its backward most of all): attend
        # in fp32 and hand back the low-precision dtype. (benchmarks/results/shakespeare_vs_nanogpt)
        # (autocast would cast fp32 inputs straight back to bf16, so it is switched off here)
        with torch.autocast("cpu", enabled=False):
            out = F.scaled_dot_product_attention(
                q.float(),
                k.float(),
                v.float(),
                attn_mask=mask,
                dropout_p=dropout_p,
                is_causal=causal,
            )
        return out.to(q.dtype)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal
    )


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
    where head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    The h per-head projections W_i^Q (d_model x d_k) are stored side by side as one
    d_model x d_model linear layer `w_q` (likewise `w_k`, `w_v`): the same maths in one matmul.
    Used for encoder self-attention, masked decoder self-attention and encoder-decoder
    attention.
    """

    def __init__(
        self,
        *,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        score: str = "scaled-dot",
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        if score not in SCORES:
            raise ValueError(
                f"attention score must be one of {', '.join(map(repr, SCORES))}, got {score!r}"
            )
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        self.dropout = dropout
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.score = score
        d_k = self.d_k
        # The bilinear score starts as the scaled dot product (W_h = I) and may learn any W_h;
        # the additive score's v_h starts at the size that keeps each score's variance below 1.
        self.bilinear = (
            nn.Parameter(torch.eye(d_k).repeat(n_heads, 1, 1)) if score == "bilinear" else None
        )
        self.additive_v = (
            nn.Parameter(torch.randn(n_heads, d_k) * d_k**-0.5) if score == "additive" else None
        )
        # Filled with the last attention weights (B, H, T, S) when forward(need_weights=True).
        self.last_weights: Tensor | None = None

    def _split_heads(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)  # (B, T, D) -> (B, H, T, Dh)

    def forward(
        self,
        query: Tensor,
        key_value: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """query: (B, T, D); key_value: (B', S, D), or None for self-attention. Returns (B, T, D).

        With a `cache`, self-attention appends this step's keys and values to the cached ones;
        cross-attention (`cache.static`) projects the encoder memory once and reuses it.
        `need_weights=True` takes the explicit path and keeps the weights in `self.last_weights`.

        Cross-attention may have fewer key/value rows than queries, B = G * B': then each run of
        G consecutive queries shares one memory (beam search: the G beams of one source), and
        the memory is projected once for them instead of G times.
        """
        B, T, _ = query.shape
        source = query if key_value is None else key_value
        q = self._split_heads(self.w_q(query))  # (B, H, T, Dh)
        if cache is not None and cache.static and cache.k is not None:
            k, v = cache.k, cache.v  # encoder memory, projected on the first step
        else:
            k = self._split_heads(self.w_k(source))  # (B', H, S, Dh)
            v = self._split_heads(self.w_v(source))  # (B', H, S, Dh)
            if cache is not None:
                k, v = cache.update(k, v)  # (B', H, S_past + S, Dh)
        G = B // k.size(0)
        if G * k.size(0) != B or (G > 1 and causal):
            raise ValueError(
                f"{B} queries cannot share {k.size(0)} key/value rows (a shared memory is for "
                "cross-attention, with a query count that is a multiple of the memory's)"
            )
        if G > 1:  # fold each group into the query length: (B, H, T, Dh) -> (B', H, G*T, Dh)
            q = q.view(B // G, G, self.n_heads, T, self.d_k).transpose(1, 2)
            q = q.reshape(B // G, self.n_heads, G * T, self.d_k)
        dropout_p = self.dropout if self.training else 0.0
        if need_weights or self.score != "scaled-dot":
            scores = attention_scores(
                q, k, self.score, bilinear=self.bilinear, additive_v=self.additive_v
            )  # (B', H, G*T, S)
            out, weights = attend(scores, v, mask, causal=causal, dropout_p=dropout_p)
            if need_weights:
                self.last_weights = _unfold(weights.detach(), G, T)
        else:
            out = fast_scaled_dot_product_attention(
                q, k, v, mask, causal=causal, dropout_p=dropout_p
            )
        out = _unfold(out, G, T)  # (B', H, G*T, Dh) -> (B, H, T, Dh)
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # (B, H, T, Dh) -> (B, T, D)
        return self.w_o(out)


def _unfold(x: Tensor, G: int, T: int) -> Tensor:
    """(B', H, G*T, X) -> (B' * G, H, T, X): the groups of queries back to their own rows."""
    if G == 1:
        return x
    Bk, H, _, X = x.shape
    return x.view(Bk, H, G, T, X).transpose(1, 2).reshape(Bk * G, H, T, X)
