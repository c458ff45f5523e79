"""A small Trainer on the reverse task, shared by the trainer and optimiser tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from aiayn import build_model, model_preset
from aiayn.config import TrainConfig
from aiayn.tasks.toy import ReverseTask
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
    precision="fp32",  # exact comparisons below; bf16 is asked for where it is tested
)


@pytest.fixture
def make_trainer(tmp_path: Path) -> Callable[..., Trainer]:
    """make_trainer(name, evaluate=None, smoothing_exclude=(), **TrainConfig changes): a Trainer
    of a 32-wide encoder-decoder on 64 reverse examples, writing into tmp_path / name."""

    def make(name: str, evaluate=None, *, smoothing_exclude=(), **changes) -> Trainer:
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
            smoothing_exclude=smoothing_exclude,
            evaluate=evaluate or (lambda m: task.evaluate(m, "val")),
        )

    return make


# A reverse run of 6 steps with a checkpoint every 2 (step-0000002, -4, -6), best.json, the
# final weights: what the damaged-checkpoint tests copy and break. Each resume asks for 2 more
# steps, so that it writes new checkpoints and leaves every intact one as it was.
CHECKPOINTED = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "n_train=64",
    "n_val=16",
    "batch_size=16",
    "max_steps=6",
    "checkpoint_every=2",
    "eval_every=2",
    "log_every=2",
    "keep_checkpoints=10",
    "precision=fp32",
    "tensorboard=false",
    "plots=false",
]


@pytest.fixture(scope="session")
def checkpointed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `reverse` run with checkpoints at steps 2, 4 and 6 (read only: copy it to change it)."""
    from aiayn.app.train import TrainRequest, train

    out = tmp_path_factory.mktemp("checkpointed") / "run"
    train(TrainRequest(task="reverse", out=out, device="cpu", sets=CHECKPOINTED))
    return out
