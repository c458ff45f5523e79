"""Sinusoidal positional encoding (section 3.5) and learned position embeddings."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from aiayn.nn import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_positional_encoding,
)
from aiayn.nn.positional_encoding import positional_encoding


def paper_pe(pos: int, dim: int, d_model: int) -> float:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same angle)."""
    i = dim // 2
    angle = pos / 10000 ** (2 * i / d_model)
    return math.sin(angle) if dim % 2 == 0 else math.cos(angle)


@pytest.mark.parametrize("d_model", [16, 512])
def test_values_follow_the_formula(d_model: int) -> None:
    table = sinusoidal_positional_encoding(512, d_model)
    assert table.shape == (512, d_model) and table.dtype == torch.float32
    for pos in (0, 1, 17, 511):
        for dim in (0, 1, 2, 3, d_model // 2, d_model // 2 + 1, d_model - 2, d_model - 1):
            expected = paper_pe(pos, dim, d_model)
            assert table[pos, dim].item() == pytest.approx(expected, abs=1e-6), (pos, dim)


def test_position_zero_is_sin_zero_cos_one() -> None:
    table = sinusoidal_positional_encoding(4, 8)
    assert table[0].tolist() == [0.0, 1.0] * 4


def test_odd_d_model() -> None:
    table = sinusoidal_positional_encoding(10, 7)
    for dim in range(7):
        assert table[9, dim].item() == pytest.approx(paper_pe(9, dim, 7), abs=1e-6)


def test_pe_at_pos_plus_k_is_a_rotation_of_pe_at_pos() -> None:
    """The paper's reason for sinusoids: PE(pos + k) is a linear function of PE(pos)."""
    d_model, k = 16, 5
    table = sinusoidal_positional_encoding(64, d_model).double()
    for i in range(d_model // 2):
        w = 1 / 10000 ** (2 * i / d_model)
        rotation = torch.tensor(
            [[math.cos(k * w), -math.sin(k * w)], [math.sin(k * w), math.cos(k * w)]],
            dtype=torch.float64,
        )
        pairs = table[:, 2 * i : 2 * i + 2]  # (pos, [sin, cos])
        assert_close(pairs[:-k] @ rotation, pairs[k:], atol=1e-5, rtol=0)


def test_module_looks_up_positions_and_stores_no_weights() -> None:
    module = SinusoidalPositionalEncoding(max_len=32, d_model=8)
    positions = torch.tensor([[3, 4, 5], [0, 0, 31]])
    assert_close(module(positions), sinusoidal_positional_encoding(32, 8)[positions])
    assert list(module.parameters()) == []
    assert module.state_dict() == {}  # a formula, not a checkpointed weight


def test_learned_embedding() -> None:
    module = LearnedPositionalEmbedding(max_len=10, d_model=4)
    assert module.weight.shape == (10, 4) and module.weight.requires_grad
    assert_close(module(torch.arange(3)), module.weight[:3])


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="'rotary'"):
        positional_encoding("rotary", max_len=4, d_model=4)


def test_none_gives_zeros_and_no_weights() -> None:
    module = positional_encoding("none", max_len=10, d_model=4)
    assert_close(module(torch.tensor([[0, 5, 9]])), torch.zeros(1, 3, 4))
    assert list(module.parameters()) == [] and module.state_dict() == {}
