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


# ----------------------------------------------------------------------- through the command line
TINY = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "n_train=64",
    "n_val=16",
    "batch_size=16",
    "checkpoint_every=2",
    "eval_every=100",
    "log_every=1",
    "lr_schedule=constant",
    "warmup_steps=0",
    "precision=fp32",
    "tensorboard=false",
    "plots=false",
]
DIVERGES = "lr=1e9"  # Adam's first step moves every weight by ~1e9: the second loss is NaN


def _train(out, *sets: str, resume: bool = False) -> int:
    from aiayn.cli import main

    argv = ["train", "reverse", "--out", str(out), "--device", "cpu"]
    argv += ["--resume"] if resume else [s for pair in TINY for s in ("--set", pair)]
    for pair in sets:
        argv += ["--set", pair]
    return main(argv)


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiayn: error: "), lines
    return lines[0]


def _losses(out) -> list[tuple[int, float]]:
    import json

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def test_a_diverging_run_exits_3_naming_the_step_and_writes_no_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, DIVERGES, "max_steps=6") == 3
    line = _one_error_line(capsys)
    assert line.startswith("aiayn: error: step 2: the loss is nan")
    assert "start again with a lower learning rate" in line  # no checkpoint to resume from
    assert not (out / "model.safetensors").exists()
    assert not list(out.glob("checkpoints/step-*"))


@pytest.mark.slow
def test_a_run_that_diverges_later_resumes_from_its_last_checkpoint_with_a_sane_rate(
    tmp_path, capsys
):
    out = tmp_path / "run"
    assert _train(out, "lr=1e-3", "max_steps=4") == 0  # steps 1-4, checkpoints 2 and 4
    final = (out / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert _train(out, DIVERGES, "max_steps=8", resume=True) == 3  # step 5 applied, 6 NaN
    line = _one_error_line(capsys)
    assert line.startswith("aiayn: error: step 6: the loss is nan")
    assert "resume from step-0000004 (--resume) with a lower learning rate" in line
    assert (out / "model.safetensors").read_bytes() == final  # not overwritten
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-0000004"
    assert _train(out, "lr=1e-3", "max_steps=8", resume=True) == 0
    losses = _losses(out)
    assert [step for step, _ in losses] == list(range(1, 9))  # step 5 again, not the bad one
    assert all(math.isfinite(loss) for _, loss in losses)
    assert (out / "model.safetensors").read_bytes() != final


def test_nonfinite_skip_through_the_cli_passes_over_two_and_stops_at_the_third(
    tmp_path, capsys, caplog
):
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="aiayn"):
        assert _train(out, DIVERGES, "max_steps=6", "nonfinite=skip") == 3
    line = _one_error_line(capsys)
    # Steps passed over change nothing: every later try is step 2 again, and as bad.
    assert line.startswith("aiayn: error: step 2: the loss is nan") and "(3 in a row)" in line
    assert caplog.text.count("step 2: the loss is nan, the gradient norm nan; passed over") == 2
    assert not (out / "model.safetensors").exists()
