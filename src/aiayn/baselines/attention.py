"""Global attention for the recurrent baseline (Luong et al. 2015, section 3.1; Bahdanau et al.
2015, section 3.1 and appendix A.1.2).

Notation: B batch, S source length, D d_model.

At every target step the decoder's top hidden state h_t (the query, one vector per sentence)
is compared with every source annotation hs_s (the encoder's output at position s):

    "dot"       score(h_t, hs_s) = h_t . hs_s                         (Luong)
    "general"   score(h_t, hs_s) = h_t . (W_a hs_s)                   (Luong; bilinear)
    "additive"  score(h_t, hs_s) = v_a . tanh(W_q h_t + W_k hs_s)     (Bahdanau; Luong's "concat")

    a_t = softmax of the scores over the real source positions,    c_t = sum_s a_t(s) hs_s

What differs from the Transformer's attention: one head; no 1/sqrt(d_k) scaling; the values are
the annotations themselves (no value projection); and there is one query per target step, which
exists only once the recurrent state of the step before is known, so the T queries of a sentence
cannot be computed together.

The part of each score that depends on the source alone (W_a hs_s, W_k hs_s) is computed once per
sentence by `keys` and reused at every step, as the Transformer's decoder caches its
cross-attention keys.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aiayn.config import RNN_ATTENTIONS


class GlobalAttention(nn.Module):
    """Attention of one decoder state over all the source annotations, with the score `score`
    ("general", "dot" or "additive"). Annotations and queries both have d_model features."""

    def __init__(self, *, d_model: int, score: str, bias: bool = True) -> None:
        super().__init__()
        if score not in RNN_ATTENTIONS:
            raise ValueError(f"score must be one of {RNN_ATTENTIONS}, got {score!r}")
        self.score = score
        self.W_a = nn.Linear(d_model, d_model, bias=False) if score == "general" else None
        if score == "additive":
            self.W_q = nn.Linear(d_model, d_model, bias=bias)
            self.W_k = nn.Linear(d_model, d_model, bias=False)
            self.v_a = nn.Linear(d_model, 1, bias=False)
        else:
            self.W_q = self.W_k = self.v_a = None

    def keys(self, memory: Tensor) -> Tensor:
        """(B, S, D) annotations -> (B, S, D): their part of the score, computed once per sentence
        ("dot": the annotations; "general": W_a hs; "additive": W_k hs)."""
        if self.W_a is not None:
            return self.W_a(memory)
        if self.W_k is not None:
            return self.W_k(memory)
        return memory

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """(B, D) decoder states, (B, S, D) keys from `keys` -> (B, S) unnormalised scores."""
        if self.W_q is not None and self.v_a is not None:
            hidden = torch.tanh(self.W_q(query)[:, None, :] + keys)  # (B, 1, D) + (B, S, D)
            return self.v_a(hidden).squeeze(-1)  # (B, S, 1) -> (B, S)
        return (keys @ query[:, :, None]).squeeze(-1)  # (B, S, D) @ (B, D, 1) -> (B, S)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(B, D) query, (B, S, D) keys and annotations, (B, S) mask (True = real token) ->
        (context c_t (B, D), weights a_t (B, S)).

        Padded positions get weight exactly 0. A sentence with no real token at all gets all-zero
        weights and a zero context rather than NaN (as aiayn.nn's attention does).
        """
        scores = self.scores(query, keys).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # NaN rows -> 0
        context = (weights[:, None, :] @ memory).squeeze(1)  # (B, 1, S) @ (B, S, D) -> (B, D)
        return context, weights
