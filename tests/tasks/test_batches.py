"""Batch sources: an epoch's batches are a pure function of (seed, epoch), so a resumed run sees
exactly the batches the interrupted one would have; and the layout of a translation batch."""

from __future__ import annotations

import pytest
import torch

from aiayn.errors import AiaynError
from aiayn.tasks.batches import FixedBatches, ParallelBatches, make_batch, padded_length
from aiayn.tokenizers.base import BOS_ID, EOS_ID, PAD_ID

BATCHES = [[i, i + 1] for i in range(0, 40, 2)]  # 20 batches of two example indices


def _fixed(seed: int = 0, **kwargs) -> FixedBatches:
    return FixedBatches(
        BATCHES, collate=lambda idx: {"ids": torch.tensor(idx)}, seed=seed, **kwargs
    )


def _order(source: FixedBatches, epoch: int) -> list[list[int]]:
    return [b["ids"].tolist() for b in source.epoch_batches(epoch)]


def test_fixed_batches_order_is_a_pure_function_of_seed_and_epoch():
    source = _fixed(seed=3)
    assert len(source) == 20
    epoch_2 = _order(source, 2)
    assert _order(_fixed(seed=3), 2) == epoch_2  # a fresh source (a resumed run): the same
    _order(source, 5)
    assert _order(source, 2) == epoch_2  # and asking for another epoch in between changes nothing
    assert _order(source, 3) != epoch_2  # reshuffled every epoch
    assert _order(_fixed(seed=4), 2) != epoch_2  # and per seed
    assert sorted(epoch_2) == BATCHES  # every batch, once, cut as it was


def test_fixed_batches_without_shuffling_keep_their_order():
    source = _fixed(shuffle=False)
    assert _order(source, 0) == _order(source, 7) == BATCHES


def test_fixed_batches_collate_an_epoch_once():
    calls = []
    source = FixedBatches(BATCHES, collate=lambda idx: calls.append(idx) or idx, seed=0)
    first = source.epoch_batches(1)
    assert source.epoch_batches(1) is first and len(calls) == 20


def test_padded_length_is_the_longer_side_plus_one():
    assert padded_length(([1, 2, 3], [4])) == 4  # source + <eos>
    assert padded_length(([1], [4, 5, 6, 7])) == 5  # <bos> + target


def test_parallel_batches_respect_the_token_budget_and_the_sentence_cap():
    g = torch.Generator().manual_seed(1)
    pairs = [
        ([5] * n, [6] * (n % 5 + 1)) for n in torch.randint(1, 20, (300,), generator=g).tolist()
    ]
    source = ParallelBatches(pairs, max_tokens=100, seed=0, max_sentences=8)
    for indices in source.batch_indices(0):
        assert len(indices) <= 8
        longest = max(padded_length(pairs[i]) for i in indices)
        assert len(indices) * longest <= 100 or len(indices) == 1
    assert len(source) == len(source.batch_indices(0))


def test_parallel_batches_need_pairs():
    with pytest.raises(AiaynError, match="no sentence pairs"):
        ParallelBatches([], max_tokens=100)


def test_parallel_batches_are_a_function_of_seed_and_epoch():
    g = torch.Generator().manual_seed(0)
    pairs = [
        (torch.randint(4, 50, (n,), generator=g).tolist(), [5] * (n % 7 + 1))
        for n in torch.randint(1, 30, (200,), generator=g).tolist()
    ]
    source = ParallelBatches(pairs, max_tokens=128, seed=3)
    again = ParallelBatches(pairs, max_tokens=128, seed=3)
    assert source.batch_indices(2) == again.batch_indices(2)
    assert source.batch_indices(2) != source.batch_indices(3)
    seen = sorted(i for b in source.batch_indices(5) for i in b)
    assert seen == list(range(len(pairs)))
    for batch in source.epoch_batches(1):
        assert batch["src"].numel() <= 128 or batch["src"].size(0) == 1


def test_make_batch_layout():
    batch = make_batch([([7, 8, 9], [10]), ([7], [11, 12])])
    assert batch["src"].tolist() == [[7, 8, 9, EOS_ID], [7, EOS_ID, PAD_ID, PAD_ID]]
    assert batch["tgt_in"].tolist() == [[BOS_ID, 10, PAD_ID], [BOS_ID, 11, 12]]
    assert batch["tgt_out"].tolist() == [[10, EOS_ID, PAD_ID], [11, 12, EOS_ID]]
