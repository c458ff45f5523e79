"""The guard against NaN and infinity: the gradient norm it checks, and what a bad step does."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aiayn.training.nonfinite import (
    MAX_SKIPPED_IN_A_ROW,
    TrainingDivergedError,
    gradient_norm,
    handle,
)
from aiayn.training.state import TrainState


def _layer_with_grads(values: list[float]) -> tuple[nn.Linear, torch.optim.Optimizer]:
    layer = nn.Linear(len(values), 1, bias=False)
    layer.weight.grad = torch.tensor([values])
    return layer, torch.optim.SGD(layer.parameters(), lr=0.1)


def test_the_norm_is_the_gradients_two_norm_and_clipping_keeps_it_pre_clip():
    layer, opt = _layer_with_grads([3.0, 4.0])
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    assert gradient_norm(layer.parameters(), clip=None, optimizer=opt, scaler=scaler) == 5.0
    norm = gradient_norm(layer.parameters(), clip=1.0, optimizer=opt, scaler=scaler)
    assert norm == pytest.approx(5.0)
    assert layer.weight.grad.norm() == pytest.approx(1.0)  # clipped in place


def test_a_nan_gradient_gives_a_nan_norm():
    layer, opt = _layer_with_grads([1.0, math.nan])
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    assert math.isnan(gradient_norm(layer.parameters(), clip=None, optimizer=opt, scaler=scaler))


def test_stop_raises_naming_the_step_and_where_to_resume(tmp_path):
    state = TrainState(step=41)
    with pytest.raises(TrainingDivergedError, match=r"step 42: the loss is nan.*start again"):
        handle(state, mode="stop", loss=math.nan, grad_norm=None, checkpoint_dir=tmp_path)
    assert TrainingDivergedError.exit_code == 3


def test_skip_passes_over_until_the_third_in_a_row(tmp_path):
    state = TrainState(step=5)
    for _ in range(MAX_SKIPPED_IN_A_ROW - 1):
        handle(state, mode="skip", loss=math.inf, grad_norm=1.0, checkpoint_dir=tmp_path)
    assert (state.skipped, state.skipped_in_a_row) == (2, 2)
    with pytest.raises(TrainingDivergedError, match=r"\(3 in a row\)"):
        handle(state, mode="skip", loss=math.inf, grad_norm=1.0, checkpoint_dir=tmp_path)
