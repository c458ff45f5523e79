"""The decoder stack: N layers from the config, the final LayerNorm of a pre-norm stack only, a
causal mask that is always on, encoder-decoder attention that needs a memory, and cached
step-by-step decoding equal to the full pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.nn import Decoder, DecoderLayer
from aiayn.nn.masks import padding_mask

D = 32


def config(**changes: object) -> ModelConfig:
    base = dict(vocab_size=20, d_model=D, n_heads=4, d_ff=64, n_layers=2, p_drop=0.0)
    return ModelConfig(**{**base, **changes})


def test_shape_and_layer_count_from_the_config():
    torch.manual_seed(0)
    assert len(Decoder(config(n_layers=2)).layers) == 2
    decoder = Decoder(config(n_layers=2, n_decoder_layers=3)).eval()
    assert len(decoder.layers) == 3 and all(isinstance(x, DecoderLayer) for x in decoder.layers)
    assert decoder(torch.randn(2, 5, D), torch.randn(2, 7, D)).shape == (2, 5, D)


@pytest.mark.parametrize("norm_first", [False, True])
def test_final_norm_only_with_pre_norm(norm_first):
    torch.manual_seed(0)
    decoder = Decoder(config(norm_first=norm_first), cross_attention=False).eval()
    assert (decoder.norm is not None) == norm_first
    x = torch.randn(2, 4, D)
    expected = x
    for layer in decoder.layers:
        expected = layer(expected)
    if norm_first:
        assert isinstance(decoder.norm, nn.LayerNorm)
        expected = decoder.norm(expected)
    assert_close(decoder(x), expected)


def test_cross_attention_is_there_only_when_asked_for():
    with_memory = Decoder(config(), cross_attention=True)
    without = Decoder(config(), cross_attention=False)
    assert all(layer.cross_attn is not None for layer in with_memory.layers)
    assert all(
        layer.cross_attn is None and layer.sublayer_cross_attn is None for layer in without.layers
    )


def test_cross_attention_needs_memory():
    decoder = Decoder(config()).eval()
    with pytest.raises(ValueError, match="encoder-decoder attention: pass `memory`"):
        decoder(torch.randn(1, 3, D))


@pytest.mark.parametrize("cross_attention", [True, False])
def test_the_causal_mask_is_always_on(cross_attention):
    """A change at position t changes no output before t, with no mask given and with a
    `self_mask` that allows everything."""
    torch.manual_seed(0)
    decoder = Decoder(config(), cross_attention=cross_attention).eval()
    memory = torch.randn(2, 6, D) if cross_attention else None
    x = torch.randn(2, 5, D)
    changed = x.clone()
    changed[:, 3] = torch.randn(2, D)
    everything = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    for self_mask in (None, everything):
        before = decoder(x, memory, self_mask=self_mask)
        after = decoder(changed, memory, self_mask=self_mask)
        assert_close(after[:, :3], before[:, :3])
        assert not torch.allclose(after[:, 3:], before[:, 3:])


def test_the_memory_mask_hides_source_padding():
    torch.manual_seed(0)
    decoder = Decoder(config()).eval()
    memory_mask = padding_mask(torch.tensor([[4, 5, 6, 0]]), 0)  # (1, 1, 1, 4)
    memory = torch.randn(1, 4, D)
    other = memory.clone()
    other[:, 3] = torch.randn(D)
    x = torch.randn(1, 3, D)
    assert_close(
        decoder(x, other, memory_mask=memory_mask), decoder(x, memory, memory_mask=memory_mask)
    )


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("cross_attention", [True, False])
def test_cached_step_by_step_decoding_equals_the_full_pass(cross_attention, norm_first):
    torch.manual_seed(0)
    decoder = Decoder(config(norm_first=norm_first), cross_attention=cross_attention).eval()
    memory = torch.randn(2, 6, D) if cross_attention else None
    memory_mask = padding_mask(torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]]), 0)
    x = torch.randn(2, 7, D)
    full = decoder(x, memory, memory_mask=memory_mask)
    cache = decoder.new_cache()
    prefix = decoder(x[:, :2], memory, memory_mask=memory_mask, cache=cache)  # a 2-token prompt
    steps = [
        decoder(x[:, t : t + 1], memory, memory_mask=memory_mask, cache=cache) for t in range(2, 7)
    ]
    assert_close(torch.cat([prefix, *steps], dim=1), full)
    assert len(cache) == 7 and len(cache.self_attn) == 2


def test_a_filled_cross_attention_cache_stands_in_for_the_memory():
    """After the first step the memory's keys and values are cached: later steps may omit it."""
    torch.manual_seed(0)
    decoder = Decoder(config()).eval()
    memory, x = torch.randn(1, 4, D), torch.randn(1, 3, D)
    cache = decoder.new_cache()
    first = decoder(x[:, :1], memory, cache=cache)
    rest = [decoder(x[:, t : t + 1], None, cache=cache) for t in (1, 2)]
    assert_close(torch.cat([first, *rest], dim=1), decoder(x, memory))


@pytest.mark.parametrize("causal", [True, False])
def test_a_future_token_changes_an_earlier_output_only_without_the_causal_mask(causal):
    torch.manual_seed(0)
    decoder = Decoder(config(causal=causal), cross_attention=False).eval()
    x = torch.randn(2, 5, D)
    changed = x.clone()
    changed[:, -1] += 1.0
    same = torch.allclose(decoder(x)[:, :-1], decoder(changed)[:, :-1], atol=1e-6)
    assert same == causal


def test_shared_decoder_layers_are_one_module():
    torch.manual_seed(0)
    decoder = Decoder(config(share_layers=True, n_layers=4))
    assert len(decoder.layers) == 4 and all(x is decoder.layers[0] for x in decoder.layers)
    assert len(decoder.new_cache().self_attn) == 4  # one cache per application, not per module
