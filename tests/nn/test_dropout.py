"""Dropout: the rate it drops, the scale of what it keeps, its gradient, and when it is off."""

from __future__ import annotations

import math

import pytest
import torch

from aiayn.nn.dropout import LEVELS, Dropout, drop_mask, dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drops_at_the_rate_asked(p: float) -> None:
    torch.manual_seed(0)
    n = 1_000_003  # not a multiple of 4: the last 64-bit draw gives 3 elements, not 4
    keep = ~drop_mask((n,), p)
    rate = round(p * LEVELS) / LEVELS
    sigma = math.sqrt(rate * (1 - rate) / n)
    assert abs((~keep).float().mean().item() - rate) < 5 * sigma
    # each of the four 16-bit parts of a 64-bit draw (the 4th has one random bit fewer) drops at
    # the same rate, and neighbours are independent: they are kept together by chance
    whole = keep[: n // 4 * 4].view(-1, 4).float()
    for part in range(4):
        assert abs(1 - whole[:, part].mean().item() - rate) < 5 * sigma * 2
    both = (whole[:, 0] * whole[:, 1]).mean().item()
    assert abs(both - (1 - rate) ** 2) < 5 * math.sqrt((1 - rate) ** 2 / whole.size(0))


def test_keeps_the_expectation_and_scales_what_it_keeps() -> None:
    torch.manual_seed(1)
    x = torch.randn(512, 1024) + 3.0
    y = dropout(x, 0.1)
    kept = y != 0
    scale = LEVELS / (LEVELS - round(0.1 * LEVELS))
    torch.testing.assert_close(y[kept], x[kept] * scale)
    assert abs(y.mean().item() - x.mean().item()) < 0.02
    assert y.shape == x.shape and y.dtype == x.dtype


def test_gradient_is_the_mask_times_the_scale() -> None:
    torch.manual_seed(2)
    x = torch.randn(64, 300, requires_grad=True)
    y = dropout(x, 0.3)
    y.sum().backward()
    kept = (y != 0).float()
    scale = LEVELS / (LEVELS - round(0.3 * LEVELS))
    torch.testing.assert_close(x.grad, kept * scale)


def test_bf16_input_stays_bf16() -> None:
    x = torch.randn(8, 16, dtype=torch.bfloat16)
    assert dropout(x, 0.1).dtype == torch.bfloat16


def test_seeded_masks_repeat() -> None:
    torch.manual_seed(3)
    a = drop_mask((1000,), 0.2)
    torch.manual_seed(3)
    b = drop_mask((1000,), 0.2)
    assert torch.equal(a, b)
    assert not torch.equal(a, drop_mask((1000,), 0.2))  # the generator moved on


def test_off_in_eval_mode_and_at_zero() -> None:
    x = torch.randn(10, 10)
    module = Dropout(0.5).eval()
    assert module(x) is x
    assert dropout(x, 0.0) is x
    assert dropout(x, 0.5, training=False) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    assert "p=0.5" in repr(Dropout(0.5))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_refuses_a_probability_outside_0_1(p: float) -> None:
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(p)
    with pytest.raises(ValueError, match="dropout probability"):
        dropout(torch.ones(3), p)


def test_under_torch_compile_it_is_torchs_dropout_without_a_graph_break() -> None:
    """The 15-bit mask's masked_fill is where dynamo stopped tracing; compiled, dropout is
    torch's own (the compiler makes its random numbers), one graph, same rate and scale."""
    torch._dynamo.reset()
    explained = torch._dynamo.explain(lambda x: dropout(x, 0.25))(torch.ones(10_000))
    assert explained.graph_break_count == 0
    torch.manual_seed(0)
    y = torch.compile(lambda x: dropout(x, 0.25), backend="aot_eager")(torch.ones(100_000))
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert abs((~kept).float().mean().item() - 0.25) < 0.01
