"""Our attention, encoder and decoder against torch.nn's reference modules, weights copied across
with aiayn.interop.torch_nn, compared with torch.testing.assert_close at default fp32 tolerances."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.interop.torch_nn import (
    decoder_to_torch,
    encoder_to_torch,
    from_torch_key_padding_mask,
    load_from_torch,
    load_torch_state_dict,
    mha_to_torch,
    name_pairs,
    to_torch_attn_mask,
    to_torch_key_padding_mask,
    torch_state_dict,
)
from aiayn.nn import Decoder, Encoder, MultiHeadAttention, causal_mask, padding_mask

D, H = 32, 4


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random values in every weight, LayerNorm gains and biases included: with their default
    ones and zeros, swapping two LayerNorms in the name table would go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
    return module


def config(**changes: object) -> ModelConfig:
    base = dict(d_model=D, n_heads=H, d_ff=64, n_layers=2, p_drop=0.0, max_len=64)
    return ModelConfig(**{**base, **changes})


def lengths_to_tokens(lengths: list[int], pad_id: int = 0) -> Tensor:
    """(B, max length) ids: real tokens 1.., then padding."""
    T = max(lengths)
    tokens = torch.full((len(lengths), T), pad_id)
    for b, n in enumerate(lengths):
        tokens[b, :n] = torch.arange(1, n + 1)
    return tokens


def x_(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- multi-head attention -----------------------------------------------------------------------


@pytest.fixture
def mha_pair() -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    ours = randomize(MultiHeadAttention(d_model=D, n_heads=H), seed=1).eval()
    return ours, mha_to_torch(ours).eval()


def test_mha_self_attention(mha_pair) -> None:
    ours, theirs = mha_pair
    x = x_(3, 7, D)
    assert_close(ours(x), theirs(x, x, x, need_weights=False)[0])


def test_mha_cross_attention_different_lengths(mha_pair) -> None:
    ours, theirs = mha_pair
    q, kv = x_(2, 5, D, seed=1), x_(2, 9, D, seed=2)
    assert_close(ours(q, kv), theirs(q, kv, kv, need_weights=False)[0])


def test_mha_key_padding_mask(mha_pair) -> None:
    ours, theirs = mha_pair
    q, kv = x_(3, 4, D, seed=1), x_(3, 6, D, seed=2)
    mask = padding_mask(lengths_to_tokens([6, 3, 1]), pad_id=0)  # (B, 1, 1, S)
    expected = theirs(q, kv, kv, key_padding_mask=to_torch_key_padding_mask(mask))[0]
    assert_close(ours(q, kv, mask=mask), expected)
    # padding really changes the result, so the comparison above is not vacuous
    assert not torch.allclose(ours(q, kv), expected)


def test_mha_causal_mask(mha_pair) -> None:
    ours, theirs = mha_pair
    x = x_(2, 6, D)
    attn_mask = to_torch_attn_mask(causal_mask(6))
    expected = theirs(x, x, x, attn_mask=attn_mask, need_weights=False)[0]
    assert_close(ours(x, causal=True), expected)
    assert_close(ours(x, causal=True, need_weights=True), expected)


def test_mha_causal_and_padding_with_4d_mask(mha_pair) -> None:
    ours, theirs = mha_pair
    x = x_(3, 5, D)
    mask = padding_mask(lengths_to_tokens([5, 4, 2]), pad_id=0) & causal_mask(5)  # (B, 1, T, T)
    expected = theirs(x, x, x, attn_mask=to_torch_attn_mask(mask, n_heads=H))[0]
    assert_close(ours(x, mask=mask), expected)


def test_mha_attention_weights(mha_pair) -> None:
    ours, theirs = mha_pair
    q, kv = x_(2, 3, D, seed=1), x_(2, 5, D, seed=2)
    mask = padding_mask(lengths_to_tokens([5, 2]), pad_id=0)
    ours(q, kv, mask=mask, need_weights=True)
    _, weights = theirs(q, kv, kv, key_padding_mask=to_torch_key_padding_mask(mask))
    assert_close(ours.last_weights.mean(dim=1), weights)  # torch averages over heads


def test_mha_from_torch_sequence_first() -> None:
    """A torch MHA with batch_first=False (its default) loads into ours; only the layout of the
    inputs differs."""
    theirs = randomize(nn.MultiheadAttention(D, H), seed=3).eval()
    ours = MultiHeadAttention(d_model=D, n_heads=H).eval()
    load_from_torch(ours, theirs)
    q, kv = x_(5, 2, D, seed=1), x_(8, 2, D, seed=2)  # (T, B, D), (S, B, D)
    expected = theirs(q, kv, kv, need_weights=False)[0]  # (T, B, D)
    assert_close(ours(q.transpose(0, 1), kv.transpose(0, 1)), expected.transpose(0, 1))


# --- encoder and decoder stacks -----------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_matches_torch(norm_first: bool, activation: str) -> None:
    c = config(norm_first=norm_first, activation=activation)
    ours = randomize(Encoder(c), seed=4).eval()
    theirs = encoder_to_torch(ours, c).eval()
    assert (theirs.norm is not None) == norm_first
    tokens = lengths_to_tokens([7, 5, 2])
    real = tokens != 0  # (B, S)
    x = x_(3, 7, D)
    # With gradients off, torch takes its fused eval fast path; with them on, the plain one.
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            out = ours(x, padding_mask(tokens, 0))
            expected = theirs(x, src_key_padding_mask=to_torch_key_padding_mask(real))
            # Compare real positions only: torch's fast path may skip or zero padded positions,
            # whose values nothing downstream reads (every query masks them out as keys).
            assert_close(out[real], expected[real])
            # Without padding every position is real.
            assert_close(ours(x), theirs(x))


def test_swapped_norms_are_detected() -> None:
    """The comparison can fail: exchanging norm1 and norm2 in torch's copy changes its output."""
    c = config()
    ours = randomize(Encoder(c), seed=4).eval()
    theirs = encoder_to_torch(ours, c).eval()
    layer = theirs.layers[0]
    layer.norm1, layer.norm2 = layer.norm2, layer.norm1
    x = x_(2, 5, D)
    assert not torch.allclose(ours(x), theirs(x), atol=1e-3)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_matches_torch(norm_first: bool) -> None:
    c = config(norm_first=norm_first)
    ours = randomize(Decoder(c), seed=5).eval()
    theirs = decoder_to_torch(ours, c).eval()
    assert isinstance(theirs, nn.TransformerDecoder)
    src, tgt = lengths_to_tokens([6, 3, 4]), lengths_to_tokens([5, 5, 2])
    memory, y = x_(3, 6, D, seed=1), x_(3, 5, D, seed=2)
    out = ours(y, memory, memory_mask=padding_mask(src, 0))
    # Ours masks only causally in self-attention: targets are right-padded, so no real position
    # can see a padded one. torch also gets the target padding mask; real positions must agree.
    expected = theirs(
        y,
        memory,
        tgt_mask=to_torch_attn_mask(causal_mask(5)),
        tgt_is_causal=True,
        tgt_key_padding_mask=to_torch_key_padding_mask(tgt, pad_id=0),
        memory_key_padding_mask=to_torch_key_padding_mask(src, pad_id=0),
    )
    real = tgt != 0
    assert_close(out[real], expected[real])


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_only_stack_is_a_causal_torch_encoder(norm_first: bool) -> None:
    c = config(arch="decoder-only", norm_first=norm_first)
    ours = randomize(Decoder(c, cross_attention=False), seed=6).eval()
    theirs = decoder_to_torch(ours, c).eval()
    assert isinstance(theirs, nn.TransformerEncoder)
    x = x_(2, 6, D)
    expected = theirs(x, mask=to_torch_attn_mask(causal_mask(6)), is_causal=True)
    assert_close(ours(x), expected)


# --- the mapping itself -------------------------------------------------------------------------


def _modules(c: ModelConfig) -> list[nn.Module]:
    return [
        MultiHeadAttention(d_model=D, n_heads=H, bias=c.bias),
        Encoder(c),
        Decoder(c),
        Decoder(c, cross_attention=False),
    ]


@pytest.mark.parametrize(
    "changes",
    [{}, {"norm_first": True}, {"bias": False}, {"norm_first": True, "bias": False}],
    ids=["post-norm", "pre-norm", "no-bias", "pre-norm-no-bias"],
)
def test_round_trip_ours_torch_ours(changes: dict) -> None:
    c = config(**changes)
    for i, (src, dst) in enumerate(zip(_modules(c), _modules(c), strict=True)):
        randomize(src, seed=10 + i)
        if isinstance(src, MultiHeadAttention):
            theirs = mha_to_torch(src)
        elif isinstance(src, Encoder):
            theirs = encoder_to_torch(src, c)
        else:
            theirs = decoder_to_torch(src, c)
        load_from_torch(dst, theirs)
        a, b = src.state_dict(), dst.state_dict()
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), name


def test_round_trip_torch_ours_torch() -> None:
    c = config(norm_first=True)
    layer = nn.TransformerDecoderLayer(D, H, 64, dropout=0.0, batch_first=True, norm_first=True)
    theirs = randomize(nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(D)), seed=7)
    ours = Decoder(c)
    load_from_torch(ours, theirs)
    back = torch_state_dict(ours)
    assert back.keys() == theirs.state_dict().keys()
    for name, value in theirs.state_dict().items():
        assert torch.equal(back[name], value), name


def test_in_proj_is_q_k_v_stacked() -> None:
    mha = randomize(MultiHeadAttention(d_model=D, n_heads=H), seed=8)
    w = torch_state_dict(mha)["in_proj_weight"]
    assert_close(w[:D], mha.w_q.weight, rtol=0, atol=0)
    assert_close(w[D : 2 * D], mha.w_k.weight, rtol=0, atol=0)
    assert_close(w[2 * D :], mha.w_v.weight, rtol=0, atol=0)


def test_load_rejects_unused_missing_and_misshapen_weights() -> None:
    mha = MultiHeadAttention(d_model=D, n_heads=H)
    good = torch_state_dict(mha)
    with pytest.raises(ValueError, match="no place.*extra"):
        load_torch_state_dict(mha, {**good, "extra": torch.zeros(1)})
    with pytest.raises(ValueError, match="lack.*w_o.bias"):
        load_torch_state_dict(mha, {k: v for k, v in good.items() if k != "out_proj.bias"})
    with pytest.raises(ValueError, match="wrong shape.*in_proj_weight"):
        load_torch_state_dict(mha, {**good, "in_proj_weight": torch.zeros(2 * D, D)})
    with pytest.raises(ValueError, match="Linear"):
        name_pairs(nn.Linear(2, 2))


# --- masks at the boundary ----------------------------------------------------------------------


def test_key_padding_mask_conversions() -> None:
    tokens = lengths_to_tokens([3, 1])
    expected = torch.tensor([[False, False, False], [False, True, True]])  # True = padding
    assert torch.equal(to_torch_key_padding_mask(tokens, pad_id=0), expected)
    assert torch.equal(to_torch_key_padding_mask(tokens != 0), expected)
    ours = padding_mask(tokens, 0)
    assert torch.equal(to_torch_key_padding_mask(ours), expected)
    assert torch.equal(from_torch_key_padding_mask(expected), ours)
    with pytest.raises(ValueError, match="pad_id"):
        to_torch_key_padding_mask(tokens)
    with pytest.raises(ValueError, match=r"\(2, 1, 3, 3\)"):
        to_torch_key_padding_mask(ours.expand(2, 1, 3, 3))


def test_attn_mask_conversion() -> None:
    mask = causal_mask(3)
    assert torch.equal(to_torch_attn_mask(mask), ~mask)
    four_d = mask[None, None].expand(2, 1, 3, 3)
    assert to_torch_attn_mask(four_d, n_heads=H).shape == (2 * H, 3, 3)
    with pytest.raises(ValueError, match="n_heads"):
        to_torch_attn_mask(four_d)
    with pytest.raises(ValueError, match="bool"):
        to_torch_attn_mask(mask.float())
