"""Residual connection + LayerNorm around a sub-layer: post-norm (the paper) and pre-norm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.testing import assert_close

from aiayn.nn import ResidualNorm

D = 8


def sublayer(x: Tensor) -> Tensor:
    return torch.tanh(3 * x) + 1.0


def make(norm_first: bool, **changes: object) -> ResidualNorm:
    module = ResidualNorm(d_model=D, norm_first=norm_first, eps=1e-6, **changes)
    with torch.no_grad():  # non-trivial gain and bias, so a misplaced norm shows
        module.norm.weight.uniform_(0.5, 1.5)
        module.norm.bias.uniform_(-0.5, 0.5)
    return module.eval()


def layer_norm(x: Tensor, module: ResidualNorm) -> Tensor:
    return F.layer_norm(x, (D,), module.norm.weight, module.norm.bias, eps=1e-6)


def test_post_norm_is_layernorm_of_x_plus_sublayer() -> None:
    module = make(norm_first=False)
    x = torch.randn(2, 3, D)
    assert_close(module(x, sublayer), layer_norm(x + sublayer(x), module))


def test_pre_norm_is_x_plus_sublayer_of_layernorm() -> None:
    module = make(norm_first=True)
    x = torch.randn(2, 3, D)
    assert_close(module(x, sublayer), x + sublayer(layer_norm(x, module)))


def test_the_two_differ() -> None:
    x = torch.randn(2, 3, D)
    torch.manual_seed(0)
    post = make(norm_first=False)
    torch.manual_seed(0)
    pre = make(norm_first=True)
    assert not torch.allclose(post(x, sublayer), pre(x, sublayer))


def test_post_norm_output_is_normalised() -> None:
    module = ResidualNorm(d_model=D)
    out = module(torch.randn(4, 5, D) * 10, sublayer)
    assert_close(out.mean(-1), torch.zeros(4, 5), atol=1e-5, rtol=0)
    assert_close(out.var(-1, unbiased=False), torch.ones(4, 5), atol=1e-3, rtol=0)


def test_dropout_applies_to_the_sublayer_output_in_training() -> None:
    module = ResidualNorm(d_model=D, dropout=0.5, norm_first=True)
    x = torch.randn(2, 3, D)
    assert_close(module.eval()(x, sublayer), x + sublayer(module.norm(x)))
    module.train()
    torch.manual_seed(0)
    out = module(x, lambda y: torch.ones_like(y))
    # each sub-layer output is either dropped (x kept) or scaled by 1 / (1 - p) = 2
    delta = out - x
    dropped, kept = delta.abs() < 1e-6, (delta - 2.0).abs() < 1e-6
    assert (dropped | kept).all() and dropped.any() and kept.any()


def test_no_bias_norm() -> None:
    assert ResidualNorm(d_model=D, bias=False).norm.bias is None


def test_without_the_skip_connection_post_norm_is_layernorm_of_the_sublayer_alone() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, D)
    module = make(False, residual=False)
    assert_close(module(x, sublayer), layer_norm(sublayer(x), module))
    assert not torch.allclose(module(x, sublayer), layer_norm(x + sublayer(x), module))


def test_without_the_skip_connection_pre_norm_is_the_sublayer_of_layernorm() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, D)
    module = make(True, residual=False)
    assert_close(module(x, sublayer), sublayer(layer_norm(x, module)))


def test_without_the_skip_connection_the_input_reaches_the_output_only_through_the_sublayer():
    x = torch.randn(2, 3, D, requires_grad=True)
    blocked = make(True, residual=False)(x, lambda y: 0.0 * y)
    (grad,) = torch.autograd.grad(blocked.sum(), x)
    assert grad.abs().max().item() == 0.0
    kept = make(True)(x, lambda y: 0.0 * y)
    (grad,) = torch.autograd.grad(kept.sum(), x)
    assert_close(grad, torch.ones_like(x))
