"""Batch sources: the training batches of each epoch, as a pure function of (seed, epoch).

The trainer asks a source for `epoch_batches(epoch)`; because the answer depends only on the seed
and the epoch, a resumed run rebuilds exactly the batches the interrupted one would have seen.

- `FixedBatches`: batches cut once (lists of example indices), their order reshuffled each epoch.
- `ParallelBatches`: translation pairs cut anew each epoch into token-budget batches.

Sequences of a translation batch, with B pairs and S, T their padded lengths:
    src     (B, S)  source subwords, then <eos>      (the source always ends with <eos>)
    tgt_in  (B, T)  <bos>, then target subwords       (the decoder's input, shifted right)
    tgt_out (B, T)  target subwords, then <eos>       (what the decoder must predict)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from aiayn.data import collate as pad_batch
from aiayn.data import token_budget_batches
from aiayn.errors import AiaynError
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID
from aiayn.training.loss import Batch


@dataclass
class FixedBatches:
    """A BatchSource over pre-made batches (lists of example indices), reshuffled every epoch
    with a generator seeded by (seed, epoch), so any epoch's order can be rebuilt on resume."""

    batches: list[list[int]]
    collate: Any  # Callable[[list[int]], Batch]
    seed: int = 0
    shuffle: bool = True
    _cache: tuple[int, list[Batch]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.batches)

    def epoch_batches(self, epoch: int) -> Sequence[Batch]:
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        order = list(range(len(self.batches)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        epoch_batches = [self.collate(self.batches[i]) for i in order]
        self._cache = (epoch, epoch_batches)
        return epoch_batches


Pair = tuple[list[int], list[int]]  # (source ids without <eos>, target ids without specials)


def make_batch(pairs: list[Pair]) -> dict[str, Tensor]:
    """Token id pairs -> the encoder-decoder batch {"src", "tgt_in", "tgt_out"} (see the top)."""
    return {
        "src": pad_batch([[*s, EOS_ID] for s, _ in pairs], PAD_ID),  # (B, S)
        "tgt_in": pad_batch([[BOS_ID, *t] for _, t in pairs], PAD_ID),  # (B, T)
        "tgt_out": pad_batch([[*t, EOS_ID] for _, t in pairs], PAD_ID),  # (B, T)
    }


def padded_length(pair: Pair) -> int:
    """The room a pair takes in a batch: its longer side, with <eos> (or <bos>) added."""
    return max(len(pair[0]), len(pair[1])) + 1


@dataclass
class ParallelBatches:
    """A BatchSource: token-budget batches of translation pairs, cut anew every epoch.

    The batches of epoch e are `token_budget_batches` with seed (seed, e), so they are a pure
    function of (seed, epoch) and a resumed run sees exactly the batches it would have seen.
    """

    pairs: list[Pair]
    max_tokens: int
    seed: int = 0
    max_sentences: int | None = None
    _cache: tuple[int, list[dict[str, Tensor]]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.pairs:
            raise AiaynError("the training corpus has no sentence pairs")
        self.lengths = [padded_length(p) for p in self.pairs]

    def batch_indices(self, epoch: int) -> list[list[int]]:
        return token_budget_batches(
            self.lengths,
            max_tokens=self.max_tokens,
            seed=self.seed * 1_000_003 + epoch,
            max_sentences=self.max_sentences,
        )

    def __len__(self) -> int:
        return len(self.batch_indices(0))

    def epoch_batches(self, epoch: int) -> list[dict[str, Tensor]]:
        if self._cache is None or self._cache[0] != epoch:
            batches = [make_batch([self.pairs[i] for i in b]) for b in self.batch_indices(epoch)]
            self._cache = (epoch, batches)
        return self._cache[1]


__all__ = ["FixedBatches", "Pair", "ParallelBatches", "make_batch", "padded_length"]
