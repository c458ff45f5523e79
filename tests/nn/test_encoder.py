"""The encoder stack: N layers from the config, the final LayerNorm of a pre-norm stack only,
and a padding mask that keeps the padding's content away from the real positions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.nn import Encoder, EncoderLayer
from aiayn.nn.masks import padding_mask

D = 32


def config(**changes: object) -> ModelConfig:
    base = dict(vocab_size=20, d_model=D, n_heads=4, d_ff=64, n_layers=3, p_drop=0.0)
    return ModelConfig(**{**base, **changes})


def test_shape_and_n_layers_from_the_config():
    torch.manual_seed(0)
    # n_decoder_layers is the decoder's count, not the encoder's
    encoder = Encoder(config(n_layers=3, n_decoder_layers=1)).eval()
    assert len(encoder.layers) == 3 and all(isinstance(x, EncoderLayer) for x in encoder.layers)
    assert encoder(torch.randn(2, 7, D)).shape == (2, 7, D)


@pytest.mark.parametrize("norm_first", [False, True])
def test_the_stack_is_its_layers_in_order_then_the_final_norm_of_pre_norm(norm_first):
    torch.manual_seed(0)
    encoder = Encoder(config(norm_first=norm_first)).eval()
    assert (encoder.norm is not None) == norm_first
    if norm_first:
        assert isinstance(encoder.norm, nn.LayerNorm)
    x = torch.randn(2, 5, D)
    mask = padding_mask(torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]), 0)
    expected = x
    for layer in encoder.layers:
        expected = layer(expected, mask)
    if norm_first:
        expected = encoder.norm(expected)
    assert_close(encoder(x, mask), expected)


def test_the_padding_mask_keeps_the_padding_away_from_real_positions():
    torch.manual_seed(0)
    encoder = Encoder(config()).eval()
    mask = padding_mask(torch.tensor([[4, 5, 6, 0, 0]]), 0)  # (1, 1, 1, 5)
    x = torch.randn(1, 5, D)
    other = x.clone()
    other[:, 3:] = torch.randn(1, 2, D)  # different vectors at the padded positions
    assert_close(encoder(other, mask)[:, :3], encoder(x, mask)[:, :3])
    assert not torch.allclose(encoder(other)[:, :3], encoder(x)[:, :3])  # unmasked, they leak


def test_need_weights_keeps_each_layers_self_attention():
    torch.manual_seed(0)
    encoder = Encoder(config()).eval()
    mask = padding_mask(torch.tensor([[4, 5, 0], [4, 5, 6]]), 0)
    encoder(torch.randn(2, 3, D), mask, need_weights=True)
    for layer in encoder.layers:
        weights = layer.self_attn.last_weights
        assert weights.shape == (2, 4, 3, 3)  # (B, H, S, S)
        assert_close(weights.sum(-1), torch.ones(2, 4, 3))
        assert weights[0, :, :, 2].abs().max() == 0  # nobody attends to the padding


def test_shared_layers_are_one_layer_applied_n_times():
    torch.manual_seed(0)
    shared = Encoder(config(share_layers=True, n_layers=3)).eval()
    separate = Encoder(config(n_layers=3))
    assert len(shared.layers) == 3 and all(x is shared.layers[0] for x in shared.layers)
    n_shared = sum(p.numel() for p in shared.parameters())
    assert 3 * n_shared == sum(p.numel() for p in separate.parameters())
    x = torch.randn(2, 5, D)
    expected = x
    for _ in range(3):
        expected = shared.layers[0](expected)
    assert_close(shared(x), expected)


def test_without_residuals_the_output_differs_from_the_papers():
    torch.manual_seed(0)
    paper = Encoder(config()).eval()
    torch.manual_seed(0)
    plain = Encoder(config(residual=False)).eval()
    x = torch.randn(2, 5, D)
    assert not torch.allclose(paper(x), plain(x), atol=1e-3)
