"""The decoder-only language model: shapes, the tied output, cached decoding, and property tests
of what the paper promises: a future token never changes an earlier output, right padding never
changes a real position, eval mode is deterministic."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.models import DecoderOnlyLM, build_model

BASE = dict(vocab_size=40, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.0)


def cfg(**changes: object) -> ModelConfig:
    return ModelConfig(**{**BASE, "arch": "decoder-only", **changes})


def ids(B: int, T: int, seed: int = 0, high: int = 40) -> torch.Tensor:
    return torch.randint(1, high, (B, T), generator=torch.Generator().manual_seed(seed))


def test_decoder_only_shapes() -> None:
    model = DecoderOnlyLM(cfg()).eval()
    assert model(ids(2, 9)).shape == (2, 9, 40)


def test_build_model_picks_the_class() -> None:
    assert type(build_model(cfg())) is DecoderOnlyLM


def test_wrong_arch_is_an_error() -> None:
    with pytest.raises(ValueError, match="'encoder-classifier'"):
        DecoderOnlyLM(cfg(arch="encoder-classifier"))


def test_it_has_no_encoder_decoder_attention() -> None:
    model = DecoderOnlyLM(cfg())
    assert all(layer.cross_attn is None for layer in model.decoder.layers)
    assert all(cache is None for cache in model.new_cache().cross_attn)


def test_tie_output_false() -> None:
    model = DecoderOnlyLM(cfg(tie_output=False))
    assert model.generator.weight is not model.embed.token.weight
    tied = DecoderOnlyLM(cfg())
    assert tied.generator.weight is tied.embed.token.weight


def test_decoder_only_cached_decoding_equals_full() -> None:
    torch.manual_seed(0)
    model = DecoderOnlyLM(cfg(norm_first=True)).eval()
    tokens = ids(2, 7)
    cache = model.new_cache()
    prefix = model(tokens[:, :3], cache=cache)  # a prompt, then one token at a time
    steps = [model(tokens[:, t : t + 1], cache=cache) for t in range(3, 7)]
    assert_close(torch.cat([prefix, *steps], dim=1), model(tokens))
    assert len(cache) == 7


def test_a_mask_hides_what_it_says() -> None:
    """`mask` (True = may attend) adds to the causal mask (as for left padding): with the first
    token hidden from every later position, changing it changes none of their outputs."""
    torch.manual_seed(0)
    model = DecoderOnlyLM(cfg()).eval()
    tokens = ids(1, 5)
    other = tokens.clone()
    other[0, 0] = tokens[0, 0] % 39 + 1  # another real token
    mask = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    mask[..., 1:, 0] = False
    with torch.no_grad():
        assert_close(model(other, mask=mask)[:, 1:], model(tokens, mask=mask)[:, 1:])
        assert not torch.allclose(model(other)[:, 1:], model(tokens)[:, 1:])


# --- properties, on a small random model and random inputs --------------------------------------
V, PAD = 23, 0
SETTINGS = settings(max_examples=20, deadline=None)
PROPERTY_BASE = dict(
    vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.1
)


@functools.cache
def decoder_only() -> DecoderOnlyLM:
    torch.manual_seed(1)
    return DecoderOnlyLM(ModelConfig(arch="decoder-only", **PROPERTY_BASE)).eval()


def sequences(min_len: int = 1, max_len: int = 10) -> st.SearchStrategy[list[int]]:
    """A list of real (non-padding) token ids."""
    return st.lists(st.integers(1, V - 1), min_size=min_len, max_size=max_len)


def batch(rows: list[list[int]], width: int | None = None) -> Tensor:
    """Right-pad rows with PAD to `width` (default: the longest) -> (B, width) ids."""
    width = width or max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows])


@SETTINGS
@given(tokens=sequences(2, 12), data=st.data())
@torch.no_grad()
def test_decoder_only_lm_is_causal(tokens: list[int], data: st.DataObject) -> None:
    t = data.draw(st.integers(1, len(tokens) - 1), label="changed position")
    new = data.draw(st.integers(1, V - 1).filter(lambda x: x != tokens[t]), label="new token")
    changed = tokens[:t] + [new] + tokens[t + 1 :]
    model = decoder_only()
    before, after = model(batch([tokens])), model(batch([changed]))
    assert_close(after[:, :t], before[:, :t])
    assert not torch.allclose(after[:, t], before[:, t])


@SETTINGS
@given(rows=st.lists(sequences(), min_size=2, max_size=4), extra=st.integers(0, 5))
@torch.no_grad()
def test_decoder_only_right_padding_changes_nothing(rows: list[list[int]], extra: int) -> None:
    model = decoder_only()
    padded = model(batch(rows, max(map(len, rows)) + extra))
    for b, row in enumerate(rows):
        assert_close(padded[b : b + 1, : len(row)], model(batch([row])))


@SETTINGS
@given(tgt=sequences())
@torch.no_grad()
def test_eval_mode_is_deterministic(tgt: list[int]) -> None:
    assert decoder_only().config.p_drop > 0  # dropout exists, and eval mode must switch it off
    tokens = batch([tgt])
    assert torch.equal(decoder_only()(tokens), decoder_only()(tokens))
