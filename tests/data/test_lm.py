"""lm_blocks: non-overlapping blocks whose targets are the next tokens."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from aiayn.data.lm import lm_blocks


@given(n_tokens=st.integers(2, 500), block_size=st.integers(1, 64))
def test_blocks_do_not_overlap_and_targets_are_next_tokens(n_tokens: int, block_size: int) -> None:
    assume(n_tokens >= block_size + 1)
    positions = torch.arange(n_tokens)  # each token is its own position in the stream
    inputs, targets = lm_blocks(positions, block_size)
    assert inputs.shape == targets.shape == ((n_tokens - 1) // block_size, block_size)
    seen = inputs.flatten().tolist()
    assert len(seen) == len(set(seen))  # no position is an input of two blocks
    assert torch.equal(targets, inputs + 1)  # every target is the token after its input
    assert seen == list(range(len(seen)))  # consecutive, from the start of the stream


def test_blocks_on_real_ids() -> None:
    ids = torch.tensor([5, 6, 7, 8, 9, 10, 11])
    inputs, targets = lm_blocks(ids, 3)
    assert inputs.tolist() == [[5, 6, 7], [8, 9, 10]]
    assert targets.tolist() == [[6, 7, 8], [9, 10, 11]]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="too short"):
        lm_blocks(torch.arange(4), 4)
    with pytest.raises(ValueError, match="1-D"):
        lm_blocks(torch.zeros(2, 8, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="block_size"):
        lm_blocks(torch.arange(10), 0)
