import math

import pytest

from aiayn.config import TrainConfig
from aiayn.training.schedules import (
    cosine_lr,
    cosine_lr_over_time,
    inverse_sqrt_lr,
    learning_rate,
)


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


def test_cosine_over_time_decays_with_the_clock_not_the_step():
    rate = dict(peak=1.0, warmup_steps=10, budget=100.0, min_lr=0.1)
    # after warmup the step does not matter, only the share of the budget spent
    assert cosine_lr_over_time(50, 50.0, **rate) == pytest.approx(0.55)
    assert cosine_lr_over_time(5000, 50.0, **rate) == pytest.approx(0.55)
    assert cosine_lr_over_time(50, 100.0, **rate) == pytest.approx(0.1)
    assert cosine_lr_over_time(50, 250.0, **rate) == pytest.approx(0.1)  # past the budget
    # the warmup ramps by steps, capped by the decay: continuous where they meet
    assert cosine_lr_over_time(0, 0.0, **rate) == pytest.approx(1 / 11)
    assert cosine_lr_over_time(9, 0.0, **rate) == pytest.approx(10 / 11)
    assert cosine_lr_over_time(9, 90.0, **rate) < cosine_lr_over_time(10, 90.0, **rate) + 1e-12


def test_learning_rate_reads_the_clock_only_for_a_cosine_over_minutes():
    by_time = TrainConfig(
        lr_schedule="cosine",
        cosine_over="minutes",
        max_minutes=10.0,
        lr=1e-3,
        min_lr=0.0,
        warmup_steps=0,
        max_steps=100_000,
    )
    assert learning_rate(7, by_time, d_model=64, seconds=0.0) == pytest.approx(1e-3)
    assert learning_rate(7, by_time, d_model=64, seconds=300.0) == pytest.approx(5e-4)
    assert learning_rate(7, by_time, d_model=64, seconds=600.0) == pytest.approx(0.0)
    by_steps = by_time.replace(cosine_over="steps", max_steps=13)
    assert learning_rate(7, by_steps, d_model=64, seconds=0.0) == learning_rate(
        7, by_steps, d_model=64, seconds=599.0
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"cosine_over": "hours"},
        {"cosine_over": "minutes", "lr_schedule": "cosine"},  # no max_minutes
        {"cosine_over": "minutes", "lr_schedule": "inverse-sqrt", "max_minutes": 5.0},
    ],
)
def test_cosine_over_minutes_needs_a_cosine_and_a_budget(settings):
    with pytest.raises(ValueError, match="cosine_over"):
        TrainConfig(**settings)
