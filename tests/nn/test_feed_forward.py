"""The position-wise feed-forward network (section 3.3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from aiayn.nn import PositionwiseFeedForward


@pytest.fixture
def ffn() -> PositionwiseFeedForward:
    torch.manual_seed(0)
    return PositionwiseFeedForward(d_model=8, d_ff=32).eval()


def test_is_max0_xw1_b1_w2_b2(ffn: PositionwiseFeedForward) -> None:
    x = torch.randn(2, 5, 8)
    hidden = torch.clamp(x @ ffn.w_1.weight.T + ffn.w_1.bias, min=0)  # max(0, x W_1 + b_1)
    assert_close(ffn(x), hidden @ ffn.w_2.weight.T + ffn.w_2.bias)
    assert ffn.w_1.weight.shape == (32, 8) and ffn.w_2.weight.shape == (8, 32)


def test_applied_to_each_position_separately(ffn: PositionwiseFeedForward) -> None:
    x = torch.randn(3, 6, 8)
    per_position = torch.stack([ffn(x[:, t : t + 1])[:, 0] for t in range(6)], dim=1)
    assert_close(ffn(x), per_position)


@pytest.mark.parametrize(
    ("name", "fn"),
    [("gelu", F.gelu), ("gelu_tanh", lambda h: F.gelu(h, approximate="tanh"))],
)
def test_gelu_activations(name: str, fn) -> None:
    ffn = PositionwiseFeedForward(d_model=8, d_ff=16, activation=name)
    x = torch.randn(2, 3, 8)
    assert_close(ffn(x), ffn.w_2(fn(ffn.w_1(x))))


def test_no_bias() -> None:
    ffn = PositionwiseFeedForward(d_model=8, d_ff=16, bias=False)
    assert ffn.w_1.bias is None and ffn.w_2.bias is None


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match="'swish'"):
        PositionwiseFeedForward(d_model=8, d_ff=16, activation="swish")
