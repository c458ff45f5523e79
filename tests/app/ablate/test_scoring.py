"""attention-scoring: footnote 4's saturation, and the quick run of the four scores."""

from __future__ import annotations

import math

import pytest
import torch

from aiayn.app.ablate._common import toy_config
from aiayn.app.ablate.scoring import saturation, tie_keys_to_queries
from aiayn.models import build_model, count_parameters
from aiayn.nn import attention_scores


def test_unscaled_scores_saturate_the_softmax_as_d_k_grows_and_scaled_ones_do_not() -> None:
    kw = dict(n_queries=300, n_keys=16, seed=0)
    small, big = saturation(4, scaled=False, **kw), saturation(1024, scaled=False, **kw)
    assert big["score_std"] == pytest.approx(32.0, rel=0.1)  # sqrt(d_k)
    assert big["entropy"] < 0.2 < 1.0 < small["entropy"]
    assert big["max_weight"] > 0.9 and big["grad_norm"] < small["grad_norm"] / 2
    scaled = saturation(1024, scaled=True, **kw)
    assert scaled["score_std"] == pytest.approx(1.0, rel=0.1)
    assert scaled["entropy"] > math.log(16) - 0.7


def test_tied_keys_make_self_attention_scores_symmetric() -> None:
    torch.manual_seed(0)
    model = build_model(toy_config("encoder-decoder", n_layers=1))
    n = count_parameters(model)
    tie_keys_to_queries(model)
    attention = model.encoder.layers[0].self_attn
    assert attention.w_k is attention.w_q and count_parameters(model) < n
    x = torch.randn(1, 5, 64)
    q = attention._split_heads(attention.w_q(x))  # (1, H, 5, Dh)
    k = attention._split_heads(attention.w_k(x))
    scores = attention_scores(q, k)  # (1, H, 5, 5)
    assert torch.allclose(scores, scores.transpose(-2, -1))


@pytest.mark.slow
def test_quick_run_compares_the_four_scores(quick) -> None:
    record, _ = quick("attention-scoring")
    (training, softmax) = record["tables"].values()
    assert [r["score"] for r in training][:4] == ["scaled-dot", "dot", "additive", "bilinear"]
    assert training[4]["parameters"] < training[0]["parameters"]
    assert training[3]["parameters"] > training[0]["parameters"] == training[1]["parameters"]
    assert {r["scores"] for r in softmax} == {"q.k", "q.k / sqrt(d_k)"}
