"""One attention map to draw in a page: the weights of every layer and head, with their tokens.

Notation: L layers, H heads, Tq query tokens (rows), Tk key tokens (columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def _check_tokens(name: str, tokens: Any) -> int:
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"AttentionView.{name} must be a list of str, got {tokens!r:.80}")
    if not tokens:
        raise ValueError(f"AttentionView.{name} must hold at least one token, got []")
    return len(tokens)


def _check_weights(weights: Any, n_query: int, n_key: int) -> tuple[int, int]:
    """Check that `weights` is (L, H, Tq, Tk) nested lists of finite non-negative numbers."""

    def fail(where: str, expected: str, got: Any) -> ValueError:
        return ValueError(
            f"AttentionView.weights{where} must be {expected} (weights are nested lists "
            f"[layer][head][query][key], e.g. tensor.tolist()), got {got!r:.80}"
        )

    if not isinstance(weights, list) or not weights:
        raise fail("", "a non-empty list of layers", weights)
    for i, layer in enumerate(weights):
        if not isinstance(layer, list) or not layer:
            raise fail(f"[{i}]", "a non-empty list of heads", layer)
    n_heads = len(weights[0])
    for i, layer in enumerate(weights):
        if len(layer) != n_heads:
            raise fail(
                f"[{i}]", f"a list of {n_heads} heads, as layer 0 has", f"{len(layer)} heads"
            )
        for j, head in enumerate(layer):
            if not isinstance(head, list) or len(head) != n_query:
                raise fail(f"[{i}][{j}]", f"a list of {n_query} rows, one per query token", head)
            for q, row in enumerate(head):
                if not isinstance(row, list) or len(row) != n_key:
                    raise fail(
                        f"[{i}][{j}][{q}]", f"a list of {n_key} numbers, one per key token", row
                    )
                for w in row:
                    if isinstance(w, bool) or not isinstance(w, int | float):
                        raise fail(f"[{i}][{j}][{q}]", "a list of numbers", row)
                    if not math.isfinite(w) or w < 0:
                        raise fail(f"[{i}][{j}][{q}]", "finite non-negative weights", row)
    return len(weights), n_heads


def _short(weight: float) -> float:
    return float(f"{weight:.4g}")


@dataclass(frozen=True, kw_only=True)
class AttentionView:
    """Attention weights of one input, for every layer and head, and the tokens on their axes.

    weights: (L, H, Tq, Tk) as nested lists of floats, `weights[l][h][q][k]` being how much query
    token q of head h of layer l attends to key token k (pass `tensor.tolist()`). Self-attention
    has the same tokens on both axes; encoder-decoder attention has target tokens as queries and
    source tokens as keys. Shapes are checked on construction.
    """

    title: str
    query_tokens: list[str]
    key_tokens: list[str]
    weights: list

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise ValueError(f"AttentionView.title must be a str, got {self.title!r}")
        n_query = _check_tokens("query_tokens", self.query_tokens)
        n_key = _check_tokens("key_tokens", self.key_tokens)
        _check_weights(self.weights, n_query, n_key)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    @property
    def n_heads(self) -> int:
        return len(self.weights[0])

    def to_json(self) -> dict[str, Any]:
        """The view as JSON-ready data: what the pages' heatmap script reads.

        Weights are rounded to 4 significant digits (the page shows no more), which keeps a
        page about a third the size; still, every weight costs some bytes: L * H * Tq * Tk of
        them go into the page, so keep views to short inputs.
        """
        return {
            "title": self.title,
            "query_tokens": list(self.query_tokens),
            "key_tokens": list(self.key_tokens),
            "weights": [[[[_short(w) for w in row] for row in h] for h in l] for l in self.weights],
        }
