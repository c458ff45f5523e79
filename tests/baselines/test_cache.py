"""The recurrent decoder's cache: its length and how beam search reorders it."""

from __future__ import annotations

import torch

from aiayn.baselines.cache import RecurrentDecoderCache


def test_an_empty_cache_has_length_zero_and_reorders_without_error() -> None:
    cache = RecurrentDecoderCache()
    cache.reorder(torch.tensor([0, 0]))
    assert len(cache) == 0 and cache.state is None


def test_update_counts_steps_and_reorder_follows_the_index_dropping_rows() -> None:
    L, B, S, D = 2, 3, 4, 5
    h = torch.arange(L * B * D, dtype=torch.float).view(L, B, D)
    c = -h
    feed = torch.arange(B * D, dtype=torch.float).view(B, D)
    keys = torch.arange(B * S * D, dtype=torch.float).view(B, S, D)
    cache = RecurrentDecoderCache()
    cache.update(state=(h, c), feed=feed, keys=keys, steps=3)
    cache.update(state=(h, c), feed=feed, keys=keys, steps=1)
    assert len(cache) == 4

    index = torch.tensor([2, 2, 0])  # row 1 dropped, row 2 duplicated
    cache.reorder(index)
    assert cache.state is not None
    assert torch.equal(cache.state[0], h[:, index]) and torch.equal(cache.state[1], c[:, index])
    assert torch.equal(cache.feed, feed[index]) and torch.equal(cache.keys, keys[index])
    assert len(cache) == 4
