"""Splits without leakage: whole works held out; contiguous stretches of one text."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.data.text import split_contiguous, split_works


def _works(lengths: list[int]) -> list[tuple[str, str]]:
    return [(f"work {i}", "x" * n) for i, n in enumerate(lengths)]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 1000), min_size=3, max_size=40),
    val=st.floats(0.0, 0.3),
    test=st.floats(0.0, 0.3),
    seed=st.integers(0, 2**31),
)
def test_split_works_partitions_whole_works(
    lengths: list[int], val: float, test: float, seed: int
) -> None:
    works = _works(lengths)
    try:
        train, val_works, test_works = split_works(works, val, test, seed)
    except ValueError as error:  # only allowed when nothing would be left to train on
        assert "training" in str(error)
        return
    titles = [[t for t, _ in part] for part in (train, val_works, test_works)]
    # each work lands, whole, in exactly one split
    assert sorted(sum(titles, [])) == sorted(t for t, _ in works)
    assert all(w in works for part in (train, val_works, test_works) for w in part)
    assert train
    total = sum(lengths)
    for part, fraction in ((val_works, val), (test_works, test)):
        held = sum(len(text) for _, text in part)
        assert held >= fraction * total
        assert (len(part) > 0) == (fraction > 0)
    # the input order is kept within a split
    order = [t for t, _ in works]
    for part_titles in titles:
        assert part_titles == sorted(part_titles, key=order.index)


def test_split_works_is_deterministic_per_seed() -> None:
    works = _works([100] * 30)
    assert split_works(works, 0.1, 0.1, seed=3) == split_works(works, 0.1, 0.1, seed=3)
    held = {tuple(t for t, _ in split_works(works, 0.1, 0.1, seed=s)[1]) for s in range(10)}
    assert len(held) > 1  # the seed matters


def test_split_works_rejects_bad_arguments() -> None:
    works = _works([10, 10, 10])
    with pytest.raises(ValueError, match="val_fraction"):
        split_works(works, 1.5, 0.0, seed=0)
    with pytest.raises(ValueError, match="< 1"):
        split_works(works, 0.5, 0.5, seed=0)
    with pytest.raises(ValueError, match="training"):
        split_works(works, 0.45, 0.45, seed=0)  # 0.45 of 30 chars takes 2 works each
    with pytest.raises(ValueError, match="distinct titles"):
        split_works([("a", "x"), ("a", "y")], 0.1, 0.0, seed=0)


@given(text=st.text(max_size=300), val=st.floats(0.0, 0.45), test=st.floats(0.0, 0.45))
def test_split_contiguous_is_ordered_and_complete(text: str, val: float, test: float) -> None:
    train, val_part, test_part = split_contiguous(text, val, test)
    assert train + val_part + test_part == text
    assert len(val_part) == int(len(text) * val)
    assert len(test_part) == int(len(text) * test)


def test_split_contiguous_nanogpt_90_10_on_a_tensor() -> None:
    ids = torch.arange(1000)
    train, val, test = split_contiguous(ids, 0.1)
    assert torch.equal(train, torch.arange(900))
    assert torch.equal(val, torch.arange(900, 1000))
    assert test.numel() == 0
