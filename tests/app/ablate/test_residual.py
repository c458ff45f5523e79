"""no-residual: skip connections and post-norm against pre-norm."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_quick_run(quick) -> None:
    record, _ = quick("no-residual")
    skip, norms = record["tables"].values()
    assert [r["stack"] for r in skip] == ["with skip connections", "without"]
    assert [r["stack"] for r in norms] == [
        "post-norm, warmup 10",
        "post-norm, warmup 0",
        "pre-norm, warmup 10",
        "pre-norm, warmup 0",
    ]
    grads = record["data"]["grad_norm_per_layer"]
    assert all(len(g["first_steps"]) == 3 and min(g["first_steps"]) > 0 for g in grads.values())
