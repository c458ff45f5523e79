"""The training loop's options: precision, accumulation, early stopping, the time budget, and the
learning rate of each parameter group (the make_trainer fixture is in conftest.py)."""

import json

import pytest
import torch


@pytest.mark.slow
def test_bf16_autocast_on_cpu_trains(make_trainer, tmp_path):
    result = make_trainer("bf16", precision="bf16").fit()
    lines = (tmp_path / "bf16" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(x) for x in lines]
    losses = [r["train_loss"] for r in records if "train_loss" in r]
    assert result["steps"] == 12 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_the_trainer_sets_each_group_to_its_share_of_the_rate(make_trainer):
    trainer = make_trainer("llrd", layer_lr_decay=0.5)
    assert len(trainer.optimizer.param_groups) == 3  # embeddings, layer 0, layer 1 (tiny)
    trainer.step()  # the schedule's rate (constant 1e-3) times each group's scale
    rates = sorted(g["lr"] for g in trainer.optimizer.param_groups)
    assert rates == pytest.approx([1e-3 * 0.125, 1e-3 * 0.25, 1e-3 * 0.5])
    assert trainer._schedule_lr() == pytest.approx(1e-3)  # what metrics.jsonl logs as "lr"


def test_fp16_needs_cuda(make_trainer):
    from aiayn.errors import AiaynError

    with pytest.raises(AiaynError, match="fp16 needs a CUDA device"):
        make_trainer("fp16", precision="fp16").fit()


def test_gradient_accumulation_equals_one_big_batch(make_trainer):
    """Two micro-batches of 16 accumulate to the same update as one batch of 32 (the loss is
    normalised by the targets of the whole step)."""
    small = make_trainer("accum", batch_size=16, grad_accum=2, max_steps=3, eval_every=100)
    big = make_trainer(
        "big",
        batch_size=32,
        grad_accum=1,
        max_steps=3,
        eval_every=100,
        clip_grad_norm=None,
    )
    small.config = small.config.replace(clip_grad_norm=None)
    # Same examples per step: micro-batches (0-15, 16-31) vs one batch (0-31); no shuffling.
    small.train_data.shuffle = big.train_data.shuffle = False
    for _ in range(3):
        small.step()
        big.step()
    big_params = dict(big.module.named_parameters())
    for name, a in small.module.named_parameters():
        # The key bias has an exactly zero true gradient (softmax ignores a constant shift), so
        # Adam's normalisation turns float rounding noise into full-size steps: skip it.
        if not name.endswith("w_k.bias"):
            torch.testing.assert_close(a, big_params[name], rtol=1e-4, atol=1e-5, msg=name)


def test_early_stopping(make_trainer):
    values = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    trainer = make_trainer(
        "early", evaluate=lambda m: {"val_loss": next(values)}, early_stopping_patience=2
    )
    result = trainer.fit()
    assert result["stopped"] == "early_stopping" and result["steps"] == 12


def test_time_budget(make_trainer, tmp_path):
    result = make_trainer("budget", max_minutes=1e-9).fit()
    # the budget is checked before each step: the first one starts at 0 seconds
    assert result["stopped"] == "max_minutes" and result["steps"] == 1
    assert (tmp_path / "budget" / "model.safetensors").is_file()


def test_a_cosine_over_minutes_follows_the_training_clock(make_trainer):
    trainer = make_trainer(
        "clock",
        lr_schedule="cosine",
        cosine_over="minutes",
        max_minutes=10.0,
        lr=1e-3,
        min_lr=0.0,
        warmup_steps=0,
    )
    trainer.state.seconds = 300.0  # half the budget spent, as a resumed run would have it
    trainer.step()
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([5e-4])
    assert trainer._schedule_lr() == pytest.approx(5e-4)  # what metrics.jsonl logs as "lr"


def _poisoned(trainer, bad_calls: set[int]):
    """The trainer's loss, made NaN on the given calls (1 = the first)."""
    real, calls = trainer.loss_fn, [0]

    def loss_fn(model, batch):
        calls[0] += 1
        out = real(model, batch)
        if calls[0] in bad_calls:
            out.loss_sum = out.loss_sum * float("nan")
        return out

    trainer.loss_fn = loss_fn


def test_a_nonfinite_loss_stops_the_run_before_the_step_is_applied(make_trainer):
    from aiayn.training.nonfinite import TrainingDivergedError

    trainer = make_trainer("nan", max_steps=5, eval_every=100)
    trainer.step()
    trainer.save()
    before = {n: p.detach().clone() for n, p in trainer.module.named_parameters()}
    _poisoned(trainer, {1})  # the next call
    with pytest.raises(TrainingDivergedError) as error:
        trainer.step()
    message = str(error.value)
    assert message.startswith("step 2: the loss is nan") and "resume from step-0000001" in message
    assert "nonfinite=skip" in message and error.value.exit_code == 3
    assert trainer.state.step == 1
    for name, p in trainer.module.named_parameters():
        assert torch.equal(p.detach(), before[name]), name  # nothing of the step applied


def test_nonfinite_skip_passes_over_a_step_and_stops_at_three_in_a_row(make_trainer):
    from aiayn.training.nonfinite import TrainingDivergedError

    trainer = make_trainer("skip", max_steps=10, eval_every=100, nonfinite="skip")
    _poisoned(trainer, {2, 4, 5, 6})
    trainer.step()
    assert trainer.step() == (0.0, 0.0, 0.0) and trainer.last_step_skipped
    trainer.step()  # a good one resets the count
    assert (trainer.state.step, trainer.state.skipped, trainer.state.skipped_in_a_row) == (2, 1, 0)
    trainer.step()
    trainer.step()
    with pytest.raises(TrainingDivergedError, match=r"\(3 in a row\)"):
        trainer.step()
    assert trainer.state.step == 2 and trainer.state.skipped == 4
