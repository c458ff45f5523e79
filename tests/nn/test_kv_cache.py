"""The key/value cache: it appends along the length axis, keeps a static memory's first keys,
follows a row index (beam search), and grows past its capacity without losing anything."""

from __future__ import annotations

import torch

from aiayn.nn.kv_cache import DecoderCache, KVCache

B, H, Dh = 3, 2, 4


def kv(S: int, seed: int, rows: int = B) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, H, S, Dh, generator=g), torch.randn(rows, H, S, Dh, generator=g)


def test_an_empty_cache_has_nothing():
    cache = KVCache()
    assert len(cache) == 0 and cache.k is None and cache.v is None
    cache.reorder(torch.tensor([0]))  # nothing to reorder: no error
    assert len(cache) == 0


def test_update_appends_along_the_length_axis_and_returns_everything():
    cache = KVCache()
    k1, v1 = kv(3, 0)
    k2, v2 = kv(1, 1)
    out_k, out_v = cache.update(k1, v1)
    assert torch.equal(out_k, k1) and torch.equal(out_v, v1) and len(cache) == 3
    out_k, out_v = cache.update(k2, v2)
    assert torch.equal(out_k, torch.cat([k1, k2], dim=2))  # (B, H, 3 + 1, Dh)
    assert torch.equal(out_v, torch.cat([v1, v2], dim=2))
    assert len(cache) == 4 and torch.equal(cache.k, out_k) and torch.equal(cache.v, out_v)


def test_growing_past_the_capacity_keeps_every_entry():
    for capacity in (2, None):  # a small one, and the default
        cache = KVCache(capacity=capacity)
        steps = [kv(1, seed) for seed in range(150)]
        for k, v in steps:
            cache.update(k, v)
        assert len(cache) == 150
        assert torch.equal(cache.k, torch.cat([k for k, _ in steps], dim=2))
        assert torch.equal(cache.v, torch.cat([v for _, v in steps], dim=2))


def test_a_static_cache_keeps_the_first_keys():
    cache = KVCache(static=True)
    k1, v1 = kv(5, 0)
    cache.update(k1, v1)
    out_k, out_v = cache.update(*kv(5, 1))  # the memory never changes after the first step
    assert torch.equal(out_k, k1) and torch.equal(out_v, v1)
    assert torch.equal(cache.k, k1) and len(cache) == 5


def test_reorder_follows_an_index_repeating_and_dropping_rows():
    cache = KVCache()
    k1, v1 = kv(2, 0)
    cache.update(k1, v1)
    index = torch.tensor([2, 0, 0, 2])  # row 1 dropped, rows 0 and 2 twice
    cache.reorder(index)
    assert torch.equal(cache.k, k1[index]) and torch.equal(cache.v, v1[index])
    assert len(cache) == 2
    # the next step appends to the reordered rows
    k2, v2 = kv(1, 1, rows=4)
    out_k, out_v = cache.update(k2, v2)
    assert torch.equal(out_k, torch.cat([k1[index], k2], dim=2))
    assert torch.equal(out_v, torch.cat([v1[index], v2], dim=2))
    cache.reorder(torch.tensor([3]))  # down to one row
    assert torch.equal(cache.k, torch.cat([k1[index], k2], dim=2)[3:])


def test_a_static_cache_reorders_too():
    cache = KVCache(static=True)
    k1, v1 = kv(4, 0)
    cache.update(k1, v1)
    cache.reorder(torch.tensor([1, 1]))
    assert torch.equal(cache.k, k1[[1, 1]]) and torch.equal(cache.v, v1[[1, 1]])


def test_decoder_cache_one_per_layer_with_static_cross_attention():
    cache = DecoderCache(3, cross_attention=True)
    assert len(cache.self_attn) == len(cache.cross_attn) == 3
    assert all(not c.static for c in cache.self_attn) and all(c.static for c in cache.cross_attn)
    assert DecoderCache(2, cross_attention=False).cross_attn == [None, None]
    assert len(cache) == 0
    for layer in cache.self_attn:
        layer.update(*kv(4, 0))
    assert len(cache) == 4  # the position of the next token


def test_decoder_cache_reorders_the_decoder_rows_and_selects_memory_rows_apart():
    """Beam search: the live beams follow their parents (`reorder`); the memory, shared by the
    beams of a source, is only narrowed to the sources still searching (`select_memory`)."""
    cache = DecoderCache(1, cross_attention=True)
    self_k, self_v = kv(2, 0, rows=4)
    memory_k, memory_v = kv(5, 1, rows=2)
    cache.self_attn[0].update(self_k, self_v)
    cache.cross_attn[0].update(memory_k, memory_v)
    cache.reorder(torch.tensor([1, 1, 3]))
    assert torch.equal(cache.self_attn[0].k, self_k[[1, 1, 3]])
    assert torch.equal(cache.cross_attn[0].k, memory_k)  # untouched
    cache.select_memory(torch.tensor([1]))
    assert torch.equal(cache.cross_attn[0].k, memory_k[[1]])
    assert torch.equal(cache.cross_attn[0].v, memory_v[[1]])
    assert torch.equal(cache.self_attn[0].k, self_k[[1, 1, 3]])
