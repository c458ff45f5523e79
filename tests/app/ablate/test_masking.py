"""no-causal-mask: the leak, on a character LM and on reverse-lm."""

from __future__ import annotations

import pytest

from aiayn.app.ablate._common import Settings
from aiayn.app.ablate.masking import reverse_lm


@pytest.mark.slow
def test_without_the_mask_the_random_first_half_is_predicted() -> None:
    """The first half of reverse-lm is random: only a model that sees the future beats chance
    (0.1) by much there, and it learns that within a couple of hundred steps."""
    s = Settings(quick=True, seeds=1)
    leaky = reverse_lm(s, causal=False, seed=0, steps=200)
    masked = reverse_lm(s, causal=True, seed=0, steps=200)
    assert leaky["first_half"] > 0.1 + 0.05 > masked["first_half"]


@pytest.mark.slow
def test_quick_run(quick) -> None:
    record, _ = quick("no-causal-mask")
    lm, samples, halves = record["tables"].values()
    assert [r["decoder"] for r in lm] == ["causal mask (the paper)", "no mask"]
    assert all(r["sample"] for r in samples) and len(halves) == 2
