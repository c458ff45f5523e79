"""Scaled dot-product attention (explicit and fused paths) and multi-head attention."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch.testing import assert_close

from aiayn.nn import (
    KVCache,
    MultiHeadAttention,
    attention_scores,
    fast_scaled_dot_product_attention,
    padding_mask,
    scaled_dot_product_attention,
)

B, H, Dh = 2, 3, 8


def qkv(T: int, S: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, H, n, Dh, generator=g) for n in (T, S, S))


def key_padding(lengths: list[int], S: int) -> Tensor:
    """(B, 1, 1, S), True at the first `length` keys of each row."""
    return (torch.arange(S)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]


def test_matches_the_formula() -> None:
    q, k, v = qkv(4, 6)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(Dh), dim=-1)
    assert_close(weights, expected_weights)
    assert_close(out, expected_weights @ v)


@pytest.mark.parametrize(
    ("T", "S", "mask", "causal"),
    [
        (5, 5, None, False),
        (4, 7, "padding", False),
        (6, 6, None, True),
        (6, 6, "padding", True),
        (3, 8, None, True),  # cached decoding: 3 new queries after 5 cached keys
        (3, 8, "padding", True),
        (1, 8, None, True),
        (4, 6, "random", False),
    ],
)
def test_explicit_path_equals_fused_path(T: int, S: int, mask: str | None, causal: bool) -> None:
    q, k, v = qkv(T, S)
    m = None
    if mask == "padding":
        m = key_padding([S, S - 2], S)
    elif mask == "random":
        m = torch.rand(B, H, T, S, generator=torch.Generator().manual_seed(1)) > 0.4
        m[..., 0] = True  # every query keeps at least one key
    explicit, _ = scaled_dot_product_attention(q, k, v, m, causal=causal)
    fused = fast_scaled_dot_product_attention(q, k, v, m, causal=causal)
    assert_close(explicit, fused)


def test_causal_with_more_keys_aligns_queries_to_the_end() -> None:
    """With S > T the T queries are the last T positions: query i sees keys 0..S-T+i."""
    T, S = 3, 7
    q, k, v = qkv(T, S)
    _, weights = scaled_dot_product_attention(q, k, v, causal=True)
    for i in range(T):
        assert (weights[..., i, : S - T + i + 1] > 0).all()
        assert (weights[..., i, S - T + i + 1 :] == 0).all()
    # the same as the last T rows of full causal attention over S queries
    q_full = torch.cat([torch.randn(B, H, S - T, Dh), q], dim=2)
    full, _ = scaled_dot_product_attention(q_full, k, v, causal=True)
    assert_close(scaled_dot_product_attention(q, k, v, causal=True)[0], full[:, :, S - T :])


def test_weights_sum_to_one_and_are_zero_where_masked() -> None:
    q, k, v = qkv(5, 6)
    m = key_padding([6, 3], 6)
    _, weights = scaled_dot_product_attention(q, k, v, m, causal=False)
    assert_close(weights.sum(-1), torch.ones(B, H, 5))
    assert (weights.masked_select(~m.expand_as(weights)) == 0).all()


@pytest.mark.parametrize("fused", [False, True], ids=["explicit", "fused"])
def test_fully_masked_row_gives_zeros_and_no_nan(fused: bool) -> None:
    q, k, v = qkv(4, 5)
    q.requires_grad_(True)
    k.requires_grad_(True)
    v.requires_grad_(True)
    m = key_padding([5, 0], 5)  # the second sequence has no real key at all
    if fused:
        out = fast_scaled_dot_product_attention(q, k, v, m)
    else:
        out, weights = scaled_dot_product_attention(q, k, v, m)
        assert (weights[1] == 0).all()
        assert_close(weights[0].sum(-1), torch.ones(H, 4))
    assert torch.isfinite(out).all()
    assert (out[1] == 0).all()
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()


def test_dropout_on_weights_is_reproducible_with_a_generator() -> None:
    q, k, v = qkv(4, 4)

    def run(seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=g)[1]

    assert_close(run(3), run(3))
    assert not torch.equal(run(3), run(4))
    assert (run(3) == 0).any()


# --- multi-head attention -----------------------------------------------------------------------


@pytest.fixture
def mha() -> MultiHeadAttention:
    torch.manual_seed(0)
    return MultiHeadAttention(d_model=24, n_heads=H).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_mha_need_weights_equals_default_path(mha: MultiHeadAttention, causal: bool) -> None:
    x, mem = torch.randn(B, 5, 24), torch.randn(B, 5, 24)
    m = key_padding([5, 2], 5)
    fast = mha(x, mem, mask=m, causal=causal)
    slow = mha(x, mem, mask=m, causal=causal, need_weights=True)
    assert_close(slow, fast)
    assert mha.last_weights.shape == (B, H, 5, 5)
    assert_close(mha.last_weights.sum(-1), torch.ones(B, H, 5))


def test_mha_equals_per_head_formula(mha: MultiHeadAttention) -> None:
    """Concat(head_1..head_h) W^O with head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V), per head."""
    x = torch.randn(B, 4, 24)
    d_k = 24 // H
    heads = []
    for i in range(H):
        rows = slice(i * d_k, (i + 1) * d_k)
        qi = x @ mha.w_q.weight[rows].T + mha.w_q.bias[rows]
        ki = x @ mha.w_k.weight[rows].T + mha.w_k.bias[rows]
        vi = x @ mha.w_v.weight[rows].T + mha.w_v.bias[rows]
        heads.append(torch.softmax(qi @ ki.transpose(1, 2) / math.sqrt(d_k), -1) @ vi)
    expected = mha.w_o(torch.cat(heads, dim=-1))
    assert_close(mha(x), expected)


def test_mha_cached_steps_equal_full_causal(mha: MultiHeadAttention) -> None:
    x = torch.randn(B, 6, 24)
    full = mha(x, causal=True)
    cache = KVCache()
    steps = [mha(x[:, t : t + 1], causal=True, cache=cache) for t in range(6)]
    assert_close(torch.cat(steps, dim=1), full)
    assert len(cache) == 6


def test_mha_padding_leaves_other_queries_unchanged(mha: MultiHeadAttention) -> None:
    x = torch.randn(1, 4, 24)
    padded = torch.cat([x, torch.randn(1, 3, 24)], dim=1)
    m = padding_mask(torch.tensor([[1, 1, 1, 1, 0, 0, 0]]), pad_id=0)
    assert_close(mha(padded, mask=m)[:, :4], mha(x))


def test_mha_rejects_indivisible_heads() -> None:
    with pytest.raises(ValueError, match="d_model=10.*n_heads=3"):
        MultiHeadAttention(d_model=10, n_heads=3)


@pytest.mark.parametrize("causal", [False, True])
def test_bf16_autocast_on_cpu_attends_in_fp32_and_returns_bf16(causal: bool) -> None:
    # Under bf16 autocast the fused path attends in fp32 on a CPU (torch's CPU kernel is slow in
    # bf16); it must still hand back bf16, equal the fp32 maths on the same bf16 inputs, and
    # pass gradients back to the bf16 inputs.
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g).bfloat16().requires_grad_() for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fast_scaled_dot_product_attention(q, k, v, causal=causal)
    assert out.dtype == torch.bfloat16
    expected, _ = scaled_dot_product_attention(q.float(), k.float(), v.float(), causal=causal)
    assert_close(out, expected.bfloat16())
    out.float().sum().backward()
    assert q.grad is not None and q.grad.dtype == torch.bfloat16 and torch.isfinite(q.grad).all()


# --- the other scores: each against a hand computation, one number at a time ---------------------


def hand_score(score: str, q: Tensor, k: Tensor, W: Tensor, v_a: Tensor) -> float:
    """One query (Dh,), one key (Dh,), one head's W (Dh, Dh) and v_a (Dh,), with Python floats."""
    qs, ks, d = q.tolist(), k.tolist(), len(q)
    if score == "scaled-dot":
        return sum(a * b for a, b in zip(qs, ks, strict=True)) / math.sqrt(d)
    if score == "dot":
        return sum(a * b for a, b in zip(qs, ks, strict=True))
    if score == "bilinear":
        Wl = W.tolist()
        return sum(qs[i] * Wl[i][j] * ks[j] for i in range(d) for j in range(d)) / math.sqrt(d)
    return sum(a * math.tanh(x + y) for a, x, y in zip(v_a.tolist(), qs, ks, strict=True))


@pytest.mark.parametrize("score", ["scaled-dot", "dot", "bilinear", "additive"])
def test_each_score_equals_the_hand_computation(score: str) -> None:
    q, k, _ = qkv(3, 4, seed=1)
    g = torch.Generator().manual_seed(2)
    W, v_a = torch.randn(H, Dh, Dh, generator=g), torch.randn(H, Dh, generator=g)
    scores = attention_scores(q, k, score, bilinear=W, additive_v=v_a)
    assert scores.shape == (B, H, 3, 4)
    expected = torch.tensor(
        [
            [
                [
                    [hand_score(score, q[b, h, t], k[b, h, s], W[h], v_a[h]) for s in range(4)]
                    for t in range(3)
                ]
                for h in range(H)
            ]
            for b in range(B)
        ]
    )
    assert_close(scores, expected, rtol=1e-5, atol=1e-5)


def test_the_scale_divides_the_dot_product_by_sqrt_d_k() -> None:
    q, k, _ = qkv(3, 4)
    assert_close(attention_scores(q, k, "dot") / math.sqrt(Dh), attention_scores(q, k))


def test_scores_that_need_parameters_say_so_and_unknown_ones_are_refused() -> None:
    q, k, _ = qkv(2, 2)
    with pytest.raises(ValueError, match="bilinear"):
        attention_scores(q, k, "bilinear")
    with pytest.raises(ValueError, match="additive_v"):
        attention_scores(q, k, "additive")
    with pytest.raises(ValueError, match="'cosine'"):
        attention_scores(q, k, "cosine")
    with pytest.raises(ValueError, match="'cosine'"):
        MultiHeadAttention(d_model=24, n_heads=H, score="cosine")


@pytest.mark.parametrize("score", ["dot", "bilinear", "additive"])
def test_mha_with_another_score_equals_its_per_head_formula(score: str) -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model=24, n_heads=H, score=score).eval()
    if mha.bilinear is not None:
        with torch.no_grad():  # away from the identity it starts at
            mha.bilinear.add_(0.3 * torch.randn_like(mha.bilinear))
    x = torch.randn(B, 4, 24)
    d_k = 24 // H
    heads = []
    for i in range(H):
        rows = slice(i * d_k, (i + 1) * d_k)
        qi = x @ mha.w_q.weight[rows].T + mha.w_q.bias[rows]  # (B, T, Dh)
        ki = x @ mha.w_k.weight[rows].T + mha.w_k.bias[rows]
        vi = x @ mha.w_v.weight[rows].T + mha.w_v.bias[rows]
        if score == "dot":
            e = qi @ ki.transpose(1, 2)
        elif score == "bilinear":
            e = qi @ mha.bilinear[i] @ ki.transpose(1, 2) / math.sqrt(d_k)
        else:
            e = (torch.tanh(qi[:, :, None, :] + ki[:, None, :, :]) * mha.additive_v[i]).sum(-1)
        heads.append(torch.softmax(e, -1) @ vi)
    assert_close(mha(x), mha.w_o(torch.cat(heads, dim=-1)))
    mha(x, need_weights=True)
    assert_close(mha.last_weights.sum(-1), torch.ones(B, H, 4))


def test_bilinear_starts_as_the_scaled_dot_product() -> None:
    torch.manual_seed(0)
    paper = MultiHeadAttention(d_model=24, n_heads=H).eval()
    bilinear = MultiHeadAttention(d_model=24, n_heads=H, score="bilinear").eval()
    bilinear.load_state_dict({**paper.state_dict(), "bilinear": bilinear.bilinear.detach()})
    x = torch.randn(B, 5, 24)
    assert_close(bilinear(x, causal=True), paper(x, causal=True))
    n_extra = sum(p.numel() for p in bilinear.parameters()) - sum(
        p.numel() for p in paper.parameters()
    )
    assert n_extra == H * (24 // H) ** 2


def test_another_score_keeps_causality_and_the_cache() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model=24, n_heads=H, score="additive").eval()
    x = torch.randn(B, 6, 24)
    full = mha(x, causal=True)
    cache = KVCache()
    steps = [mha(x[:, t : t + 1], causal=True, cache=cache) for t in range(6)]
    assert_close(torch.cat(steps, dim=1), full)
    changed = x.clone()
    changed[:, -1] += 1.0
    assert_close(mha(changed, causal=True)[:, :-1], full[:, :-1])
