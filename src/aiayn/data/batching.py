"""Batches by token budget, as the paper batches ("sentence pairs batched together by
approximate sequence length", about 25,000 source and 25,000 target tokens a batch), and padding.

Notation: B sequences in a batch, T_max the longest of them.

Sorting by length before cutting batches puts sentences of similar length together, so little of
each (B, T_max) batch is padding; shuffling the *order of the batches* afterwards keeps training
from seeing short sentences first and long ones last.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def token_budget_batches(
    lengths: Sequence[int] | Tensor,
    *,
    max_tokens: int,
    seed: int,
    shuffle: bool = True,
    max_sentences: int | None = None,
) -> list[list[int]]:
    """Group example indices into batches of at most `max_tokens` padded tokens each.

    `lengths[i]` is the length that example i occupies in a padded batch (for translation, say,
    max(source, target) length with <bos>/<eos>). Indices are sorted by length, equal lengths in
    an order shuffled by `seed`, and cut greedily so that (longest length in batch) x (batch size)
    <= max_tokens, and batch size <= `max_sentences` when given; then the batch order is shuffled
    by `seed` (unless `shuffle=False`, which keeps them shortest first). Every index appears in
    exactly one batch. An example longer than `max_tokens` cannot fit any budget: it gets a batch
    of its own rather than being dropped. A length of 0 counts as 1.

    The same lengths and seed give the same batches; pass a different seed each epoch (e.g.
    seed + epoch) for a new order.
    """
    if hasattr(lengths, "tolist"):  # a tensor or numpy array
        lengths = lengths.tolist()
    lengths = list(lengths)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if max_sentences is not None and (not isinstance(max_sentences, int) or max_sentences <= 0):
        raise ValueError(f"max_sentences must be a positive integer or None, got {max_sentences!r}")
    for i, n in enumerate(lengths):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"lengths must be non-negative integers, got {n!r} at index {i}")

    generator = torch.Generator().manual_seed(seed)
    tie_break = torch.randperm(len(lengths), generator=generator).tolist()
    order = sorted(tie_break, key=lengths.__getitem__)  # stable: ties keep the random order

    batches: list[list[int]] = []
    batch: list[int] = []
    for i in order:
        longest = max(lengths[i], 1)  # ascending order: the newcomer is the longest so far
        full = max_sentences is not None and len(batch) >= max_sentences
        if batch and (full or (len(batch) + 1) * longest > max_tokens):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)

    if shuffle:
        batch_order = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[j] for j in batch_order]
    return batches


def collate(seqs: Sequence[Sequence[int]], pad_id: int) -> Tensor:
    """Right-pad token id sequences into one LongTensor (B, T_max), filled with `pad_id`."""
    if len(seqs) == 0:
        raise ValueError("collate needs at least one sequence, got none")
    t_max = max(len(s) for s in seqs)
    # Padding Python lists and converting once is faster than writing rows into a tensor.
    rows = [[*s, *[pad_id] * (t_max - len(s))] for s in seqs]
    return torch.tensor(rows, dtype=torch.long).view(len(seqs), t_max)  # (B, T_max)
