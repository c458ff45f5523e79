import math

import pytest

from aiayn.config import TrainConfig
from aiayn.training.schedules import cosine_lr, inverse_sqrt_lr, learning_rate


def test_paper_formula_at_chosen_steps():
    d, w = 512, 4000
    for step in (1, 100, 3999, 4000, 4001, 100000):
        expected = d**-0.5 * min(step**-0.5, step * w**-1.5)
        assert inverse_sqrt_lr(step, d_model=d, warmup_steps=w) == pytest.approx(expected)


def test_paper_schedule_peaks_at_warmup():
    lrs = [learning_rate(s, TrainConfig(warmup_steps=100), d_model=64) for s in range(1, 400)]
    assert max(range(len(lrs)), key=lrs.__getitem__) + 1 == 100
    assert all(a < b for a, b in zip(lrs[:99], lrs[1:100], strict=True))
    assert all(a > b for a, b in zip(lrs[100:], lrs[101:], strict=False))


def test_inverse_sqrt_with_explicit_peak():
    config = TrainConfig(warmup_steps=50, lr=1e-3)
    assert learning_rate(50, config, d_model=128) == pytest.approx(1e-3)
    assert learning_rate(200, config, d_model=128) == pytest.approx(1e-3 * math.sqrt(50 / 200))


def test_cosine_with_warmup():
    assert cosine_lr(0, peak=1.0, warmup_steps=10, max_steps=110, min_lr=0.1) < 0.2
    assert cosine_lr(10, peak=1.0, warmup_steps=10, max_steps=110, min_lr=0.1) == pytest.approx(1.0)
    assert cosine_lr(60, peak=1.0, warmup_steps=10, max_steps=110, min_lr=0.1) == pytest.approx(
        0.55
    )
    assert cosine_lr(110, peak=1.0, warmup_steps=10, max_steps=110, min_lr=0.1) == pytest.approx(
        0.1
    )


def test_bad_schedule_name():
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear-ish")
