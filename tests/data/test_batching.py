"""Token-budget batching (like fairseq's --max-tokens) and right-padding."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.data.batching import collate, token_budget_batches


def _cost(batch: list[int], lengths: list[int]) -> int:
    return max(max(lengths[i] for i in batch), 1) * len(batch)


@settings(max_examples=80, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 80), max_size=300),
    max_tokens=st.integers(1, 400),
    max_sentences=st.none() | st.integers(1, 20),
    seed=st.integers(0, 1000),
    shuffle=st.booleans(),
)
def test_every_index_once_and_budget_respected(
    lengths: list[int], max_tokens: int, max_sentences: int | None, seed: int, shuffle: bool
) -> None:
    batches = token_budget_batches(
        lengths, max_tokens=max_tokens, seed=seed, shuffle=shuffle, max_sentences=max_sentences
    )
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert batch
        if max_sentences is not None:
            assert len(batch) <= max_sentences
        # over budget only as a batch of its own, for an example longer than the budget
        assert _cost(batch, lengths) <= max_tokens or (
            len(batch) == 1 and lengths[batch[0]] > max_tokens
        )


def test_oversized_examples_get_their_own_batch() -> None:
    lengths = [3, 50, 4, 60, 2]
    batches = token_budget_batches(lengths, max_tokens=10, seed=0, shuffle=False)
    assert [1] in batches and [3] in batches
    assert batches[-2:] == [[1], [3]]  # shortest first without shuffling


def test_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    lengths = [i % 17 + 1 for i in range(500)]
    a = token_budget_batches(lengths, max_tokens=64, seed=7)
    assert a == token_budget_batches(lengths, max_tokens=64, seed=7)
    b = token_budget_batches(lengths, max_tokens=64, seed=8)
    assert a != b
    # ties are broken by the seed too: same lengths, different members per batch
    same = [5] * 100
    unshuffled = [token_budget_batches(same, max_tokens=50, seed=s, shuffle=False) for s in (0, 1)]
    assert unshuffled[0] != unshuffled[1]


def _padding_fraction(batches: list[list[int]], lengths: list[int]) -> float:
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def test_much_less_padding_than_random_batches() -> None:
    g = torch.Generator().manual_seed(0)
    # skewed lengths: mostly short sentences, a long tail
    lengths = (torch.exp(2.5 + 0.7 * torch.randn(5000, generator=g)).long() + 1).tolist()
    batches = token_budget_batches(lengths, max_tokens=2000, seed=0)
    order = torch.randperm(len(lengths), generator=g).tolist()
    size = round(sum(len(b) for b in batches) / len(batches))
    random_batches = [order[i : i + size] for i in range(0, len(order), size)]
    sorted_pad = _padding_fraction(batches, lengths)
    random_pad = _padding_fraction(random_batches, lengths)
    assert sorted_pad < 0.1
    assert random_pad > 0.4
    assert sorted_pad < random_pad / 5


def test_accepts_a_tensor_and_checks_arguments() -> None:
    lengths = torch.tensor([3, 1, 2])
    assert sorted(sum(token_budget_batches(lengths, max_tokens=4, seed=0), [])) == [0, 1, 2]
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches([1, 2], max_tokens=0, seed=0)
    with pytest.raises(ValueError, match="max_sentences"):
        token_budget_batches([1, 2], max_tokens=8, seed=0, max_sentences=0)
    with pytest.raises(ValueError, match="non-negative"):
        token_budget_batches([1, -2], max_tokens=8, seed=0)


def test_collate_right_pads() -> None:
    batch = collate([[5, 6, 7], [8], []], pad_id=0)
    assert batch.dtype == torch.long
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert collate([[1, 2]], pad_id=9).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="at least one"):
        collate([], pad_id=0)
