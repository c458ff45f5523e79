"""Train / validation / test splits of raw text that never leak one into another.

A language model evaluated on text it trained on looks better than it is. Two ways to avoid it:
- a corpus of separate works (the complete works of Shakespeare): hold out *whole works*, so no
  line of a validation play was seen in training (`split_works`);
- one continuous text (tiny Shakespeare): cut it into contiguous stretches, train first, then
  validation, then test, as nanoGPT does with its 90/10 split (`split_contiguous`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

Work = tuple[str, str]  # (title, text)
S = TypeVar("S", bound=Sequence)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave text for training, "
            f"got {val_fraction} + {test_fraction}"
        )


def split_works(
    works: Sequence[Work], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[Work], list[Work], list[Work]]:
    """Hold out whole works: (train, val, test), each a list of (title, text) in input order.

    The works are visited in an order shuffled with `seed`; test takes works until it holds at
    least `test_fraction` of all characters, then validation until it holds `val_fraction`, and
    training keeps the rest. So a split can overshoot its fraction by up to one work, and a
    non-zero fraction always gets at least one work. The same works and seed give the same split.
    """
    _check_fractions(val_fraction, test_fraction)
    if not works:
        raise ValueError("split_works needs at least one work, got none")
    titles = [title for title, _ in works]
    if len(set(titles)) != len(titles):
        raise ValueError("split_works needs distinct titles, so a held-out work is one work")
    total = sum(len(text) for _, text in works)
    order = list(range(len(works)))
    random.Random(seed).shuffle(order)

    held: dict[int, str] = {}
    cursor = 0
    for split, fraction in (("test", test_fraction), ("val", val_fraction)):
        taken = 0
        while fraction > 0 and taken < fraction * total and cursor < len(order):
            held[order[cursor]] = split
            taken += len(works[order[cursor]][1])
            cursor += 1
    if cursor == len(order):
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} leave none of the "
            f"{len(works)} works for training"
        )
    parts: dict[str, list[Work]] = {"train": [], "val": [], "test": []}
    for i, work in enumerate(works):
        parts[held.get(i, "train")].append(work)
    return parts["train"], parts["val"], parts["test"]


def split_contiguous(text: S, val_fraction: float, test_fraction: float = 0.0) -> tuple[S, S, S]:
    """Cut one text (a str, list or 1-D tensor) into contiguous (train, val, test) stretches.

    Train is the first 1 - val_fraction - test_fraction of it, validation the next val_fraction
    and test the last test_fraction (lengths rounded down for val and test).
    """
    _check_fractions(val_fraction, test_fraction)
    n = len(text)
    n_val = int(n * val_fraction)
    n_test = int(n * test_fraction)
    n_train = n - n_val - n_test
    return text[:n_train], text[n_train : n_train + n_val], text[n_train + n_val :]
