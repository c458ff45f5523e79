"""The training loop's options: precision, accumulation, early stopping, the time budget."""

import json

import pytest
import torch

from aiayn import build_model, model_preset
from aiayn.config import TrainConfig
from aiayn.tasks.toy import ReverseTask
from aiayn.training.optim import parameter_groups
from aiayn.training.trainer import Trainer

BASE = dict(
    max_steps=12,
    batch_size=16,
    lr_schedule="constant",
    lr=1e-3,
    warmup_steps=0,
    eval_every=4,
    log_every=2,
    checkpoint_every=100,
    label_smoothing=0.0,
)


def _trainer(tmp_path, name, evaluate=None, **changes):
    task = ReverseTask({"n_train": 64, "n_val": 16, "max_seq_len": 6})
    config = TrainConfig(**{**BASE, **changes})
    task.prepare(tmp_path / name, config)
    torch.manual_seed(0)
    model = build_model(
        model_preset(
            "tiny", vocab_size=task.vocab.vocab_size, d_model=32, n_heads=2, d_ff=64, max_len=64
        )
    )
    return Trainer(
        model=model,
        config=config,
        train_data=task.train_source(config),
        out_dir=tmp_path / name,
        device=torch.device("cpu"),
        d_model=32,
        evaluate=evaluate or (lambda m: task.evaluate(m, "val")),
    )


def test_bf16_autocast_on_cpu_trains(tmp_path):
    result = _trainer(tmp_path, "bf16", precision="bf16").fit()
    lines = (tmp_path / "bf16" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(x) for x in lines]
    losses = [r["train_loss"] for r in records if "train_loss" in r]
    assert result["steps"] == 12 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_weight_decay_is_decoupled_and_spares_biases_and_norms(tmp_path):
    """AdamW: with zero gradients the Adam step is zero, so one step only shrinks each weight
    matrix by lr * weight_decay; vectors (biases, LayerNorm gains) keep their values."""
    trainer = _trainer(tmp_path, "wd", weight_decay=0.5)
    before = {n: p.detach().clone() for n, p in trainer.module.named_parameters()}
    for group in trainer.optimizer.param_groups:
        group["lr"] = 0.1
    for p in trainer.module.parameters():
        p.grad = torch.zeros_like(p)
    trainer.optimizer.step()
    for name, p in trainer.module.named_parameters():
        factor = 1 - 0.1 * 0.5 if p.dim() >= 2 else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, msg=name)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_layer_lr_decay_scales_each_depth(weight_decay):
    """A 2-layer encoder classifier: the embeddings learn at decay ** 3, layer i at
    decay ** (2 - i), the pooler and classifier at the full rate; matrices still decay and
    vectors still do not."""
    model = build_model(model_preset("cls-small", vocab_size=50, pooler=True))
    named = list(model.named_parameters())
    groups = parameter_groups(named, weight_decay=weight_decay, layer_lr_decay=0.5)
    group_of = {id(p): g for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(named) == len(group_of)
    depths = set()
    for name, p in named:
        depth = 0 if name.startswith("embed.") else 3
        for i in (0, 1):
            if name.startswith(f"encoder.layers.{i}."):
                depth = i + 1
        depths.add(depth)
        assert group_of[id(p)]["lr_scale"] == 0.5 ** (3 - depth), name
        assert group_of[id(p)].get("weight_decay", weight_decay) == (
            weight_decay if p.dim() >= 2 else 0.0
        ), name
    assert depths == {0, 1, 2, 3}


def test_the_trainer_sets_each_group_to_its_share_of_the_rate(tmp_path):
    trainer = _trainer(tmp_path, "llrd", layer_lr_decay=0.5)
    assert len(trainer.optimizer.param_groups) == 3  # embeddings, layer 0, layer 1 (tiny)
    trainer.step()  # the schedule's rate (constant 1e-3) times each group's scale
    rates = sorted(g["lr"] for g in trainer.optimizer.param_groups)
    assert rates == pytest.approx([1e-3 * 0.125, 1e-3 * 0.25, 1e-3 * 0.5])
    assert trainer._schedule_lr() == pytest.approx(1e-3)  # what metrics.jsonl logs as "lr"


def test_without_layer_lr_decay_the_groups_are_as_before(tmp_path):
    assert len(_trainer(tmp_path, "one").optimizer.param_groups) == 1
    assert len(_trainer(tmp_path, "two", weight_decay=0.1).optimizer.param_groups) == 2
    with pytest.raises(ValueError, match="layer_lr_decay"):
        TrainConfig(layer_lr_decay=0.0)


def test_frozen_parameters_keep_their_values_and_the_rest_trains(tmp_path):
    trainer = _trainer(tmp_path, "frozen", freeze=r"^encoder\.layers\.0\.", max_steps=3)
    named = dict(trainer.module.named_parameters())
    frozen = {n for n in named if n.startswith("encoder.layers.0.")}
    assert frozen and trainer.frozen == sum(named[n].numel() for n in frozen)
    before = {n: p.detach().clone() for n, p in named.items()}
    trainer.fit()
    for name, p in named.items():
        moved = not torch.equal(p.detach(), before[name])
        assert moved == (name not in frozen), name
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not optimised & {id(named[n]) for n in frozen}


def test_a_freeze_pattern_that_matches_nothing_is_an_error(tmp_path):
    from aiayn.errors import AiaynError

    with pytest.raises(AiaynError, match="matches no parameter"):
        _trainer(tmp_path, "none", freeze="no_such_weight")
    with pytest.raises(ValueError, match="regular expression"):
        TrainConfig(freeze="embed[")


def test_fp16_needs_cuda(tmp_path):
    from aiayn.errors import AiaynError

    with pytest.raises(AiaynError, match="fp16 needs a CUDA device"):
        _trainer(tmp_path, "fp16", precision="fp16").fit()


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    """Two micro-batches of 16 accumulate to the same update as one batch of 32 (the loss is
    normalised by the targets of the whole step)."""
    small = _trainer(tmp_path, "accum", batch_size=16, grad_accum=2, max_steps=3, eval_every=100)
    big = _trainer(
        tmp_path,
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


def test_early_stopping(tmp_path):
    values = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    trainer = _trainer(
        tmp_path, "early", evaluate=lambda m: {"val_loss": next(values)}, early_stopping_patience=2
    )
    result = trainer.fit()
    assert result["stopped"] == "early_stopping" and result["steps"] == 12


def test_time_budget(tmp_path):
    result = _trainer(tmp_path, "budget", max_minutes=1e-9).fit()
    # the budget is checked before each step: the first one starts at 0 seconds
    assert result["stopped"] == "max_minutes" and result["steps"] == 1
    assert (tmp_path / "budget" / "model.safetensors").is_file()
