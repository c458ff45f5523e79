"""TrainConfig: the paper's defaults, validation with messages, dicts, and the task recipes that
depart from the defaults saying so themselves."""

from __future__ import annotations

import pytest

from aiayn.config import TrainConfig
from aiayn.tasks import TASKS, get_task

# The measured recipe of every task clips the gradient norm at 1.0. The base TrainConfig does not
# clip (the paper does not), so each of these must say it in its own `default_train`.
CLIPPING_TASKS = {
    "copy": 1.0,
    "reverse": 1.0,
    "reverse-lm": 1.0,
    "multi30k": 1.0,
    "translation": 1.0,
    "summarization": 1.0,
    "dialogsum": 1.0,
    "cnn-dailymail": 1.0,
    "classification": 1.0,
    "sst2": 1.0,
    "shakespeare": 1.0,
    "tinyshakespeare-char": 1.0,
}


def test_train_config_defaults_are_the_papers() -> None:
    t = TrainConfig()
    assert (t.beta1, t.beta2, t.eps, t.warmup_steps, t.label_smoothing) == (
        0.9,
        0.98,
        1e-9,
        4000,
        0.1,
    )
    assert t.lr_schedule == "inverse-sqrt"
    # The paper does not clip gradients, and smooths over the tokens a model can be asked for.
    assert t.clip_grad_norm is None
    assert t.smooth_over_specials is False


def test_the_clipping_table_covers_every_task() -> None:
    assert set(CLIPPING_TASKS) == set(TASKS)


# Every task's recipe; sst2 has a second one, for fine-tuning a pretrained encoder.
RECIPES = [(name, {}) for name in sorted(CLIPPING_TASKS)] + [("sst2", {"init": "minilm"})]


@pytest.mark.parametrize(("name", "options"), RECIPES)
def test_a_task_that_clips_says_so_in_its_own_recipe(name: str, options: dict) -> None:
    recipe = get_task(name, options).default_train
    assert recipe.get("clip_grad_norm") == CLIPPING_TASKS[name], name
    assert TrainConfig.from_dict(recipe).clip_grad_norm == CLIPPING_TASKS[name]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"lr_schedule": "step"}, "lr_schedule.*'step'"),
        ({"precision": "fp8"}, "precision.*'fp8'"),
        ({"max_steps": 0}, "max_steps.*0"),
        ({"grad_accum": -1}, "grad_accum.*-1"),
        ({"warmup_steps": -1}, "warmup_steps.*-1"),
        ({"label_smoothing": 1.0}, "label_smoothing.*1.0"),
        ({"keep_checkpoints": 0}, "keep_checkpoints.*0"),
        ({"max_epochs": 0}, "max_epochs.*0"),
        ({"batch_size": 0}, "batch_size.*0"),
        ({"max_minutes": 0.0}, "max_minutes.*0.0"),
        ({"lr": 0.0}, "lr.*0.0"),
        ({"lr_scale": -1.0}, "lr_scale.*-1.0"),
        ({"min_lr": -1e-5}, "min_lr.*-1e-05"),
        ({"beta1": 1.0}, "beta1.*1.0"),
        ({"beta2": -0.1}, "beta2.*-0.1"),
        ({"eps": 0.0}, "eps.*0.0"),
        ({"weight_decay": -0.1}, "weight_decay.*-0.1"),
        ({"layer_lr_decay": 1.5}, "layer_lr_decay.*1.5"),
        ({"clip_grad_norm": 0.0}, "clip_grad_norm.*0.0"),
        ({"freeze": "embed["}, "freeze.*regular expression"),
        ({"device": ""}, "device"),
        ({"early_stopping_patience": 0}, "early_stopping_patience.*0"),
    ],
)
def test_bad_train_config_names_the_value(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes)


def test_dict_round_trip_and_unknown_keys() -> None:
    t = TrainConfig(max_steps=7)
    assert TrainConfig.from_dict(t.to_dict()) == t
    with pytest.raises(ValueError, match="stepz"):
        TrainConfig.from_dict({"stepz": 3})
