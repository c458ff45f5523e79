"""LayerSpec: every ModelConfig field it carries, and the sub-layers its builders make."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.nn import MultiHeadAttention, PositionwiseFeedForward, ResidualNorm
from aiayn.nn.sublayers import LayerSpec

# Every field away from its default, so a field that from_config forgets shows.
CONFIG = ModelConfig(
    d_model=48,
    n_heads=6,
    d_ff=80,
    p_drop=0.2,
    p_drop_attn=0.3,
    p_drop_ff=0.4,
    activation="gelu",
    norm_first=True,
    layer_norm_eps=1e-6,
    bias=False,
    residual=False,
    attention_score="dot",
)
SPEC = dict(
    d_model=48,
    n_heads=6,
    d_ff=80,
    dropout=0.2,
    attn_dropout=0.3,
    ff_dropout=0.4,
    activation="gelu",
    norm_first=True,
    eps=1e-6,
    bias=False,
    skip=False,
    attention_score="dot",
)


def test_from_config_maps_every_field():
    assert {f.name for f in dataclasses.fields(LayerSpec)} == set(SPEC)
    assert LayerSpec.from_config(CONFIG) == LayerSpec(**SPEC)
    assert LayerSpec.from_config(ModelConfig()) == LayerSpec(d_model=512, n_heads=8, d_ff=2048)


@pytest.mark.parametrize("bias", [True, False])
def test_attention_is_built_with_the_specs_sizes_dropout_and_bias(bias):
    attention = LayerSpec(**{**SPEC, "bias": bias}).attention()
    assert isinstance(attention, MultiHeadAttention)
    assert (attention.d_model, attention.n_heads, attention.d_k) == (48, 6, 8)
    assert attention.dropout == 0.3  # on the attention weights, not P_drop
    for proj in (attention.w_q, attention.w_k, attention.w_v, attention.w_o):
        assert proj.weight.shape == (48, 48) and (proj.bias is not None) == bias


@pytest.mark.parametrize("bias", [True, False])
def test_feed_forward_is_built_with_the_specs_sizes_activation_and_dropout(bias):
    ff = LayerSpec(**{**SPEC, "bias": bias}).feed_forward().eval()
    assert isinstance(ff, PositionwiseFeedForward)
    assert ff.w_1.weight.shape == (80, 48) and ff.w_2.weight.shape == (48, 80)
    assert (ff.w_1.bias is not None, ff.w_2.bias is not None) == (bias, bias)
    assert ff.dropout.p == 0.4
    x = torch.randn(2, 3, 48)
    assert_close(ff(x), ff.w_2(F.gelu(ff.w_1(x))))  # the exact (erf) GELU


@pytest.mark.parametrize("norm_first", [True, False])
def test_residual_is_built_with_p_drop_eps_bias_and_the_norm_position(norm_first):
    residual = LayerSpec(**{**SPEC, "norm_first": norm_first}).residual()
    assert isinstance(residual, ResidualNorm)
    assert residual.norm_first is norm_first and residual.dropout.p == 0.2
    assert residual.norm.normalized_shape == (48,) and residual.norm.eps == 1e-6
    assert residual.norm.bias is None  # bias=False reaches the LayerNorm too


def test_final_norm_only_for_pre_norm():
    assert LayerSpec(**{**SPEC, "norm_first": False}).final_norm() is None
    norm = LayerSpec(**SPEC).final_norm()
    assert isinstance(norm, nn.LayerNorm)
    assert norm.normalized_shape == (48,) and norm.eps == 1e-6 and norm.bias is None


def test_each_call_builds_a_new_module():
    spec = LayerSpec(**SPEC)
    assert spec.attention() is not spec.attention()
    assert spec.feed_forward().w_1 is not spec.feed_forward().w_1
    assert spec.residual().norm is not spec.residual().norm


def test_the_ablation_options_reach_the_sublayers() -> None:
    spec = LayerSpec.from_config(
        ModelConfig(d_model=16, n_heads=2, d_ff=32, residual=False, attention_score="additive")
    )
    assert spec.attention().score == "additive" and spec.attention().additive_v is not None
    assert spec.residual().residual is False
    paper = LayerSpec.from_config(ModelConfig(d_model=16, n_heads=2, d_ff=32))
    assert paper.attention().score == "scaled-dot" and paper.residual().residual is True
