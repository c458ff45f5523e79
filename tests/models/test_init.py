"""The shared initialisation: Xavier-uniform linear weights, zero biases, and embeddings that
keep their N(0, d_model^-0.5), the tied output matrix included."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aiayn.config import ModelConfig
from aiayn.models import build_model
from aiayn.models._init import init_linear_weights

ARCHS = ("encoder-decoder", "decoder-only", "encoder-classifier")


def _config(arch: str, **changes: object) -> ModelConfig:
    return ModelConfig(
        arch=arch, vocab_size=300, d_model=128, n_heads=4, d_ff=256, n_layers=2, max_len=32,
        pooler=True, **changes,
    )  # fmt: skip


def _xavier_bound(weight: torch.Tensor) -> float:
    fan_out, fan_in = weight.shape
    return math.sqrt(6.0 / (fan_in + fan_out))


def test_linear_weights_become_xavier_uniform_and_biases_zero() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 100, bias=False))
    for p in module.parameters():
        nn.init.constant_(p, 5.0)
    init_linear_weights(module)
    first, last = module[0], module[2]
    assert torch.equal(first.bias, torch.zeros(200))
    for layer in (first, last):
        bound = _xavier_bound(layer.weight)
        assert layer.weight.abs().max() <= bound
        # uniform on [-b, b]: standard deviation b / sqrt(3), and the values fill the range
        assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert layer.weight.abs().max() > 0.95 * bound


def test_other_modules_are_left_as_they_are() -> None:
    norm, embedding = nn.LayerNorm(8), nn.Embedding(10, 8)
    nn.init.constant_(norm.weight, 3.0)
    before = embedding.weight.detach().clone()
    init_linear_weights(nn.ModuleList([norm, embedding]))
    assert torch.equal(norm.weight, torch.full((8,), 3.0))
    assert torch.equal(embedding.weight, before)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_linear_layer_of_a_model_is_xavier_with_zero_bias(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(_config(arch, tie_output=False))
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert len(linears) >= 2 * 6  # attention projections and feed-forward layers of each layer
    for name, layer in linears:
        bound = _xavier_bound(layer.weight)
        assert layer.weight.abs().max() <= bound, name
        if layer.weight.numel() >= 4096:  # enough values to tell torch's default init apart
            assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05), name
        if layer.bias is not None:
            assert torch.equal(layer.bias, torch.zeros_like(layer.bias)), name


@pytest.mark.parametrize("arch", ARCHS)
def test_embeddings_keep_their_normal_init_and_so_does_the_tied_output(arch: str) -> None:
    """The token matrix is N(0, d_model^-0.5); tied to the output projection, it stays that way
    (Xavier-uniform on a 300 x 128 matrix would have std 0.068, not 0.088)."""
    torch.manual_seed(0)
    model = build_model(_config(arch))
    token = (model.src_embed if arch == "encoder-decoder" else model.embed).token.weight
    assert token.std().item() == pytest.approx(128**-0.5, rel=0.05)
    assert token.mean().abs().item() < 0.01
    if arch != "encoder-classifier":
        assert model.generator.weight is token
