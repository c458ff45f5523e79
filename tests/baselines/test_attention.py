"""Global attention's three scores against hand computations on tiny tensors, and its masking."""

from __future__ import annotations

import math

import pytest
import torch

from aiayn.baselines.attention import GlobalAttention

# One query of D = 2 over S = 3 annotations.
QUERY = [1.0, 2.0]
MEMORY = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


def _softmax(xs: list[float]) -> list[float]:
    exps = [math.exp(x) for x in xs]
    return [e / sum(exps) for e in exps]


def _attention(score: str) -> GlobalAttention:
    attn = GlobalAttention(d_model=2, score=score)
    with torch.no_grad():
        if score == "general":
            attn.W_a.weight.copy_(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
        if score == "additive":
            attn.W_q.weight.copy_(torch.tensor([[0.5, 0.0], [0.0, -1.0]]))
            attn.W_q.bias.copy_(torch.tensor([0.1, 0.2]))
            attn.W_k.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 0.0]]))
            attn.v_a.weight.copy_(torch.tensor([[1.0, -0.5]]))
    return attn


def _hand_scores(score: str) -> list[float]:
    q1, q2 = QUERY
    if score == "dot":  # h_t . hs
        return [q1 * m1 + q2 * m2 for m1, m2 in MEMORY]
    if score == "general":  # h_t . (W_a hs), W_a = [[1, 2], [0, 1]]
        return [q1 * (m1 + 2 * m2) + q2 * m2 for m1, m2 in MEMORY]
    # v_a . tanh(W_q h_t + b + W_k hs)
    wq = [0.5 * q1 + 0.1, -1.0 * q2 + 0.2]
    return [1.0 * math.tanh(wq[0] + m1 + m2) - 0.5 * math.tanh(wq[1] + 2 * m1) for m1, m2 in MEMORY]


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_scores_weights_and_context_match_a_hand_computation(score: str) -> None:
    attn = _attention(score)
    query, memory = torch.tensor([QUERY]), torch.tensor([MEMORY])  # (1, 2), (1, 3, 2)
    keys = attn.keys(memory)
    expected_scores = _hand_scores(score)
    torch.testing.assert_close(attn.scores(query, keys), torch.tensor([expected_scores]))

    mask = torch.ones(1, 3, dtype=torch.bool)
    context, weights = attn(query, keys, memory, mask)
    a = _softmax(expected_scores)
    torch.testing.assert_close(weights, torch.tensor([a]))
    hand_context = [sum(a[s] * MEMORY[s][i] for s in range(3)) for i in range(2)]
    torch.testing.assert_close(context, torch.tensor([hand_context]))


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_padded_positions_get_no_weight(score: str) -> None:
    attn = _attention(score)
    query, memory = torch.tensor([QUERY]), torch.tensor([MEMORY])
    mask = torch.tensor([[True, False, True]])
    context, weights = attn(query, attn.keys(memory), memory, mask)
    s = _hand_scores(score)
    a = _softmax([s[0], s[2]])
    torch.testing.assert_close(weights, torch.tensor([[a[0], 0.0, a[1]]]))
    hand_context = [a[0] * MEMORY[0][i] + a[1] * MEMORY[2][i] for i in range(2)]
    torch.testing.assert_close(context, torch.tensor([hand_context]))


def test_a_fully_masked_row_gives_zero_weights_and_context_not_nan() -> None:
    attn = _attention("general")
    query, memory = torch.tensor([QUERY, QUERY]), torch.tensor([MEMORY, MEMORY])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    context, weights = attn(query, attn.keys(memory), memory, mask)
    assert torch.equal(weights[1], torch.zeros(3)) and torch.equal(context[1], torch.zeros(2))
    torch.testing.assert_close(weights[0].sum(), torch.tensor(1.0))


def test_only_the_chosen_score_has_parameters() -> None:
    counts = {
        s: sum(p.numel() for p in GlobalAttention(d_model=4, score=s).parameters())
        for s in ("dot", "general", "additive")
    }
    assert counts == {"dot": 0, "general": 16, "additive": 16 + 4 + 16 + 4}


def test_an_unknown_score_is_refused() -> None:
    with pytest.raises(ValueError, match="score.*'concat'"):
        GlobalAttention(d_model=4, score="concat")
